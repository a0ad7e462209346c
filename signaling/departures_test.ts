/**
 * Why members went, as the others are told (PROTOCOL.md, "Roster semantics"): a member whose
 * grace period ran out is listed in `room.departures` as `connection-lost`; one who left on
 * purpose is not; removals stay in `room.removals`. A real hub on a real in-memory KV.
 */
import assert from "node:assert/strict";
import { MAX_DEPARTURES } from "./limits.ts";
import { parseServerMessage, type RoomView } from "./protocol.ts";
import { newRoomId } from "./room_id.ts";
import { join, startHub } from "./testing.ts";

Deno.test("a member whose connection was lost past the grace period is a connection-lost departure; one who left is none", async () => {
  await using h = await startHub({ graceMs: 300 });
  const room = newRoomId();
  await using ada = await join(h.url(room), "Ada");
  const bob = await join(h.url(room), "Bob");
  const cy = await join(h.url(room), "Cy");
  await ada.socket.roster((m) => m.length === 3, "all three in");

  // Cy leaves on purpose: gone, with no departure to explain.
  cy.socket.send({ type: "leave" });
  const afterLeave = await ada.socket.state((m) => m.members.length === 2, "Cy gone");
  assert.equal(afterLeave.room.departures, undefined, "no departures listed while there are none");

  // Bob's connection drops and he never comes back.
  const closedAt = Date.now();
  await bob.socket.close();
  await ada.socket.state(
    (m) => m.members.some((x) => x.peer === bob.peer && !x.connected),
    "Bob reconnecting",
  );
  const gone = await ada.socket.state((m) => m.members.length === 1, "Bob gone", 10_000);
  assert.deepEqual(gone.room.departures?.map(({ peer, reason }) => ({ peer, reason })), [
    { peer: bob.peer, reason: "connection-lost" },
  ]);
  const at = gone.room.departures![0].at;
  assert.ok(at >= closedAt && at <= Date.now(), "stamped when the grace period ran out");
  assert.deepEqual(gone.room.removals, [], "a departure is no removal");
  // A newcomer sees the recent departures too (its UI treats them as history, not news).
  await using dee = await join(h.url(room), "Dee");
  assert.equal(dee.welcome.room.departures?.[0].peer, bob.peer);
});

Deno.test("departures are validated as optional server fields: unknown reasons pass, malformed ones do not", () => {
  const room: RoomView = {
    id: newRoomId(),
    capacity: 8,
    locked: false,
    host: null,
    hosts: [],
    lobby: false,
    removals: [],
  };
  const roster = (departures: unknown) =>
    parseServerMessage(
      JSON.stringify({ type: "roster", room: { ...room, departures }, members: [] }),
    );
  assert.ok(parseServerMessage(JSON.stringify({ type: "roster", room, members: [] })));
  assert.ok(roster([{ peer: "AAAAAAAAAAAAAAAA", reason: "connection-lost", at: 1 }]));
  assert.ok(roster([{ peer: "AAAAAAAAAAAAAAAA", reason: "a-newer-reason", at: 1 }]));
  for (const bad of [null, "x", [{ peer: "AAAAAAAAAAAAAAAA", at: 1 }], [{ reason: "x", at: 1 }]]) {
    assert.equal(roster(bad), null, JSON.stringify(bad));
  }
  assert.ok(MAX_DEPARTURES >= 8, "enough to explain a room's worth of departures");
});
