/**
 * The measured phases of one signaling server run, in the order `runMode` (signaling_mode.ts)
 * calls them: join ramp, pair signaling, memory, relay with every connection sending, relay cost
 * against idle rooms, and the server's own counters. Each prints its progress lines and returns
 * its part of the mode's result, so the phases read in sequence and the result keeps one shape.
 */
import { METRICS_CACHE_MS } from "../signaling/metrics.ts";
import { cpuMeter, describeCpu } from "./cpu_use.ts";
import { relay } from "./signaling_relay.ts";
import { describeErrors, type ModeResult, type RelayResult } from "./signaling_results.ts";
import type { ServerMetrics, SignalingServer } from "./signaling_server.ts";
import { PAIRS_STALL_MS, PAIRS_TIMEOUT_MS, type ServerMode } from "./signaling_options.ts";
import { steadyJoins, type SteadyResult } from "./signaling_steady.ts";
import type { Swarm } from "./signaling_swarm.ts";
import { int, ms, round1, summarize } from "./stats.ts";
import { sleep, waitForProgress } from "./wait.ts";

/** Where progress lines go (console.log in `deno task bench`). */
export type Log = (line: string) => void;

/** What the ramp adds to a mode's result. */
export type RampResult = Pick<
  ModeResult,
  | "connections"
  | "joinFailures"
  | "joinFailureSamples"
  | "connectMs"
  | "joinMs"
  | "rampS"
  | "joinsPerS"
  | "rampCpu"
>;

/** Joins every peer (see `Swarm.ramp`): joins per second, join latency and CPU meanwhile. */
export async function rampPhase(swarm: Swarm, log: Log): Promise<RampResult> {
  const stopRampMeter = await cpuMeter(swarm.server);
  const { seconds: rampS } = await swarm.ramp();
  const rampCpu = await stopRampMeter();
  const connections = swarm.joinMs.length;
  const joinsPerS = connections / rampS;
  const j = summarize(swarm.joinMs);
  log(
    `  ramp: ${int(connections)} joined in ${rampS.toFixed(2)} s = ${int(joinsPerS)} joins/s ` +
      `(${swarm.opts.concurrency} at a time; ${describeCpu(rampCpu)})` +
      `, join p50 ${ms(j.median)} p99 ${ms(j.p99)}` +
      (swarm.joinFailures.length ? `, ${swarm.joinFailures.length} failed` : ""),
  );
  if (swarm.joinFailures.length) {
    log(`  join failures: ${[...new Set(swarm.joinFailures)].slice(0, 5).join("; ")}`);
  }
  return {
    connections,
    joinFailures: swarm.joinFailures.length,
    joinFailureSamples: [...new Set(swarm.joinFailures)].slice(0, 5),
    connectMs: summarize(swarm.connectMs),
    joinMs: j,
    rampS: Math.round(rampS * 1000) / 1000,
    joinsPerS: Math.round(joinsPerS),
    rampCpu,
  };
}

/**
 * Waits for the exchanges the ramp started (each newcomer with every earlier member) and reports
 * their completion times, plus the error frames of the ramp and the exchanges.
 */
export async function pairsPhase(
  swarm: Swarm,
  log: Log,
): Promise<Pick<ModeResult, "pairs" | "joinErrors" | "allPairsMs">> {
  // Each newcomer negotiates with every member already there: n(n-1)/2 pairs per room.
  const expectedPairs = swarm.rooms.reduce((sum, room) => {
    const n = room.filter((p) => p.id).length;
    return sum + n * (n - 1) / 2;
  }, 0);
  await waitForProgress(
    () => swarm.pairMs.length >= expectedPairs,
    () => swarm.pairMs.length,
    PAIRS_TIMEOUT_MS,
    PAIRS_STALL_MS,
  );
  const pairMs = summarize(swarm.pairMs);
  const joinErrors = { ...swarm.errors };
  const { candidates } = swarm.opts;
  log(
    `  pairs: ${int(swarm.pairMs.length)}/${int(expectedPairs)} exchanged offer, answer and ` +
      `${candidates}+${candidates} candidates: p50 ${ms(pairMs.median)} p99 ${ms(pairMs.p99)} max ${
        ms(pairMs.max)
      }, errors: ${describeErrors(joinErrors)}`,
  );
  const allPairsMs = summarize(swarm.allPairsMs);
  log(
    `  join → all of the joiner's pairs exchanged (${int(swarm.allPairsMs.length)} joiners): ` +
      `p50 ${ms(allPairsMs.median)} p99 ${ms(allPairsMs.p99)}` +
      (swarm.opts.linkReports ? ", with browser-like link reports" : ", no link reports"),
  );
  return {
    pairs: { expected: expectedPairs, completed: swarm.pairMs.length, ms: pairMs },
    joinErrors,
    allPairsMs,
  };
}

/**
 * Server RSS with every socket open against the baseline (before the first): per connection; and
 * of it, the JavaScript heap's share (the rest is the runtime's: sockets, buffers, KV).
 */
export async function memoryPhase(
  server: SignalingServer,
  { baselineKiB, baselineHeap }: { baselineKiB: number; baselineHeap: number },
  connections: number,
  log: Log,
): Promise<ModeResult["memory"]> {
  const loadedKiB = await server.rssKiB();
  // An isolate renders /metrics at most once per METRICS_CACHE_MS: a fresh page, not the baseline's.
  await sleep(METRICS_CACHE_MS + 100);
  const loadedHeap = (await server.metrics()).heapUsedBytes;
  const perConnKiB = (loadedKiB - baselineKiB) / Math.max(1, connections);
  const heapPerConnKiB = (loadedHeap - baselineHeap) / 1024 / Math.max(1, connections);
  log(
    `  memory: RSS ${int(baselineKiB)} KiB before, ${int(loadedKiB)} KiB with ${
      int(connections)
    } sockets = ${perConnKiB.toFixed(1)} KiB per connection, of which JS heap ${
      heapPerConnKiB.toFixed(1)
    } KiB (V8 heap in use, garbage included)`,
  );
  return {
    baselineKiB,
    loadedKiB,
    perConnKiB: round1(perConnKiB),
    heapPerConnKiB: round1(heapPerConnKiB),
  };
}

function relayLine(r: RelayResult): string {
  const l = r.latencyMs;
  return `${int(r.deliveredPerS)} msg/s delivered (offered ${int(r.offeredPerS)}/s by ${
    int(r.senders)
  } senders, ${int(r.connected)} connected)  latency p50 ${ms(l.median)} p99 ${ms(l.p99)}\n` +
    `      ${describeCpu(r.cpu)}; server ${r.serverCpuUsPerMsg} µs CPU/msg` +
    `, lost ${r.lost}, errors: ${describeErrors(r.errors)}`;
}

/** Relay throughput with every joined connection sending: the server saturated. */
export async function relayAllPhase(swarm: Swarm, log: Log): Promise<RelayResult> {
  log(`  relay, every connection sending (${swarm.opts.relayS} s):`);
  const relayAll = await relay(swarm, swarm.joined, swarm.opts.relayS);
  log(`    ${relayLine(relayAll)}`);
  return relayAll;
}

/**
 * Relay cost against idle rooms: the same active rooms send with the idle rooms connected, then
 * after those have left. A relay that scanned every socket would slow down with idle rooms.
 */
export async function idleRoomsPhase(swarm: Swarm, log: Log): Promise<ModeResult["scale"]> {
  const opts = swarm.opts;
  // The same active rooms with the idle ones connected, then without them.
  const activeRooms = Math.min(opts.activeRooms, Math.max(1, Math.floor(opts.rooms / 5)));
  const active = swarm.rooms.slice(0, activeRooms);
  const idle = swarm.rooms.slice(activeRooms);
  log(
    `  relay cost vs idle rooms: ${activeRooms} rooms sending, ${idle.length} idle rooms, ` +
      `${opts.scaleS} s each:`,
  );
  const withIdle = await relay(swarm, active.flat(), opts.scaleS);
  log(`    with ${idle.length} idle rooms: ${relayLine(withIdle)}`);
  await swarm.leave(idle);
  // Let the server finish the leaves (KV writes, rosters) before measuring.
  await sleep(1_000);
  const noIdle = await relay(swarm, active.flat(), opts.scaleS);
  log(`    with 0 idle rooms:   ${relayLine(noIdle)}`);
  return { activeRooms, idleRooms: idle.length, withIdle, noIdle };
}

/** Joins at a steady rate on the server as the other phases left it (signaling_steady.ts). */
export async function steadyPhase(swarm: Swarm, log: Log): Promise<SteadyResult> {
  const r = await steadyJoins(swarm.server, swarm.opts);
  log(
    `  steady joins: ${r.joins} at ${r.joinsPerS}/s into rooms of 2 (arrivals on a clock, ` +
      `not waiting for each other): join p50 ${ms(r.joinMs.median)} p99 ${
        ms(r.joinMs.p99)
      }, connect p50 ${ms(r.connectMs.median)}, join → pair signaled p50 ${
        ms(r.allPairsMs.median)
      } p99 ${ms(r.allPairsMs.p99)}` + (r.failures ? `, ${r.failures} failed` : ""),
  );
  return r;
}

/**
 * The server's cumulative counters; with `--parallel`, how the sockets ended up spread over the
 * isolates and how many signals crossed between isolates.
 */
export async function serverMetricsPhase(
  server: SignalingServer,
  mode: ServerMode,
  log: Log,
): Promise<ServerMetrics> {
  const metrics = await server.metrics();
  if (mode === "parallel") {
    const local = metrics.relayed.local ?? 0;
    const bus = metrics.relayed.bus ?? 0;
    log(
      `  server: sockets per isolate now ${metrics.connections.join(" / ")}; signals relayed ` +
        `within an isolate ${int(local)}, between isolates ${int(bus)} (${
          Math.round(bus / Math.max(1, local + bus) * 100)
        }%)`,
    );
  }
  return metrics;
}
