/**
 * Member cards (`member_card.ts`) with real WebCrypto, and the pre-join screen's reading of a
 * real hub's room info (`room_occupancy.ts`): names open only with the meeting key of the room,
 * only as cards, and an answer that is not room info is no answer.
 */
import assert from "node:assert/strict";
import { newRoomId } from "../signaling/room_id.ts";
import { PROTOCOL_VERSION } from "../signaling/protocol.ts";
import { connect, startHub } from "../signaling/testing.ts";
import { SealRing } from "./key_ring.ts";
import { CARD_PEER, openCards, sealCard } from "./member_card.ts";
import { newMeetingKey, parseMeetingKey } from "./meeting_key.ts";
import { fetchOccupancy } from "./room_occupancy.ts";

function keyBytes(): Uint8Array {
  const parsed = parseMeetingKey(newMeetingKey());
  assert.ok(parsed.ok);
  return parsed.bytes;
}

Deno.test("a card opens with its meeting key and room only, and only as a card", async () => {
  const room = newRoomId();
  const key = keyBytes();
  const card = await sealCard(key, room, "  Ada  ");
  assert.doesNotMatch(JSON.stringify(card), /Ada/, "sealed");
  assert.deepEqual(await openCards(key, room, [card, card, null]), ["Ada", "Ada", null]);
  assert.deepEqual(await openCards(keyBytes(), room, [card]), [null], "another key");
  assert.deepEqual(await openCards(key, newRoomId(), [card]), [null], "another room");
  // Tampered with, or not an envelope at all.
  const tampered = { ...card, ct: card.ct.slice(0, -2) + (card.ct.endsWith("A") ? "BB" : "AA") };
  assert.deepEqual(await openCards(key, room, [tampered, "Ada", 42, {}]), [null, null, null, null]);
  // A lobby knock with the same key and name is no card, and a card is no knock.
  const ring = await SealRing.create({ key, room });
  const knock = await ring.sealKnock("AAAAAAAAAAAAAAAA", "Ada");
  assert.deepEqual(await openCards(key, room, [knock]), [null]);
  assert.deepEqual(await ring.openKnock(CARD_PEER, card), { name: "", verified: false });
  // A name a card may not carry (control characters) opens as no name.
  const sneaky = await sealCard(key, room, "Ada\u202eevil");
  assert.deepEqual(await openCards(key, room, [sneaky]), [null]);
});

Deno.test("fetchOccupancy reads a real hub's room info and opens its cards; anything else is null", async () => {
  await using h = await startHub({ capacity: 3 });
  // This room's answer comes from something else than Mooz.
  const strange = newRoomId();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const room = new URL(req.url).pathname.match(/^\/api\/rooms\/([^/]+)$/)?.[1];
    if (room === strange) return Response.json({ members: "3", cards: [] });
    return room
      ? h.hub.handleRoomInfo(req, decodeURIComponent(room))
      : new Response("no", { status: 404 });
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    const room = newRoomId();
    const key = keyBytes();
    const socket = await connect(h.url(room));
    socket.send({ type: "join", v: PROTOCOL_VERSION, card: await sealCard(key, room, "Ada") });
    await socket.next("welcome");
    const seen = await fetchOccupancy(origin, room, key);
    assert.deepEqual(seen, {
      members: 1,
      capacity: 3,
      full: false,
      locked: false,
      lobby: false,
      ended: false,
      names: ["Ada"],
    });
    assert.deepEqual((await fetchOccupancy(origin, room, keyBytes()))?.names, [null]);
    await socket.close();
    // A bad room id (400), a server that is not Mooz, a server that is not there: no answer.
    assert.equal(await fetchOccupancy(origin, "not-a-room", key), null);
    assert.equal(await fetchOccupancy(origin, strange, key), null);
    assert.equal(await fetchOccupancy("http://127.0.0.1:9", room, key), null);
  } finally {
    await server.shutdown();
  }
});
