/**
 * The flood scenarios of the abuse bench: a healthy pair of a room, on the two isolates of a
 * `deno serve --parallel` server, exchanges small signals at a steady rate while flooding pairs
 * (senders on the healthy sender's isolate, targets on the other one) send signals of the
 * largest size (32 KiB payload) across the same two isolates. Measured: the healthy signals'
 * latency and losses, what became of every flood signal (delivered, refused by code, neither),
 * and the server's memory.
 */
import { CONFIG_DEFAULTS, MAX_PAYLOAD_BYTES, RATE_LIMIT } from "../signaling/limits.ts";
import { clientMessage } from "../signaling/protocol.ts";
import { newRoomId } from "../signaling/room_id.ts";
import {
  addCounts,
  addressPool,
  type BenchSocket,
  count,
  type Counts,
  joinPlaced,
  leaveAll,
  placePairs,
} from "./abuse_client.ts";
import type { FloodResult } from "./abuse_results.ts";
import { cpuMeter, loadAverage } from "./cpu_use.ts";
import { RssSampler, treeRssKiB } from "./process_rss.ts";
import { CANDIDATE } from "./signaling_peer.ts";
import { startSignalingServer } from "./signaling_server.ts";
import { summarize } from "./stats.ts";
import { sleep, waitFor } from "./wait.ts";

/** One scenario: how many flooding pairs, from how many addresses, how fast. */
export interface FloodPlan {
  name: string;
  label: string;
  pairs: number;
  /** All flood sockets from one client address (else one address each). */
  oneAddress: boolean;
  /** Signals per second per sender, and how many at once at the start. */
  ratePerS: number;
  burst: number;
  /** Server settings of this scenario on top of `ABUSE_SERVER_ENV`. */
  env?: Record<string, string>;
}

/** The server every scenario runs against, fresh each time. */
export const ABUSE_SERVER_ENV: Record<string, string> = {
  // Bench clients never report WebRTC links; without this they would be evicted after 20 s.
  MOOZ_LINK_DEADLINE_MS: String(10 * 60_000),
  // One trusted proxy: each bench socket names its client address in X-Forwarded-For.
  MOOZ_TRUST_PROXY: "1",
};

/** The healthy pair: a small signal (an ICE candidate) every 50 ms, like a renegotiation. */
const HEALTHY_EVERY_MS = 50;
/** A client sending faster than this much stuck in its own socket cannot get more out anyway. */
const MAX_CLIENT_BUFFERED = 1 << 20;
/** After the window, for the signals still in flight to arrive or be refused. */
const DRAIN_MS = 15_000;
/** Before the window: the healthy pair runs alone, so its first signals are not the measure. */
const WARMUP_MS = 1_000;
/** The flood's opening burst (a whole token bucket per sender) is over within this. */
const BURST_MS = 1_000;

/** A payload of exactly the largest size: a JSON string of 32 KiB. */
const MAX_PAYLOAD = "x".repeat(MAX_PAYLOAD_BYTES - 2);
/** Refusals that answer one signal each. */
const PER_SIGNAL = ["relay-busy", "relay-failed", "unknown-peer"];

const refusedOne = (errors: Counts) => PER_SIGNAL.reduce((n, code) => n + (errors[code] ?? 0), 0);

/** Runs one scenario against a fresh `--parallel` server (2 isolates). */
export async function runFlood(
  root: URL,
  plan: FloodPlan,
  windowS: number,
  log: (line: string) => void,
): Promise<FloodResult> {
  const load = await loadAverage();
  const env = { ...ABUSE_SERVER_ENV, ...plan.env };
  const server = await startSignalingServer(root, { parallel: true, jobs: 2, env });
  const onSigint = () => void server.stop().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSigint);
  const kv = await Deno.openKv(server.kvPath);
  const sockets: BenchSocket[] = [];
  const setupRefusals: Counts = {};
  try {
    // The healthy pair: its sender's isolate is where the flood comes from.
    const room = newRoomId();
    const h1 = await joinPlaced(server.origin, kv, room, () => "192.0.2.1", null, setupRefusals);
    if (!h1) throw new Error(`the healthy sender could not join: ${JSON.stringify(setupRefusals)}`);
    sockets.push(h1.socket);
    const h2 = await joinPlaced(
      server.origin,
      kv,
      room,
      () => "192.0.2.2",
      { not: h1.isolate },
      setupRefusals,
    );
    if (!h2) {
      throw new Error(`no healthy receiver on the other isolate: ${JSON.stringify(setupRefusals)}`);
    }
    sockets.push(h2.socket);

    const pool = addressPool();
    const attacker = pool();
    const address = plan.oneAddress ? () => attacker : pool;
    const pairs = await placePairs(
      server.origin,
      kv,
      plan.pairs,
      h1.isolate,
      address,
      setupRefusals,
      newRoomId,
    );
    for (const p of pairs) sockets.push(p.sender, p.target);
    const addresses = new Set(pairs.flatMap((p) => [p.sender.address, p.target.address])).size;
    log(
      `\n[abuse: ${plan.label}] ${pairs.length} of ${plan.pairs} flooding pairs placed across ` +
        `isolates from ${addresses} address(es); setup refusals: ${JSON.stringify(setupRefusals)}`,
    );

    // The healthy pair's signals: latency of those sent inside the window.
    const healthy = {
      sent: 0,
      windowSent: 0,
      latencies: [] as number[],
      /** Of the signals sent after the flood's first second (its opening burst). */
      steady: [] as number[],
      delivered: 0,
    };
    let window = { from: Infinity, to: Infinity };
    h2.socket.onSignal = (payload, at) => {
      const { t } = payload as { t: number };
      if (t >= window.from && t <= window.to) {
        healthy.delivered++;
        healthy.latencies.push(at - t);
        if (t >= window.from + BURST_MS) healthy.steady.push(at - t);
      }
    };
    const healthyTimer = setInterval(() => {
      const t = performance.now();
      const text = clientMessage({
        type: "signal",
        to: h2.socket.peer,
        payload: { t, c: CANDIDATE },
      });
      if (!h1.socket.send(text)) return;
      healthy.sent++;
      if (t >= window.from && t <= window.to) healthy.windowSent++;
    }, HEALTHY_EVERY_MS);

    await sleep(WARMUP_MS);
    const errorsBefore = { ...h1.socket.errors };
    const rss = new RssSampler(server.pid);
    const before = await rss.start();
    const stopCpu = await cpuMeter(server);

    // The flood: each sender a token bucket of its own, like the server's per-socket limit.
    const frames = pairs.map((p) =>
      clientMessage({ type: "signal", to: p.target.peer, payload: MAX_PAYLOAD })
    );
    const credit = pairs.map(() => plan.burst);
    const sent = pairs.map(() => 0);
    const start = performance.now();
    window = { from: start, to: start + windowS * 1000 };
    let last = start;
    const tick = () => {
      const now = performance.now();
      const gained = (now - last) / 1000 * plan.ratePerS;
      last = now;
      pairs.forEach((p, i) => {
        credit[i] = Math.min(Math.max(plan.burst, 2), credit[i] + gained);
        while (credit[i] >= 1 && p.sender.ws.bufferedAmount < MAX_CLIENT_BUFFERED) {
          if (!p.sender.send(frames[i])) break;
          credit[i]--;
          sent[i]++;
        }
      });
    };
    tick();
    const floodTimer = setInterval(tick, 10);
    await sleep(window.to - performance.now());
    clearInterval(floodTimer);
    clearInterval(healthyTimer);
    const cpu = await stopCpu();

    // Drain: every flood signal delivered or refused, every healthy one delivered or refused.
    const floodSent = () => sent.reduce((a, b) => a + b, 0);
    const floodDelivered = () => pairs.reduce((n, p) => n + p.target.signals, 0);
    const floodRefused = () => pairs.reduce((n, p) => n + refusedOne(p.sender.errors), 0);
    const healthyErrors = () => diff(h1.socket.errors, errorsBefore);
    await waitFor(
      () =>
        floodDelivered() + floodRefused() >= floodSent() &&
        healthy.delivered + refusedOne(healthyErrors()) >= healthy.windowSent,
      DRAIN_MS,
    );
    await sleep(1_000);
    const peak = await rss.stop();
    const after = await treeRssKiB(server.pid);
    const metrics = await server.metrics();

    const refused = addCounts(...pairs.map((p) => p.sender.errors));
    const closed: Counts = {};
    for (const p of pairs) {
      for (const s of [p.sender, p.target]) {
        if (s.closeCode !== null) count(closed, String(s.closeCode));
      }
    }
    const frameBytes = frames[0]?.length ?? 0;
    const result: FloodResult = {
      name: plan.name,
      label: plan.label,
      windowS,
      loadAverage: load,
      busMaxQueuedBytes: Number(
        env.MOOZ_BUS_MAX_QUEUED_BYTES ?? CONFIG_DEFAULTS.busMaxQueuedBytes,
      ),
      flood: {
        pairsWanted: plan.pairs,
        pairs: pairs.length,
        addresses,
        ratePerS: plan.ratePerS,
        burst: plan.burst,
        sent: floodSent(),
        delivered: floodDelivered(),
        refused,
        unaccounted: floodSent() - floodDelivered() - floodRefused(),
        closed,
        offeredMiBps: floodSent() * frameBytes / windowS / 2 ** 20,
        deliveredMiBps: floodDelivered() * frameBytes / windowS / 2 ** 20,
      },
      healthy: {
        sent: healthy.windowSent,
        delivered: healthy.delivered,
        refused: healthyErrors(),
        unaccounted: healthy.windowSent - healthy.delivered - refusedOne(healthyErrors()),
        latencyMs: summarize(healthy.latencies),
        steadyLatencyMs: summarize(healthy.steady),
      },
      setupRefusals,
      rssKiB: { before, peak, after },
      cpu,
      server: metrics,
    };
    const l = result.healthy.latencyMs;
    log(
      `  flood: sent ${result.flood.sent}, delivered ${result.flood.delivered}, refused ` +
        `${JSON.stringify(refused)}, unaccounted ${result.flood.unaccounted}, closed ` +
        `${JSON.stringify(closed)} (${result.flood.offeredMiBps.toFixed(1)} MiB/s offered, ` +
        `${result.flood.deliveredMiBps.toFixed(1)} delivered)`,
    );
    log(
      `  healthy pair: ${result.healthy.delivered} of ${result.healthy.sent} delivered, refused ` +
        `${JSON.stringify(result.healthy.refused)}; latency p50 ${l.median} ms, p99 ${l.p99} ms, ` +
        `max ${l.max} ms; after the first second p50 ${result.healthy.steadyLatencyMs.median} ms, ` +
        `p99 ${result.healthy.steadyLatencyMs.p99} ms`,
    );
    log(
      `  server RSS ${Math.round(before / 1024)} → peak ${Math.round(peak / 1024)} → ` +
        `${Math.round(after / 1024)} MiB; CPU server ${cpu.server}%, bench ${cpu.bench}%, ` +
        `other ${cpu.other}%; rejected ${JSON.stringify(metrics.rejected)}`,
    );
    return result;
  } catch (err) {
    log(`  server log:\n${server.log()}`);
    throw err;
  } finally {
    await leaveAll(sockets);
    kv.close();
    await server.stop();
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

/** `now` minus `before`, per code (only codes that grew). */
function diff(now: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(now)) if (v > (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

/** The scenarios: none, one sender within its limits, many past them (one address, many). */
export function floodPlans(quick: boolean): FloodPlan[] {
  const many = quick ? 8 : 24;
  // As fast as the server's per-socket limit lets a socket send: faster only gets frames
  // dropped and the socket closed (1008), which ends the flood sooner.
  const atLimit = { ratePerS: RATE_LIMIT.refillPerSecond - 2, burst: RATE_LIMIT.burst - 5 };
  return [
    { name: "baseline", label: "no flood", pairs: 0, oneAddress: false, ratePerS: 0, burst: 0 },
    {
      name: "within",
      label: "1 socket floods 32 KiB signals at 45/s (within its limits)",
      pairs: 1,
      oneAddress: false,
      ratePerS: 45,
      burst: 1,
    },
    {
      name: "one-address",
      label: `${many} senders from one address flood 32 KiB signals at their limit`,
      pairs: many,
      oneAddress: true,
      ...atLimit,
    },
    {
      name: "many-addresses",
      label: `${many} senders, each from its own address, flood 32 KiB signals at their limit`,
      pairs: many,
      oneAddress: false,
      ...atLimit,
    },
    {
      // What backpressure is for: the same flood with the bus's cap out of the way.
      name: "many-addresses-uncapped",
      label: `the same, bus cap lifted (MOOZ_BUS_MAX_QUEUED_BYTES=1 GiB)`,
      pairs: many,
      oneAddress: false,
      ...atLimit,
      env: { MOOZ_BUS_MAX_QUEUED_BYTES: String(2 ** 30) },
    },
  ];
}
