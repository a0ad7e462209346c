/**
 * Join latency as one person feels it: joins arriving at a steady rate (an open loop), each timed
 * from its socket's open to its `welcome`, on a server that already holds the run's rooms.
 *
 * Why beside the ramp: the ramp keeps 64 joins in flight (a closed loop), so its join latency is
 * 64 ÷ joins per second by Little's law, whatever a single join costs. A server whose sockets take
 * long to open (Socket.IO's handshake) shows a short join there, one whose sockets open at once
 * shows a long one, for the same throughput. At a rate below capacity nothing queues, and each
 * join costs what it costs.
 */
import { Swarm } from "./signaling_swarm.ts";
import type { SignalingServer } from "./signaling_server.ts";
import type { SignalingOptions } from "./signaling_options.ts";
import { summarize, type Summary } from "./stats.ts";
import { sleep, waitFor } from "./wait.ts";

/** What the steady phase measured. */
export interface SteadyResult {
  joinsPerS: number;
  joins: number;
  failures: number;
  /** Socket open → `welcome`. */
  joinMs: Summary;
  /** `new WebSocket` → open. */
  connectMs: Summary;
  /** A second member's socket open → its pair with the first fully signaled (offer, answer, candidates). */
  allPairsMs: Summary;
}

/**
 * `rooms` new rooms of 2, one join every 1000 ÷ `joinsPerS` ms, the second member of a room a
 * whole pass after its first (so it joins a room with someone in it and starts a pair exchange,
 * and link reports when `opts.linkReports`). Closes its sockets before it returns.
 */
export async function steadyJoins(
  server: SignalingServer,
  opts: SignalingOptions,
  { rooms = 100, joinsPerS = 50 } = {},
): Promise<SteadyResult> {
  const swarm = new Swarm(server, { ...opts, rooms, peers: 2 });
  const order = [...swarm.rooms.map((r) => r[0]), ...swarm.rooms.map((r) => r[1])];
  const gapMs = 1000 / joinsPerS;
  const started = performance.now();
  let settled = 0;
  try {
    for (const [i, peer] of order.entries()) {
      // Arrivals follow the clock, not the previous join's end: a slow join does not slow the rate.
      const wait = started + i * gapMs - performance.now();
      if (wait > 0) await sleep(wait);
      swarm.join(peer).catch((err) => {
        swarm.joinFailures.push(err instanceof Error ? err.message : String(err));
        peer.ws?.close();
      }).finally(() => settled++);
    }
    await waitFor(() => settled === order.length, 20_000);
    return {
      joinsPerS,
      joins: swarm.joinMs.length,
      failures: swarm.joinFailures.length,
      joinMs: summarize(swarm.joinMs),
      connectMs: summarize(swarm.connectMs),
      allPairsMs: summarize(swarm.allPairsMs),
    };
  } finally {
    await swarm.close();
  }
}
