/**
 * A crash of the whole server mid-meeting (`SIGKILL`, both isolates of `deno serve --parallel`),
 * restarted on the same KV file 25 s later, within the 30 s resume grace: every member resumes
 * its place with the same peer id, nobody is evicted, and signals flow again. Members are real
 * `SignalingClient`s (the browser's client) over real WebSockets.
 */
import assert from "node:assert/strict";
import { SignalingClient } from "../signaling/client.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { delay, trackedWebSocket, waitFor, withLiveServer } from "./live_server.ts";

const MEMBERS = 4;
/** How long the server stays down: the fault this test injects, within the grace period. */
const OUTAGE_MS = 25_000;

Deno.test("SIGKILL mid-meeting, restart after 25 s: all 4 resume with the same ids, nobody evicted", async () => {
  await withLiveServer({
    parallel: true,
    env: {
      DENO_JOBS: "2",
      MOOZ_HEARTBEAT_MS: "500",
      MOOZ_RESUME_GRACE_MS: "30000",
      // These clients make no WebRTC links: keep the full-mesh policy out of this test.
      MOOZ_LINK_DEADLINE_MS: "600000",
    },
  }, async (server) => {
    const ws = trackedWebSocket();
    const room = newRoomId();
    const events: string[] = [];
    const received = new Map<string, Set<string>>();
    const clients: SignalingClient[] = [];
    try {
      for (let i = 0; i < MEMBERS; i++) {
        const client = new SignalingClient({
          url: server.wsUrl(room),
          name: `member ${i}`,
          WebSocket: ws.WebSocket,
          // Short retries, so the test sees the restart soon after it happens.
          backoffMs: [250, 500, 1_000],
        });
        const inbox = new Set<string>();
        received.set(`member ${i}`, inbox);
        client.on("evicted", (e) => events.push(`member ${i} evicted: ${e.code}`));
        client.on(
          "state",
          (s) => s === "closed" && events.push(`member ${i} closed: ${client.closeReason}`),
        );
        client.on("signal", ({ payload }) => inbox.add(String(payload)));
        clients.push(client);
      }
      const allIn = () =>
        clients.every((c) =>
          c.state === "joined" && c.members.length === MEMBERS &&
          c.members.every((m) => m.connected)
        );
      await waitFor("4 members in the room, all connected", allIn, {
        describe: () => clients.map((c) => [c.state, c.members.length]),
      });
      const ids = clients.map((c) => c.peer);

      await server.kill("SIGKILL");
      await waitFor(
        "every client reconnecting",
        () => clients.every((c) => c.state === "reconnecting"),
      );
      await delay(OUTAGE_MS);
      await server.restart();

      await waitFor(
        "all 4 back, connected, with the same peer ids",
        () => allIn() && clients.every((c, i) => c.peer === ids[i]),
        {
          timeoutMs: 30_000,
          describe: () => ({ events, states: clients.map((c) => [c.state, c.peer, c.members]) }),
        },
      );
      assert.deepEqual(events, [], "nobody evicted or ended");
      assert.deepEqual(new Set(clients.flatMap((c) => c.members.map((m) => m.peer))), new Set(ids));

      // The restarted server relays between all of them again.
      for (const [i, client] of clients.entries()) {
        for (const to of ids) if (to !== ids[i]) client.signal(to!, `from ${i}`);
      }
      await waitFor(
        "every signal after the restart delivered",
        () => [...received.values()].every((inbox) => inbox.size === MEMBERS - 1),
      );
      // Each isolate publishes its counters on its heartbeat: wait until both have.
      await waitFor(
        "both isolates' resumes in /metrics",
        async () => (await server.metrics()).sum("mooz_resumes_total") >= MEMBERS,
      );
      assert.equal((await server.metrics()).sum("mooz_evictions_total"), 0);
    } finally {
      for (const c of clients) c.close();
      await ws.closeAll();
    }
  });
});
