/**
 * The room controls as features and the UI see them, over a scripted source (what a session
 * would show after welcomes and rosters): empty before joining, host-only lists for hosts only,
 * actions only from a joined host, knocks opened with the real sealing (another key: not
 * verified), and key switches that keep the newest epoch whatever order they come in.
 */
import assert from "node:assert/strict";
import { signal } from "@preact/signals-core";
import type { HostAction, KnockView, RoomView } from "../signaling/protocol.ts";
import { SealRing } from "./key_ring.ts";
import { newMeetingKey, parseMeetingKey } from "./meeting_key.ts";
import { detachedRoomControls, MeetingRoomControls, type RoomSource } from "./room_controls.ts";
import type { PeerId } from "./types.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const ADA = "AAAAAAAAAAAAAAAA";
const BOB = "BBBBBBBBBBBBBBBB";
const KNOCK = "KKKKKKKKKKKKKKKK";
const KEY = newMeetingKey();

function view(extra: Partial<RoomView> = {}): RoomView {
  return {
    id: ROOM,
    capacity: 8,
    locked: false,
    host: ADA,
    hosts: [ADA],
    lobby: false,
    removals: [],
    ...extra,
  };
}

/** A session as the controls read it, driven by the test. */
function fakeSource(ring?: SealRing) {
  const sent: HostAction[] = [];
  const keys: Uint8Array[] = [];
  const source = {
    self: signal<PeerId | null>(ADA),
    state: signal("joined"),
    room: signal<RoomView | null>(view()),
    knocks: signal<readonly KnockView[]>([]),
    disputes: signal<readonly [PeerId, PeerId][]>([]),
    opens: 0,
    failUseKey: false,
    send: (action: HostAction) => (sent.push(action), true),
    openKnock: (id: PeerId, payload: unknown) => {
      source.opens++;
      return ring ? ring.openKnock(id, payload) : Promise.resolve({ name: "", verified: false });
    },
    useKey: (key: Uint8Array) => {
      if (source.failUseKey) return Promise.reject(new TypeError("refused"));
      keys.push(key);
      return ring ? ring.useKey(key) : Promise.resolve();
    },
  } satisfies RoomSource & Record<string, unknown>;
  return { source, sent, keys };
}

function bytesOf(key: string): Uint8Array {
  const parsed = parseMeetingKey(key);
  if (!parsed.ok) throw new Error("not a key");
  return parsed.bytes;
}

/** Lets promise callbacks (knock opening) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("before joining: empty lists, not a host, act sends nothing, the link's key", () => {
  const live = signal<RoomSource | null>(null);
  const room = new MeetingRoomControls({ source: live, key: KEY });
  assert.deepEqual(room.hosts.value, []);
  assert.equal(room.isHost.value, false);
  assert.equal(room.locked.value, false);
  assert.equal(room.lobby.value, false);
  assert.deepEqual(room.knocks.value, []);
  assert.deepEqual(room.disputes.value, []);
  assert.deepEqual(room.removals.value, []);
  assert.equal(room.act({ type: "lock", locked: true }), false);
  assert.equal(room.key.value, KEY);
  assert.equal(room.keyEpoch.value, 0);
  assert.equal(room.current.key, KEY);
  room.dispose();
});

Deno.test("joined: the room view's hosts, lock, lobby and removals; act only as a joined host", () => {
  const { source, sent } = fakeSource();
  const live = signal<RoomSource | null>(null);
  const room = new MeetingRoomControls({ source: live, key: KEY });
  live.value = source;
  const removal = { peer: BOB, code: "kicked" as const, by: ADA, unreachable: [], at: 1 };
  source.room.value = view({ locked: true, lobby: true, removals: [removal] });
  assert.deepEqual(room.hosts.value, [ADA]);
  assert.equal(room.isHost.value, true);
  assert.equal(room.locked.value, true);
  assert.equal(room.lobby.value, true);
  assert.deepEqual(room.removals.value, [removal]);
  assert.equal(room.act({ type: "mute", peer: "all", what: "audio" }), true);
  assert.deepEqual(sent, [{ type: "mute", peer: "all", what: "audio" }]);

  // Reconnecting: nothing goes.
  source.state.value = "reconnecting";
  assert.equal(room.act({ type: "end" }), false);
  source.state.value = "joined";
  // Demoted: nothing goes, and the host-only lists are empty even if a roster still had them.
  source.disputes.value = [[ADA, BOB]];
  assert.deepEqual(room.disputes.value, [[ADA, BOB]]);
  source.room.value = view({ host: BOB, hosts: [BOB] });
  assert.equal(room.isHost.value, false);
  assert.equal(room.act({ type: "end" }), false);
  assert.deepEqual(room.disputes.value, []);
  assert.deepEqual(sent.length, 1);
  room.dispose();
});

Deno.test("knocks: name null until opened, then the sealed name; another key is not verified", async () => {
  const key = parseMeetingKey(KEY);
  assert.ok(key.ok);
  const hostRing = await SealRing.create({ key: key.bytes, room: ROOM });
  const newcomer = await SealRing.create({ key: key.bytes, room: ROOM });
  const stranger = await SealRing.create({ key: new Uint8Array(16).fill(9), room: ROOM });
  const { source } = fakeSource(hostRing);
  const room = new MeetingRoomControls({ source: signal(source), key: KEY });
  source.knocks.value = [{ id: KNOCK, payload: null, at: 5 }];
  assert.deepEqual(room.knocks.value, [{ id: KNOCK, name: null, verified: false, at: 5 }]);

  const sealed = JSON.parse(JSON.stringify(await newcomer.sealKnock(KNOCK, "Dan")));
  const forged = JSON.parse(JSON.stringify(await stranger.sealKnock(BOB, "Mallory")));
  source.knocks.value = [
    { id: KNOCK, payload: sealed, at: 5 },
    { id: BOB, payload: forged, at: 6 },
  ];
  assert.equal(room.knocks.value[0].name, null, "still being opened");
  await settle();
  assert.deepEqual(room.knocks.value, [
    { id: KNOCK, name: "Dan", verified: true, at: 5 },
    { id: BOB, name: "", verified: false, at: 6 },
  ]);
  // A new roster with the same knocks does not open them again.
  const opens = source.opens;
  source.knocks.value = [...source.knocks.value];
  await settle();
  assert.equal(source.opens, opens);
  // A knock that left is forgotten.
  source.knocks.value = [{ id: KNOCK, payload: sealed, at: 5 }];
  assert.deepEqual(room.knocks.value.map((k) => k.id), [KNOCK]);
  // Not a host (any more): no knocks shown.
  source.room.value = view({ host: BOB, hosts: [BOB] });
  assert.deepEqual(room.knocks.value, []);
  room.dispose();
});

Deno.test("knocks: one with the new link opens once we switch to the new key", async () => {
  const hostRing = await SealRing.create({ key: bytesOf(KEY), room: ROOM });
  const next = newMeetingKey();
  const newcomer = await SealRing.create({ key: bytesOf(next), room: ROOM });
  const { source } = fakeSource(hostRing);
  const room = new MeetingRoomControls({ source: signal(source), key: KEY });
  const payload = JSON.parse(JSON.stringify(await newcomer.sealKnock(KNOCK, "Dan")));
  source.knocks.value = [{ id: KNOCK, payload, at: 5 }];
  await settle();
  assert.deepEqual(room.knocks.value, [{ id: KNOCK, name: "", verified: false, at: 5 }]);
  assert.equal(await room.useKey(next, 1), true);
  await settle();
  assert.deepEqual(room.knocks.value, [{ id: KNOCK, name: "Dan", verified: true, at: 5 }]);
  room.dispose();
});

Deno.test("useKey: a newer epoch switches the session and the signals; older ones do not", async () => {
  const { source, keys } = fakeSource();
  const room = new MeetingRoomControls({ source: signal(source), key: KEY });
  const k1 = newMeetingKey();
  assert.equal(await room.useKey("not a key", 1), false);
  assert.equal(await room.useKey(k1, 0.5), false);
  assert.equal(await room.useKey(k1, -1), false);
  assert.equal(keys.length, 0);
  assert.equal(await room.useKey(k1, 1), true);
  assert.equal(room.key.value, k1);
  assert.equal(room.keyEpoch.value, 1);
  assert.deepEqual(keys, [bytesOf(k1)]);
  assert.equal(await room.useKey(newMeetingKey(), 0), false, "older epoch");
  assert.equal(await room.useKey(k1, 1), false, "the same key again");
  assert.equal(keys.length, 1);
  assert.equal(room.current.key, k1);
  room.dispose();
});

Deno.test("useKey: two hosts' keys of the same epoch end on the larger, in either order", async () => {
  const [small, large] = [newMeetingKey(), newMeetingKey()].sort();
  for (const order of [[small, large], [large, small]]) {
    const { source } = fakeSource();
    const room = new MeetingRoomControls({ source: signal(source), key: KEY });
    // At once: each judged after the other.
    const results = await Promise.all(order.map((k) => room.useKey(k, 3)));
    assert.equal(room.key.value, large);
    assert.equal(room.keyEpoch.value, 3);
    assert.deepEqual(results, order[0] === small ? [true, true] : [true, false]);
    room.dispose();
  }
});

Deno.test("useKey: a key the session refuses changes nothing", async () => {
  const { source } = fakeSource();
  source.failUseKey = true;
  const room = new MeetingRoomControls({ source: signal(source), key: KEY });
  assert.equal(await room.useKey(newMeetingKey(), 1), false);
  assert.equal(room.key.value, KEY);
  assert.equal(room.keyEpoch.value, 0);
  room.dispose();
});

Deno.test("useKey before joining changes the key the meeting will join with", async () => {
  const live = signal<RoomSource | null>(null);
  const room = new MeetingRoomControls({ source: live, key: KEY });
  const next = newMeetingKey();
  assert.equal(await room.useKey(next, 1), true);
  assert.equal(room.current.key, next);
  assert.deepEqual(room.current.bytes, bytesOf(next));
  room.dispose();
});

Deno.test("detached controls: nothing to act on", async () => {
  const room = detachedRoomControls();
  assert.equal(room.act({ type: "end" }), false);
  assert.equal(room.isHost.value, false);
  assert.equal(await room.useKey(KEY, 1), true, "only the signals change");
  assert.equal(room.key.value, KEY);
  room.dispose();
});
