/**
 * The real signaling server for the signaling bench: `deno serve main.ts` (optionally
 * `--parallel`) as a subprocess on 127.0.0.1, with its rooms in a fresh temporary KV file that is
 * deleted afterwards, plus readers for its memory (/proc VmRSS), CPU time (/proc stat) and
 * `/metrics`. Separate from server.ts because this one needs env, `--parallel` and /proc access.
 */
import { spawnChild } from "./child.ts";
import { serveV8FlagsArg } from "../framework/v8_flags.ts";

export interface SignalingServer {
  origin: string;
  /** WebSocket URL of a room. */
  wsUrl(room: string): string;
  pid: number;
  /** The sqlite file of its rooms (every isolate's KV), for benches that look up members. */
  kvPath: string;
  /** Server isolates: 1, or DENO_JOBS with --parallel. */
  isolates: number;
  /** Resident memory of the whole server process (every isolate), in KiB. */
  rssKiB(): Promise<number>;
  /** CPU time (user + system, every thread) the server process has used so far, in ms. */
  cpuMs(): Promise<number>;
  /** `/metrics` with every isolate's counters fresh (see `scrapeMetrics`). */
  metrics(): Promise<ServerMetrics>;
  /** The last few KiB of the server's stderr (for error reports). */
  log(): string;
  /** SIGTERM, then SIGKILL after 2 s; deletes the KV directory. Idempotent. */
  stop(): Promise<void>;
}

export interface ServerMetrics {
  /** Signals relayed by path, summed over isolates: `local` (same isolate) or `bus` (between isolates: a BroadcastChannel or KV). */
  relayed: Record<string, number>;
  /** Open sockets per isolate. */
  connections: number[];
  /** Rejected inputs by code, summed over isolates (rate-limited, slow-consumer, ...). */
  rejected: Record<string, number>;
  /** V8 heap in use, summed over isolates (bytes). */
  heapUsedBytes: number;
}

export interface SignalingServerOptions {
  parallel: boolean;
  /** Module to serve; default `main.ts` (the app). */
  entry?: string;
  /** Isolates with --parallel (DENO_JOBS). */
  jobs?: number;
  /** Extra MOOZ_* settings. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** A port that was free a moment ago (the OS picks it; the tiny race is acceptable here). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux). */
async function clkTck(): Promise<number> {
  if (clockTicks === undefined) {
    try {
      const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" }).output();
      clockTicks = Number(new TextDecoder().decode(out.stdout).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU time of a process (all its threads), in ms, from /proc/<pid>/stat. */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name (field 2) may contain spaces; fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the file, 12th and 13th after the name.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / await clkTck();
}

/**
 * CPU time every process on the machine has used since boot, in ms (all cores, from /proc/stat):
 * minus the server's and the bench's own, what other work took while a phase was measured.
 */
export async function machineCpuMs(): Promise<number> {
  const stat = await Deno.readTextFile("/proc/stat");
  // cpu  user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
  const [user, nice, system, , , irq, softirq, steal] = stat.split("\n")[0].trim().split(/\s+/)
    .slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal || 0)) * 1000 / await clkTck();
}

/** Resident set size of a process in KiB (VmRSS of /proc/<pid>/status). */
export async function processRssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** Soft limit on open files of this process (each bench socket takes one here and one in the server). */
export async function openFileLimit(): Promise<number> {
  const limits = await Deno.readTextFile("/proc/self/limits").catch(() => "");
  const soft = limits.match(/^Max open files\s+(\S+)/m)?.[1];
  return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
}

/** One request on a fresh connection, so that with --parallel it may land on another isolate. */
async function getFresh(url: string): Promise<{ status: number; text: string }[]> {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 1 });
  try {
    // /healthz says which isolate holds this connection; the next request on the same
    // keep-alive connection goes to the same isolate.
    const out = [];
    for (const path of ["/healthz", url]) {
      const res = await fetch(new URL(path, url), {
        client,
        signal: AbortSignal.timeout(5_000),
      });
      out.push({ status: res.status, text: await res.text() });
    }
    return out;
  } finally {
    client.close();
  }
}

/**
 * Each isolate publishes its counters to KV on its heartbeat (5 s) and whenever it answers
 * /metrics, so one scrape shows the answering isolate fresh and the others up to 5 s stale. Scraping
 * on fresh connections until every isolate has answered makes the last scrape fresh for all.
 */
async function scrapeMetrics(origin: string, isolates: number): Promise<ServerMetrics> {
  const seen = new Set<string>();
  let text = "";
  for (let attempt = 0; attempt < 40 && seen.size < isolates; attempt++) {
    const [health, metrics] = await getFresh(`${origin}/metrics`);
    if (health.status !== 200 || metrics.status !== 200) continue;
    seen.add(JSON.parse(health.text).isolate);
    text = metrics.text;
  }
  const result: ServerMetrics = { relayed: {}, connections: [], rejected: {}, heapUsedBytes: 0 };
  for (const line of text.split("\n")) {
    const m = line.match(/^(\w+)\{([^}]*)\} (\S+)$/);
    if (!m) continue;
    const [, name, labels, value] = m;
    const n = Number(value);
    if (name === "mooz_isolate_connections") result.connections.push(n);
    if (name === "mooz_isolate_heap_used_bytes") result.heapUsedBytes += n;
    const key = labels.match(/(?:path|code)="([^"]*)"/)?.[1];
    if (key === undefined) continue;
    if (name === "mooz_messages_relayed_total") {
      result.relayed[key] = (result.relayed[key] ?? 0) + n;
    }
    if (name === "mooz_inputs_rejected_total") {
      result.rejected[key] = (result.rejected[key] ?? 0) + n;
    }
  }
  return result;
}

export async function startSignalingServer(
  root: URL,
  opts: SignalingServerOptions,
): Promise<SignalingServer> {
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const jobs = opts.parallel ? opts.jobs ?? 2 : 1;
  // A fresh store per run: earlier rooms would change join costs, and nothing outlives the bench.
  const kvDir = await Deno.makeTempDir({ prefix: "mooz-bench-kv-" });
  const kvPath = `${kvDir}/rooms.sqlite`;
  const child = spawnChild(Deno.execPath(), {
    args: [
      "serve",
      "--allow-all",
      `--port=${port}`,
      "--host=127.0.0.1",
      // The V8 flags of `deno task start`, so the bench measures what production runs.
      serveV8FlagsArg(),
      ...(opts.parallel ? ["--parallel"] : []),
      opts.entry ?? "main.ts",
    ],
    cwd: root,
    env: { MOOZ_KV: kvPath, DENO_JOBS: String(jobs), ...opts.env },
    graceMs: 2_000,
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await child.stop();
      await Deno.remove(kvDir, { recursive: true }).catch(() => {});
    })();

  try {
    // Ready when /healthz answers: the hub exists and its KV file is open. With --parallel, probe
    // on fresh connections until every isolate has answered, so each has created its hub before
    // the baseline memory reading.
    const deadline = performance.now() + (opts.timeoutMs ?? 30_000);
    const ready = new Set<string>();
    while (ready.size < jobs) {
      if (child.exited()) throw new Error(`server exited during startup:\n${child.tail()}`);
      if (performance.now() > deadline) {
        throw new Error(`server did not answer on every isolate in time:\n${child.tail()}`);
      }
      try {
        const [health] = await getFresh(`${origin}/healthz`);
        if (health.status === 200) ready.add(JSON.parse(health.text).isolate);
        else await new Promise((resolve) => setTimeout(resolve, 100));
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100)); // not listening yet
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    origin,
    wsUrl: (room) => `ws://127.0.0.1:${port}/api/rooms/${room}/ws`,
    pid: child.pid,
    kvPath,
    isolates: jobs,
    rssKiB: () => processRssKiB(child.pid),
    cpuMs: () => processCpuMs(child.pid),
    metrics: () => scrapeMetrics(origin, jobs),
    log: child.tail,
    stop,
  };
}
