/**
 * Abuse bench (`deno task bench --abuse`): what floods between isolates cost everyone else, on
 * the real server (`deno serve --parallel`, 2 isolates on one KV file), driven over 127.0.0.1.
 *
 * - Flood scenarios (abuse_flood.ts): a healthy pair's signal latency p50/p99 and losses with no
 *   flood, with one socket flooding within its limits, and with many sockets flooding signals of
 *   the largest size as fast as the server lets them, from one address and from many. The
 *   per-address limits (`too-many-sockets`, `join-limited`, `rate-limited`) and the bus's
 *   backpressure (`relay-busy`) answer them; every refusal is counted by code.
 * - Frame bursts (abuse_frames.ts): the server's RSS before, at its peak and after 10 sockets
 *   send 32 MiB frames, and 64 KiB frames, at once.
 *
 * Results: abuse_results.ts (.bench/results.json `abuse`, and the README tables).
 */
import { floodPlans, runFlood } from "./abuse_flood.ts";
import { runFrameBursts } from "./abuse_frames.ts";
import type { AbuseReport, FloodResult } from "./abuse_results.ts";

/** Runs every flood scenario, then the frame bursts; prints progress lines to `log`. */
export async function runAbuseBench(
  root: URL,
  opts: { quick: boolean },
  log: (line: string) => void = console.log,
): Promise<AbuseReport> {
  const windowS = opts.quick ? 3 : 10;
  log(
    `\n[abuse] deno serve --parallel (2 isolates), a healthy pair across them signalling every ` +
      `50 ms, ${windowS} s per scenario; every scenario on a fresh server`,
  );
  const flood: FloodResult[] = [];
  for (const plan of floodPlans(opts.quick)) flood.push(await runFlood(root, plan, windowS, log));
  const frames = await runFrameBursts(root, log);
  return { quick: opts.quick, flood, frames };
}
