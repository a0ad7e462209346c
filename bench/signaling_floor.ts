/**
 * The floor under the signaling bench's memory figure: RSS per connection of a bare Deno
 * WebSocket echo server (bench/ws_floor.ts), measured like Mooz, so the README can show how much
 * of Mooz's figure any Deno WebSocket costs anyway.
 */
import { newRoomId } from "../signaling/room_id.ts";
import { clientMessage } from "../signaling/protocol.ts";
import { CLOSE_TIMEOUT_MS, CONNECT_TIMEOUT_MS } from "./signaling_options.ts";
import type { FloorResult } from "./signaling_results.ts";
import { startSignalingServer } from "./signaling_server.ts";
import { round1 } from "./stats.ts";
import { waitFor, withTimeout } from "./wait.ts";

/**
 * RSS per connection of `bench/ws_floor.ts` (a bare echo server), with the same ramp: each socket
 * sends one frame and waits for its echo, like a join waits for its welcome.
 */
export async function measureFloor(
  root: URL,
  sockets: number,
  concurrency: number,
): Promise<FloorResult> {
  const server = await startSignalingServer(root, { parallel: false, entry: "bench/ws_floor.ts" });
  const open: WebSocket[] = [];
  try {
    const baselineKiB = await server.rssKiB();
    let next = 0;
    const worker = async () => {
      while (next < sockets) {
        next++;
        const ws = new WebSocket(server.wsUrl(newRoomId()));
        open.push(ws);
        await withTimeout(
          new Promise((resolve, reject) => {
            ws.onopen = () => ws.send(clientMessage({ type: "join", v: 1, name: "Bench" }));
            ws.onmessage = resolve;
            ws.onclose = () => reject(new Error("closed"));
          }),
          CONNECT_TIMEOUT_MS,
          "echo",
        );
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const loadedKiB = await server.rssKiB();
    return {
      connections: sockets,
      baselineKiB,
      loadedKiB,
      perConnKiB: round1((loadedKiB - baselineKiB) / sockets),
    };
  } finally {
    let closing = open.filter((ws) => ws.readyState <= WebSocket.OPEN).length;
    for (const ws of open) {
      ws.onclose = () => closing--;
      ws.close();
    }
    await waitFor(() => closing <= 0, CLOSE_TIMEOUT_MS);
    await server.stop();
  }
}
