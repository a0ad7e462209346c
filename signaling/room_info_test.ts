/**
 * `join.card` and `GET /api/rooms/{room}` (PROTOCOL.md, "Room info"): a real hub on a real
 * in-memory Deno KV behind a real HTTP server, raw WebSocket clients (signaling/testing.ts), and
 * cards sealed and opened with the browser's own code (mesh/member_card.ts, WebCrypto).
 */
import assert from "node:assert/strict";
import { openCards, sealCard } from "../mesh/member_card.ts";
import { newMeetingKey, parseMeetingKey } from "../mesh/meeting_key.ts";
import { MAX_CARD_BYTES } from "./limits.ts";
import { PROTOCOL_VERSION, type RoomInfo } from "./protocol.ts";
import { newRoomId } from "./room_id.ts";
import { RoomInfoEndpoint } from "./room_info.ts";
import {
  connect,
  join,
  type Joined,
  knock,
  newSecret,
  startHub,
  type TestHub,
  type TestSocket,
} from "./testing.ts";

/** A meeting key's bytes, as the page reads them from its link. */
function keyBytes(): Uint8Array {
  const parsed = parseMeetingKey(newMeetingKey());
  assert.ok(parsed.ok);
  return parsed.bytes;
}

/** `GET /api/rooms/{room}` of the hub, as the route answers it. */
async function roomInfo(h: TestHub, room: string): Promise<Response> {
  return await h.hub.handleRoomInfo(new Request(`${h.origin}/api/rooms/${room}`), room);
}

async function info(h: TestHub, room: string): Promise<RoomInfo> {
  const res = await roomInfo(h, room);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  return await res.json();
}

/** Joins with `card` (and no name: the browser sends none), as the browser does. */
async function joinWithCard(
  h: TestHub,
  room: string,
  card: unknown,
  secret = newSecret(),
): Promise<Joined> {
  const socket = await connect(h.url(room));
  socket.send({ type: "join", v: PROTOCOL_VERSION, secret, card });
  const welcome = await socket.next("welcome");
  return { socket, welcome, peer: welcome.peer, [Symbol.asyncDispose]: () => socket.close() };
}

/** Sends a join with `card` and returns the error it gets. */
async function refusedCard(socket: TestSocket, card: unknown) {
  socket.send({ type: "join", v: PROTOCOL_VERSION, card });
  return await socket.next("error");
}

Deno.test("room info lists each member's sealed card in join order; only the meeting key opens them", async () => {
  await using h = await startHub();
  const room = newRoomId();
  const key = keyBytes();
  const other = keyBytes();
  assert.deepEqual(await info(h, room), {
    members: 0,
    capacity: 8,
    full: false,
    locked: false,
    lobby: false,
    ended: false,
    cards: [],
  });

  await using ada = await joinWithCard(h, room, await sealCard(key, room, "Ada"));
  // Bob's link has another key; Cy is a client that sends no card.
  await using _bob = await joinWithCard(h, room, await sealCard(other, room, "Bob"));
  await using _cy = await join(h.url(room), "Cy");
  const seen = await info(h, room);
  assert.equal(seen.members, 3);
  assert.equal(seen.full, false);
  assert.equal(seen.cards.length, 3);
  assert.equal(seen.cards[2], null, "no card, no entry to open");
  assert.deepEqual(await openCards(key, room, seen.cards), ["Ada", null, null]);
  assert.deepEqual(await openCards(other, room, seen.cards), [null, "Bob", null]);
  // A card opens only in its room, and only as a card: never as Ada's knock or signal.
  assert.deepEqual(await openCards(key, newRoomId(), seen.cards), [null, null, null]);
  // The server sees ciphertext: no name in what it stores or serves.
  assert.doesNotMatch(JSON.stringify(seen), /Ada|Bob/);
  const stored = await h.hub.store.snapshot(room);
  assert.doesNotMatch(JSON.stringify(stored), /"Ada"|"Bob"/);
  // Cards are for people about to join, never in rosters.
  assert.ok(ada.socket.view?.every((m) => !("card" in m)));
  assert.doesNotMatch(JSON.stringify(ada.socket.received), /"card"/);

  // A member who leaves takes its card along.
  ada.socket.send({ type: "leave" });
  await ada.socket.closed();
  await h.hub.settle();
  const after = await info(h, room);
  assert.equal(after.members, 2);
  assert.deepEqual(await openCards(key, room, after.cards), [null, null]);
});

Deno.test("room info says full (8 of 8), locked, lobby and ended", async () => {
  await using h = await startHub({ capacity: 2 });
  const room = newRoomId();
  const key = keyBytes();
  await using ada = await joinWithCard(h, room, await sealCard(key, room, "Ada"));
  await using bob = await joinWithCard(h, room, await sealCard(key, room, "Bob"));
  const full = await info(h, room);
  assert.equal(full.members, 2);
  assert.equal(full.capacity, 2);
  assert.equal(full.full, true);
  assert.deepEqual(await openCards(key, room, full.cards), ["Ada", "Bob"]);

  bob.socket.send({ type: "leave" });
  await ada.socket.roster((m) => m.length === 1, "Bob gone");
  ada.socket.send({ type: "lock", locked: true });
  await ada.socket.state((m) => m.room.locked, "locked");
  assert.deepEqual(
    { ...await info(h, room), cards: [] },
    {
      members: 1,
      capacity: 2,
      full: false,
      locked: true,
      lobby: false,
      ended: false,
      cards: [],
    },
  );
  ada.socket.send({ type: "lock", locked: false });
  ada.socket.send({ type: "lobby", on: true });
  await ada.socket.state((m) => m.room.lobby && !m.room.locked, "lobby on, unlocked");
  assert.equal((await info(h, room)).lobby, true);

  ada.socket.send({ type: "end" });
  await ada.socket.closed();
  assert.deepEqual(await info(h, room), {
    members: 0,
    capacity: 2,
    full: false,
    locked: false,
    lobby: false,
    ended: true,
    cards: [],
  });
});

Deno.test("a newcomer let in from the lobby keeps the card it joined with", async () => {
  await using h = await startHub();
  const room = newRoomId();
  const key = keyBytes();
  await using ada = await joinWithCard(h, room, await sealCard(key, room, "Ada"));
  ada.socket.send({ type: "lobby", on: true });
  await ada.socket.state((m) => m.room.lobby, "lobby on");
  const socket = await connect(h.url(room));
  socket.send({
    type: "join",
    v: PROTOCOL_VERSION,
    secret: newSecret(),
    card: await sealCard(key, room, "Cy"),
  });
  const waiting = await socket.next("waiting");
  assert.equal((await info(h, room)).members, 1, "someone waiting holds no place yet");
  ada.socket.send({ type: "admit", knock: waiting.knock, allow: true });
  await socket.next("welcome");
  assert.deepEqual(await openCards(key, room, (await info(h, room)).cards), ["Ada", "Cy"]);
  await socket.close();
  // The helper's knock (no card) still works as before.
  await using _dee = await knock(h.url(room), "Dee");
});

Deno.test("a card that is too large, not an object or too deep is refused with a clear error", async () => {
  await using h = await startHub({ joinTimeoutMs: 60_000 });
  const room = newRoomId();
  await using socket = await connect(h.url(room));
  for (
    const [card, code, says] of [
      ["a name in clear", "bad-message", /"card" must be a JSON object/],
      [["an", "array"], "bad-message", /"card" must be a JSON object/],
      [null, "bad-message", /"card" must be a JSON object/],
      [{ a: { b: { c: { d: { e: 1 } } } } }, "bad-message", /"card" is nested deeper than 4/],
    ] as const
  ) {
    const err = await refusedCard(socket, card);
    assert.equal(err.code, code, JSON.stringify(card));
    assert.equal(err.fatal, false);
    assert.match(err.message, says);
  }
  assert.equal((await info(h, room)).members, 0, "nobody joined with a refused card");

  // One byte over the limit (the envelope's JSON as the server re-encodes it).
  const padding = MAX_CARD_BYTES - JSON.stringify({ ct: "" }).length + 1;
  const err = await refusedCard(socket, { ct: "x".repeat(padding) });
  assert.equal(err.code, "too-large");
  assert.match(err.message, /"card" exceeds 1024 bytes/);
  assert.equal((await socket.closed()).code, 1009);
  assert.equal((await info(h, room)).members, 0);

  // Exactly at the limit is accepted.
  await using ok = await joinWithCard(h, room, { ct: "x".repeat(padding - 1) });
  assert.equal((await info(h, room)).cards.length, 1);
  assert.ok(ok.peer);
});

Deno.test("room info refuses a malformed room id (400) and a flood from one address (429), and is never cached", async () => {
  await using h = await startHub();
  for (
    const room of ["not-a-room", "K3FQ-9XMP-2HDW-7RTC-A4ZE", "", "../../etc", "a".repeat(5000)]
  ) {
    const res = await roomInfo(h, room);
    assert.equal(res.status, 400, room.slice(0, 20));
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = await res.json();
    assert.equal(body.error, "bad-room");
    assert.match(body.message, /meeting id/);
  }

  let now = 1_000_000;
  const endpoint = new RoomInfoEndpoint({
    kv: h.kv,
    capacity: 8,
    trustProxy: 1,
    perMin: 3,
    now: () => now,
  });
  const room = newRoomId();
  const from = (address: string) =>
    endpoint.handle(
      new Request(`${h.origin}/api/rooms/${room}`, { headers: { "x-forwarded-for": address } }),
      room,
      { transport: "tcp", hostname: "10.0.0.1", port: 4000 },
    );
  for (let i = 0; i < 3; i++) assert.equal((await from("203.0.113.7")).status, 200);
  const limited = await from("203.0.113.7");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "20");
  assert.equal((await limited.json()).error, "rate-limited");
  // Another address has its own budget; the first gets a request back as time passes.
  assert.equal((await from("198.51.100.9")).status, 200);
  now += 20_000;
  assert.equal((await from("203.0.113.7")).status, 200);
  assert.equal((await from("203.0.113.7")).status, 429);
});
