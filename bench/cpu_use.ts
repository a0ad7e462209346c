/**
 * How busy the machine is during a bench phase: CPU used by the server, by the bench itself and
 * by every other process, and the load average. On a shared machine other work takes cores from
 * the server and the load generator alike, so every figure is reported next to these.
 */
import { machineCpuMs, processCpuMs, type SignalingServer } from "./signaling_server.ts";
import { round1 } from "./stats.ts";

/** CPU used over a phase, in % of one core: the server, this bench, and all other processes. */
export interface CpuUse {
  server: number;
  bench: number;
  /** Other work on the machine competes for the same cores: high values make a run unreliable. */
  other: number;
  /** The server's CPU time over the phase, in ms. */
  serverMs: number;
}

async function cpuReading(server: SignalingServer) {
  const [serverMs, benchMs, machineMs] = await Promise.all([
    server.cpuMs(),
    processCpuMs(Deno.pid),
    machineCpuMs(),
  ]);
  return { serverMs, benchMs, machineMs, at: performance.now() };
}

/** Starts measuring; the returned function ends the measurement. */
export async function cpuMeter(server: SignalingServer): Promise<() => Promise<CpuUse>> {
  const start = await cpuReading(server);
  return async () => {
    const end = await cpuReading(server);
    // CPU ms per wall ms × 100 = % of one core.
    const pct = (ms: number) => round1(ms / (end.at - start.at) * 100);
    const serverMs = end.serverMs - start.serverMs;
    const benchMs = end.benchMs - start.benchMs;
    return {
      server: pct(serverMs),
      bench: pct(benchMs),
      other: pct(Math.max(0, end.machineMs - start.machineMs - serverMs - benchMs)),
      serverMs,
    };
  };
}

/** A `CpuUse` as the progress lines show it. */
export const describeCpu = (c: CpuUse): string =>
  `CPU: server ${c.server}%, bench ${c.bench}%, other processes ${c.other}%`;

/** The 1-minute load average: other work on the machine makes every figure here noisier. */
export async function loadAverage(): Promise<number> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return Number(text.split(" ")[0]) || 0;
}
