/**
 * One server mode of the signaling bench: starts the real server (one isolate or `--parallel`),
 * runs every phase (signaling_phases.ts) against it with a fresh swarm of clients, and always
 * closes the clients and stops the server, even on Ctrl-C.
 */
import { loadAverage } from "./cpu_use.ts";
import type { ServerMode, SignalingOptions } from "./signaling_options.ts";
import {
  idleRoomsPhase,
  type Log,
  memoryPhase,
  pairsPhase,
  rampPhase,
  relayAllPhase,
  serverMetricsPhase,
  steadyPhase,
} from "./signaling_phases.ts";
import type { ModeResult } from "./signaling_results.ts";
import { startSignalingServer } from "./signaling_server.ts";
import { Swarm } from "./signaling_swarm.ts";

const MODE_LABELS: Record<ServerMode, string> = {
  single: "one isolate",
  parallel: "--parallel (2 isolates)",
};

/** Every phase against a fresh server in `mode`; prints progress lines to `log`. */
export async function runMode(
  root: URL,
  mode: ServerMode,
  opts: SignalingOptions,
  log: Log,
): Promise<ModeResult> {
  const label = MODE_LABELS[mode];
  const load = await loadAverage();
  const server = await startSignalingServer(root, {
    parallel: mode === "parallel",
    jobs: 2,
    // Bench clients never report WebRTC links; without this the full-mesh policy would evict
    // them 20 s after joining. Everything else is the default configuration.
    // `--expose-gc` (added to the production V8 flags): /metrics then reports the live heap.
    env: { MOOZ_LINK_DEADLINE_MS: String(10 * 60_000), DENO_V8_FLAGS: "--expose-gc" },
  });
  // Ctrl-C skips `finally`: stop the server (and delete its KV file) from the signal too.
  const onSigint = () => void server.stop().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSigint);
  const swarm = new Swarm(server, opts);
  try {
    log(
      `\n[signaling: ${label}] deno serve main.ts pid ${server.pid} at ${server.origin} ` +
        `(load average ${load})`,
    );
    // Before the first socket: the memory phase compares against it.
    const baselineKiB = await server.rssKiB();
    const baselineHeap = (await server.metrics()).heapUsedBytes;
    const ramp = await rampPhase(swarm, log);
    const pairs = await pairsPhase(swarm, log);
    const memory = await memoryPhase(server, { baselineKiB, baselineHeap }, ramp.connections, log);
    const relayAll = await relayAllPhase(swarm, log);
    const scale = await idleRoomsPhase(swarm, log);
    const steady = await steadyPhase(swarm, log);
    const metrics = await serverMetricsPhase(server, mode, log);
    return {
      mode,
      label,
      isolates: server.isolates,
      loadAverage: load,
      ...ramp,
      ...pairs,
      memory,
      relayAll,
      scale,
      steady,
      server: metrics,
    };
  } catch (err) {
    log(`  server log:\n${server.log()}`);
    throw err;
  } finally {
    await swarm.close();
    await server.stop();
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}
