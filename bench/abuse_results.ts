/**
 * What the abuse bench measures, as written to .bench/results.json (`abuse`), and the Markdown
 * tables for the README.
 */
import type { Counts } from "./abuse_client.ts";
import type { CpuUse } from "./cpu_use.ts";
import type { ServerMetrics } from "./signaling_server.ts";
import { int, type Summary } from "./stats.ts";

/** Memory of the server process (and any children) around a phase, in KiB. */
export interface RssReading {
  before: number;
  peak: number;
  /** After the phase and its drain (and a short settle), sockets closed or idle. */
  after: number;
}

/** One flood scenario: a healthy pair's signals while others flood (or not: the baseline). */
export interface FloodResult {
  name: string;
  label: string;
  windowS: number;
  loadAverage: number;
  /** The server's bus budget (MOOZ_BUS_MAX_QUEUED_BYTES) in this run. */
  busMaxQueuedBytes: number;
  flood: {
    /** Pairs asked for and placed (sender on the healthy sender's isolate, target on the other). */
    pairsWanted: number;
    pairs: number;
    /** Distinct client addresses the flood came from. */
    addresses: number;
    /** Signals each sender sends at most per second, and at once at the start. */
    ratePerS: number;
    burst: number;
    sent: number;
    delivered: number;
    /** Error frames the senders got, by code (relay-busy: refused by the bus). */
    refused: Counts;
    /** Sent, neither delivered nor refused one by one (rate-limited drops are told once a second). */
    unaccounted: number;
    /** Flood sockets the server closed, by close code. */
    closed: Counts;
    offeredMiBps: number;
    deliveredMiBps: number;
  };
  healthy: {
    sent: number;
    delivered: number;
    refused: Counts;
    unaccounted: number;
    /** Send -> receive of the healthy pair's signals sent in the window. */
    latencyMs: Summary;
    /** The same, of those sent after the window's first second (the flood's opening burst). */
    steadyLatencyMs: Summary;
  };
  /** Refusals while placing the sockets (per-address limits), by code. */
  setupRefusals: Counts;
  rssKiB: RssReading;
  cpu: CpuUse;
  /** Cumulative over the run (a fresh server per scenario). */
  server: ServerMetrics;
}

/** One burst of large frames and the server's memory through it. */
export interface FrameBurstResult {
  label: string;
  sockets: number;
  frameBytes: number;
  framesEach: number;
  /** Whether the sockets had joined (and signal a peer on the other isolate). */
  joined: boolean;
  /** From the first frame sent until every socket was answered (closed, or all accounted). */
  durationMs: number;
  rssKiB: RssReading;
  /** Close codes of the sockets, and error frames by code. */
  closes: Counts;
  errors: Counts;
  /** Joined bursts: signals delivered to the targets. */
  delivered: number;
  setupRefusals: Counts;
}

/** The whole abuse bench. */
export interface AbuseReport {
  quick: boolean;
  flood: FloodResult[];
  frames: FrameBurstResult[];
}

/** Counts as "code n, code n", or "none". */
export function describeCounts(counts: Counts): string {
  return Object.entries(counts).map(([k, v]) => `${k} ${int(v)}`).join(", ") || "none";
}

const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
const msText = (x: number) => (x >= 100 ? `${int(x)} ms` : `${x.toFixed(1)} ms`);

/** The README's tables: the healthy pair under each flood, and memory under large frames. */
export function abuseTable(report: AbuseReport): string {
  const lines = [
    "| Healthy pair across isolates while … | Flood offered → delivered | Flood refused: " +
    "relay-busy / rate limits | Healthy p50 / p99 / max | Healthy p99 after 1 s | " +
    "Healthy lost or refused | Server RSS before → peak → after |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of report.flood) {
    const f = r.flood;
    const flood = f.pairs === 0
      ? "none"
      : `${f.offeredMiBps.toFixed(1)} → ${f.deliveredMiBps.toFixed(1)} MiB/s`;
    // The server's counts: a rate-limited frame is dropped one by one but told once a second.
    const rejected = r.server.rejected;
    const refused = f.pairs === 0
      ? "—"
      : `${int(rejected["relay-busy"] ?? 0)} / ${int(rejected["rate-limited"] ?? 0)}`;
    const h = r.healthy;
    const healthyLost = h.unaccounted + Object.values(h.refused).reduce((a, b) => a + b, 0);
    lines.push(
      `| ${r.label} | ${flood} | ${refused} | ${msText(h.latencyMs.median)} / ${
        msText(h.latencyMs.p99)
      } / ${msText(h.latencyMs.max)} | ${
        msText(h.steadyLatencyMs.p99)
      } | ${healthyLost} of ${h.sent} | ${mib(r.rssKiB.before)} → ${mib(r.rssKiB.peak)} → ${
        mib(r.rssKiB.after)
      } |`,
    );
  }
  lines.push(
    "",
    "| Burst of frames | Answer | Server RSS before → peak → after |",
    "| --- | --- | --- |",
  );
  for (const b of report.frames) {
    const answer = b.joined
      ? `${int(b.delivered)} delivered; ${describeCounts(b.errors)}`
      : `closed: ${describeCounts(b.closes)}`;
    lines.push(
      `| ${b.label} | ${answer} (${msText(b.durationMs)}) | ${mib(b.rssKiB.before)} → ${
        mib(b.rssKiB.peak)
      } → ${mib(b.rssKiB.after)} |`,
    );
  }
  return lines.join("\n");
}
