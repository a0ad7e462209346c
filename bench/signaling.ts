/**
 * Signaling bench: the real server (`deno serve main.ts`, one isolate and `--parallel`) in a
 * subprocess, driven over 127.0.0.1 by R rooms × P peers of WebSocket clients in this process.
 *
 * Per server mode it measures
 * - the join ramp: socket open -> `welcome` latency and joins per second, with bounded concurrency;
 * - signaling per new pair: when a member joins, it sends each older member an offer, the older
 *   member answers and sends 5 ICE candidates, the newcomer sends its 5 candidates on the answer;
 *   time from the newcomer's `welcome` until both sides have everything;
 * - memory: server RSS before the first socket and with every socket open, per connection;
 * - relay throughput: every connection signals its room peers round-robin, kept under the rate
 *   limit, and messages are counted where they arrive;
 * - relay cost against idle rooms: the same active senders with and without idle rooms connected,
 *   as messages/s and server CPU time per delivered message.
 *
 * This module runs the whole bench; the parts live in
 * - signaling_options.ts: options, defaults and wait bounds;
 * - signaling_floor.ts: the bare WebSocket echo server measured first, as a memory floor;
 * - signaling_mode.ts: one server mode, its phases in signaling_phases.ts;
 * - signaling_swarm.ts, signaling_peer.ts, signaling_relay.ts: the load generator;
 * - signaling_results.ts: the results (.bench/results.json); signaling_table.ts: the README table.
 */
import { FD_HEADROOM, type SignalingOptions } from "./signaling_options.ts";
import { measureFloor } from "./signaling_floor.ts";
import { runMode } from "./signaling_mode.ts";
import type { Log } from "./signaling_phases.ts";
import type { ModeResult, SignalingReport } from "./signaling_results.ts";
import { openFileLimit } from "./signaling_server.ts";
import { int } from "./stats.ts";

/**
 * Runs the floor, then every mode of `options.modes`, printing progress lines to `log`; the rooms
 * are scaled down (with a note) when the open-file limit cannot hold every socket.
 */
export async function runSignalingBench(
  root: URL,
  options: SignalingOptions,
  log: Log = console.log,
): Promise<SignalingReport> {
  const opts = { ...options };
  const notes: string[] = [];
  // Every client socket takes a file descriptor here and its peer one in the server; a soft limit
  // this process cannot raise would make connects fail midway, so scale the rooms down instead.
  const limit = await openFileLimit();
  const fit = Math.floor((limit - FD_HEADROOM) / opts.peers);
  if (fit < opts.rooms) {
    notes.push(
      `ulimit -n is ${limit}: ran ${fit} rooms instead of ${opts.rooms} (raise the limit to run all)`,
    );
    opts.rooms = Math.max(1, fit);
  }
  const sockets = opts.rooms * opts.peers;
  log(
    `\n[signaling] ${opts.rooms} rooms × ${opts.peers} peers = ${int(sockets)} sockets ` +
      `(ulimit -n ${limit}), ${opts.concurrency} joining at a time, relay at ${opts.ratePerS}/s ` +
      `per socket (limit 50/s), load generator: this process`,
  );
  notes.forEach((n) => log(`  note: ${n}`));

  const floor = await measureFloor(root, sockets, opts.concurrency);
  log(
    `\n[signaling: floor] bare Deno WebSocket echo server (bench/ws_floor.ts): RSS ${
      int(floor.baselineKiB)
    } KiB before, ${int(floor.loadedKiB)} KiB with ${int(sockets)} sockets = ${
      floor.perConnKiB.toFixed(1)
    } KiB per connection`,
  );

  const modes: ModeResult[] = [];
  for (const mode of opts.modes) modes.push(await runMode(root, mode, opts, log));
  return { options: opts, openFileLimit: limit, notes, floor, modes };
}
