/**
 * The bus between two isolates of one process, over each of its paths: through KV (inbox writes,
 * doorbell watch, inbox reads: what isolates of different processes use) and over the channel
 * between isolates of one process (bus_local.ts). The far isolate is a Worker, which shares
 * Deno's channel and a local KV file exactly as the isolates of `deno serve --parallel` do.
 *
 * - Latency: one signal there and its echo back, one at a time (round trip; one way is about
 *   half).
 * - Throughput: a flood of ICE-candidate-sized signals (about 270 bytes as JSON), sent in turns
 *   of `BURST`, until the far end has counted them all; and one of signals of the largest size
 *   (32 KiB), which the channel hands to KV (bus_local.ts, "Bulk").
 *
 * Run: `deno run -A bench/bus_paths.ts [--quick]`. Not part of `deno task bench`.
 */
import { Bus, type BusMessage, type BusStats } from "../signaling/bus.ts";
import type { JsonValue } from "../signaling/protocol.ts";
import type { BenchCommand } from "./bus_paths_worker.ts";
import { int, ms, summarize, type Summary } from "./stats.ts";

const quick = Deno.args.includes("--quick");
const PINGS = quick ? 100 : 1_000;
const WARMUP = 50;
const FLOOD = quick ? 5_000 : 50_000;
const BURST = 200;
const LARGE_FLOOD = quick ? 200 : 1_000;
const LARGE_BURST = 8;
const LARGE_PAD = "x".repeat(32 * 1024 - 300);
const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const CANDIDATE = "candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr " +
  "192.168.1.7 rport 54321 generation 0 ufrag Xk3f network-cost 999";

interface PathResult {
  path: string;
  roundTrip: Summary;
  perSecond: number;
  floodMs: number;
  largeMBps: number;
  here: BusStats;
  there: BusStats;
}

/** Answers from the worker, in order. */
class Far {
  readonly worker = new Worker(new URL("./bus_paths_worker.ts", import.meta.url), {
    type: "module",
  });
  readonly #waiting: ((data: { type: string; stats?: BusStats }) => void)[] = [];
  constructor() {
    this.worker.onmessage = (e) => this.#waiting.shift()?.(e.data);
  }
  next(): Promise<{ type: string; stats?: BusStats }> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  async ask(command: BenchCommand): Promise<{ type: string; stats?: BusStats }> {
    const answer = this.next();
    this.worker.postMessage(command);
    return await answer;
  }
}

function signal(payload: { [key: string]: JsonValue }): BusMessage {
  return { kind: "signal", room: ROOM, from: "AAAAAAAAAAAAAAAA", to: "BBBBBBBBBBBBBBBB", payload };
}

async function measure(local: boolean): Promise<PathResult> {
  const dir = await Deno.makeTempDir({ prefix: "mooz_bus_bench_" });
  const kvPath = `${dir}/kv.sqlite`;
  const kv = await Deno.openKv(kvPath);
  let pong: (() => void) | null = null;
  const bus = new Bus({
    kv,
    isolate: "iso-here",
    pollMs: 1_000,
    local,
    onMessage: () => pong?.(),
  });
  bus.start();
  const far = new Far();
  try {
    await far.ask({ type: "start", kvPath, isolate: "iso-far", peer: "iso-here", local });
    if (local) {
      const deadline = Date.now() + 10_000;
      while (!bus.localPeers.includes("iso-far")) {
        if (Date.now() > deadline) throw new Error("the isolates did not find each other");
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + PINGS; i++) {
      const back = new Promise<void>((resolve) => (pong = resolve));
      const start = performance.now();
      bus.send("iso-far", signal({ ping: i, candidate: CANDIDATE }));
      await back;
      if (i >= WARMUP) samples.push(performance.now() - start);
    }
    pong = null;

    await far.ask({ type: "expect", count: FLOOD });
    const done = far.next();
    const start = performance.now();
    for (let n = 0; n < FLOOD; n++) {
      bus.send("iso-far", signal({ n, candidate: CANDIDATE }));
      if (n % BURST === BURST - 1) await new Promise((r) => setTimeout(r, 0));
    }
    const { stats: there } = await done;
    const floodMs = performance.now() - start;
    await bus.settle();

    await far.ask({ type: "expect", count: LARGE_FLOOD });
    const largeDone = far.next();
    const largeStart = performance.now();
    let largeBytes = 0;
    for (let n = 0; n < LARGE_FLOOD; n++) {
      const message = signal({ n, pad: LARGE_PAD });
      largeBytes += JSON.stringify(message).length;
      bus.send("iso-far", message);
      if (n % LARGE_BURST === LARGE_BURST - 1) await new Promise((r) => setTimeout(r, 0));
    }
    await largeDone;
    const largeMBps = largeBytes / 1e6 / ((performance.now() - largeStart) / 1_000);
    await bus.settle();
    return {
      path: local ? "channel" : "KV",
      roundTrip: summarize(samples),
      perSecond: FLOOD / (floodMs / 1_000),
      floodMs,
      largeMBps,
      here: { ...bus.stats },
      there: there!,
    };
  } finally {
    await far.ask({ type: "stop" });
    far.worker.terminate();
    await bus.stop();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const results: PathResult[] = [];
for (const local of [false, true]) results.push(await measure(local));

console.log(
  `Bus between two isolates of one process (${PINGS} round trips one at a time; ` +
    `${int(FLOOD)} signals of ~${
      JSON.stringify(signal({ n: 0, candidate: CANDIDATE })).length
    } B ` +
    `in turns of ${BURST}; ${LARGE_FLOOD} signals of 32 KiB in turns of ${LARGE_BURST}):\n`,
);
console.log(
  "| Path | Round trip p50 | p90 | p99 | max | Flood: messages/s | Flood of 32 KiB signals | " +
    "KV writes | Batches (inbox writes) | Resent |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of results) {
  const batches = r.path === "KV"
    ? `${int(r.here.batches)}`
    : `${int(r.here.localBatches)} (${int(r.here.localBulk)})`;
  console.log(
    `| ${r.path} | ${ms(r.roundTrip.median)} | ${ms(r.roundTrip.p90)} | ${ms(r.roundTrip.p99)} | ` +
      `${ms(r.roundTrip.max)} | ${int(r.perSecond)} (${int(r.floodMs)} ms) | ` +
      `${r.largeMBps.toFixed(1)} MB/s | ${int(r.here.writes + r.there.writes)} | ${batches} | ` +
      `${int(r.here.resent)} |`,
  );
}
