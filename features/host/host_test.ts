/**
 * Host controls' engine: the key offer's validator, the epoch and tie rules, who may send a key,
 * which removals rotate the key; and the real feature on real feature hosts joined by a TestMesh,
 * each with a room that behaves like the core's (`useKey` takes only newer keys), while the test
 * plays the server (rosters with hosts and removals).
 */
import assert from "node:assert/strict";
import { computed, type Signal, signal } from "@preact/signals-core";
import { defineFeature, type HostAction, type RoomControls } from "../../mesh/feature.ts";
import { newMeetingKey } from "../../mesh/meeting_key.ts";
import { TestMesh } from "../../mesh/testing.ts";
import type { PeerId } from "../../mesh/types.ts";
import type { KnockView, RemovalView } from "../../signaling/protocol.ts";
import {
  createHost,
  type Host,
  isNewerKey,
  MAX_KEY_EPOCH,
  mayOfferKey,
  parseKeyOffer,
  removalId,
  removalsToRotateFor,
} from "./host.ts";

const KEY = newMeetingKey();

Deno.test("parseKeyOffer: a meeting key and an epoch ≥ 1, a fresh object, nothing else", () => {
  assert.deepEqual(parseKeyOffer({ key: KEY, epoch: 1 }), { key: KEY, epoch: 1 });
  assert.deepEqual(parseKeyOffer({ key: KEY, epoch: MAX_KEY_EPOCH }), {
    key: KEY,
    epoch: MAX_KEY_EPOCH,
  });
  const parsed = parseKeyOffer(
    JSON.parse(`{"key":"${KEY}","epoch":2,"by":"ada","__proto__":{"epoch":9}}`),
  );
  assert.deepEqual(parsed, { key: KEY, epoch: 2 });
  assert.deepEqual(Object.keys(parsed!), ["key", "epoch"]);
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  for (
    const body of [
      { key: `#${KEY}`, epoch: 1 }, // the fragment's form is not the key's
      { key: KEY.slice(1), epoch: 1 },
      { key: `${KEY}A`, epoch: 1 },
      { key: `${KEY.slice(0, 21)}B`, epoch: 1 }, // non-zero padding bits: another spelling
      { key: `${KEY.slice(0, 20)}+/`, epoch: 1 },
      { key: "", epoch: 1 },
      { key: 42, epoch: 1 },
      { key: KEY, epoch: 0 },
      { key: KEY, epoch: -1 },
      { key: KEY, epoch: 1.5 },
      { key: KEY, epoch: "2" },
      { key: KEY, epoch: Number.NaN },
      { key: KEY, epoch: Infinity },
      { key: KEY, epoch: MAX_KEY_EPOCH + 1 },
      { key: KEY },
      { epoch: 1 },
      JSON.parse(`{"__proto__":{"key":"${KEY}","epoch":1}}`),
      null,
      KEY,
      [KEY, 1],
    ]
  ) {
    assert.equal(parseKeyOffer(body), null, `accepted ${JSON.stringify(body)}`);
  }
});

Deno.test("isNewerKey: a larger epoch wins; at the same epoch the larger key; never an equal", () => {
  const a = "A".repeat(21) + "A", b = "A".repeat(21) + "Q";
  assert.ok(b > a);
  assert.equal(isNewerKey({ key: a, epoch: 1 }, { key: a, epoch: 2 }), true);
  assert.equal(isNewerKey({ key: b, epoch: 1 }, { key: a, epoch: 2 }), true, "epoch first");
  assert.equal(isNewerKey({ key: a, epoch: 2 }, { key: b, epoch: 1 }), false, "an older epoch");
  assert.equal(isNewerKey({ key: a, epoch: 1 }, { key: b, epoch: 1 }), true, "tie: larger key");
  assert.equal(isNewerKey({ key: b, epoch: 1 }, { key: a, epoch: 1 }), false);
  assert.equal(isNewerKey({ key: a, epoch: 1 }, { key: a, epoch: 1 }), false, "the same offer");
  assert.equal(isNewerKey({ key: a, epoch: 0 }, { key: a, epoch: 0 }), false);
});

Deno.test("mayOfferKey: only a peer the roster lists as host, never ourselves", () => {
  assert.equal(mayOfferKey("ada", "bob", ["ada"]), true);
  assert.equal(mayOfferKey("ada", "bob", ["cid", "ada"]), true);
  assert.equal(mayOfferKey("eve", "bob", ["ada"]), false);
  assert.equal(mayOfferKey("eve", "bob", []), false);
  assert.equal(mayOfferKey("bob", "bob", ["bob"]), false, "our own id cannot come over a link");
});

Deno.test("removalsToRotateFor: our own kicks not seen yet, nothing else", () => {
  const kick = (peer: PeerId, by: PeerId | null, at = 1): RemovalView => ({
    peer,
    code: "kicked",
    by,
    unreachable: [],
    at,
  });
  const mesh: RemovalView = {
    peer: "dan",
    code: "mesh-incomplete",
    by: null,
    unreachable: [],
    at: 2,
  };
  const list = [kick("eve", "ada"), kick("fay", "bob"), mesh, kick("gus", "ada", 3)];
  assert.deepEqual(removalsToRotateFor("ada", list, new Set()), [list[0], list[3]]);
  assert.deepEqual(removalsToRotateFor("ada", list, new Set([removalId(list[0])])), [list[3]]);
  assert.deepEqual(removalsToRotateFor("bob", list, new Set()), [list[1]]);
  assert.deepEqual(removalsToRotateFor("cid", list, new Set()), []);
  assert.deepEqual(removalsToRotateFor(null, list, new Set()), [], "not joined: nothing");
  assert.notEqual(removalId(kick("eve", "ada", 1)), removalId(kick("eve", "ada", 2)));
});

// ---------------------------------------------------------------------------------------------
// The feature in a meeting

/** What the server tells every member: hosts and removals (one room state for all). */
interface ServerState {
  hosts: Signal<PeerId[]>;
  removals: Signal<RemovalView[]>;
  /** Hosts only, in the real core: knocks with their opened names. */
  knocks: Signal<KnockView[]>;
}

/** A member's room: shared server state, its own key and epoch, its actions recorded. */
class FakeRoom implements RoomControls {
  readonly hosts;
  readonly isHost;
  readonly locked = signal(false);
  readonly lobby = signal(false);
  readonly knocks;
  readonly disputes = signal<[PeerId, PeerId][]>([]);
  readonly removals;
  readonly key = signal(KEY);
  readonly keyEpoch = signal(0);
  readonly acts: HostAction[] = [];

  constructor(readonly self: PeerId, server: ServerState) {
    this.hosts = server.hosts;
    this.isHost = computed(() => server.hosts.value.includes(self));
    this.removals = server.removals;
    this.knocks = computed(() =>
      this.isHost.value
        ? server.knocks.value.map((k) => ({
          id: k.id,
          name: k.payload === null ? null : String(k.payload),
          verified: k.payload !== "",
          at: k.at,
        }))
        : []
    );
  }

  act(action: HostAction): boolean {
    if (!this.isHost.peek()) return false;
    this.acts.push(action);
    return true;
  }

  // The core's rule (mesh/feature.ts): a meeting key, and newer than ours.
  useKey(key: string, epoch: number): Promise<boolean> {
    const newer = epoch > this.keyEpoch.peek() ||
      (epoch === this.keyEpoch.peek() && key > this.key.peek());
    if (!parseKeyOffer({ key, epoch }) || !newer) return Promise.resolve(false);
    this.key.value = key;
    this.keyEpoch.value = epoch;
    return Promise.resolve(true);
  }
}

class HostMeeting {
  readonly mesh: TestMesh;
  readonly server: ServerState = {
    hosts: signal<PeerId[]>([]),
    removals: signal<RemovalView[]>([]),
    knocks: signal<KnockView[]>([]),
  };
  readonly rooms = new Map<PeerId, FakeRoom>();
  readonly features = new Map<PeerId, Host>();

  constructor(peers: PeerId[], hosts: PeerId[]) {
    this.server.hosts.value = hosts;
    this.mesh = new TestMesh([]);
    for (const peer of peers) this.add(peer);
  }

  add(peer: PeerId): Host {
    const room = new FakeRoom(peer, this.server);
    this.rooms.set(peer, room);
    const feature = this.mesh.add(peer).create(
      defineFeature("host", (ctx) => createHost(ctx, room)),
    );
    this.features.set(peer, feature);
    return feature;
  }

  /** What the server does on `remove`: the removal in the roster, then the member is gone. */
  kick(peer: PeerId, by: PeerId, opts: { linkStaysOpen?: boolean } = {}): void {
    this.server.removals.value = [
      ...this.server.removals.peek(),
      { peer, code: "kicked", by, unreachable: [], at: Date.now() },
    ];
    if (!opts.linkStaysOpen) this.mesh.remove(peer);
  }

  keyOf(peer: PeerId): { key: string; epoch: number } {
    const room = this.rooms.get(peer)!;
    return { key: room.key.value, epoch: room.keyEpoch.value };
  }

  /** Frames on `host/key` delivered to `peer`. */
  keyFramesTo(peer: PeerId): string[] {
    return this.mesh.wire.filter((w) => w.to === peer && w.text.includes('"host/key"'))
      .map((w) => w.text);
  }
}

async function meetingOf(peers: PeerId[], hosts: PeerId[]): Promise<HostMeeting> {
  const m = new HostMeeting(peers, hosts);
  m.mesh.connectAll();
  await m.mesh.flush();
  return m;
}

Deno.test("a host's removal rotates the key for everyone else, never for the removed", async () => {
  const m = await meetingOf(["ada", "bob", "cid", "eve"], ["ada"]);
  const ada = m.features.get("ada")!;
  assert.equal(ada.remove("eve"), true);
  assert.deepEqual(m.rooms.get("ada")!.acts, [{ type: "remove", peer: "eve" }]);
  assert.equal(m.keyOf("ada").epoch, 0, "nothing rotates before the server confirms");

  // The roster confirming it arrives while eve's link is still open.
  m.kick("eve", "ada", { linkStaysOpen: true });
  await m.mesh.flush();
  const rotated = m.keyOf("ada");
  assert.equal(rotated.epoch, 1);
  assert.notEqual(rotated.key, KEY);
  assert.deepEqual(m.keyOf("bob"), rotated);
  assert.deepEqual(m.keyOf("cid"), rotated);
  assert.deepEqual(m.keyOf("eve"), { key: KEY, epoch: 0 });
  assert.deepEqual(m.keyFramesTo("eve"), [], "the removed member never hears the new key");
  assert.equal(m.keyFramesTo("bob").length, 1);
  assert.ok(
    m.mesh.notices("ada").some((n) => /link changed, so Eve's copy no longer works/.test(n.text)),
  );
  assert.ok(m.mesh.notices("bob").some((n) => /link changed/.test(n.text)));

  // The same removal listed again in later rosters rotates nothing more.
  m.server.removals.value = [...m.server.removals.peek()];
  m.mesh.remove("eve");
  await m.mesh.flush();
  assert.equal(m.keyOf("ada").epoch, 1);
  assert.equal(ada.rotations.value, 1);
});

Deno.test("only the acting host rotates; another host's kick and mesh evictions do not", async () => {
  const m = await meetingOf(["ada", "bob", "cid", "dan"], ["ada", "bob"]);
  m.kick("dan", "bob");
  await m.mesh.flush();
  const rotated = m.keyOf("bob");
  assert.equal(rotated.epoch, 1);
  assert.deepEqual(m.keyOf("ada"), rotated, "ada took bob's key, and sent none of her own");
  assert.deepEqual(m.keyOf("cid"), rotated);
  assert.equal(m.features.get("ada")!.rotations.value, 1);
  assert.equal(
    m.mesh.wire.filter((w) => w.from === "ada" && w.text.includes('"host/key"')).length,
    0,
  );

  m.server.removals.value = [
    ...m.server.removals.peek(),
    { peer: "cid", code: "mesh-incomplete", by: null, unreachable: ["ada"], at: Date.now() },
  ];
  m.mesh.remove("cid");
  await m.mesh.flush();
  assert.equal(m.keyOf("ada").epoch, 1, "no rotation for the full-mesh guarantee's evictions");
});

Deno.test("keys from a non-host, or not newer, are refused and change nothing", async () => {
  const m = await meetingOf(["ada", "bob", "eve"], ["ada"]);
  const frame = (body: unknown) => JSON.stringify({ t: "host/key", b: body });
  const stolen = newMeetingKey();
  m.mesh.inject("eve", "bob", frame({ key: stolen, epoch: 5 }));
  await m.mesh.flush();
  assert.deepEqual(m.keyOf("bob"), { key: KEY, epoch: 0 });
  assert.equal(m.features.get("bob")!.refused.value, 1);

  m.kick("eve", "ada");
  await m.mesh.flush();
  const current = m.keyOf("bob");
  assert.equal(current.epoch, 1);
  // A replay of an older key from the host, and the same one again.
  m.mesh.inject("ada", "bob", frame({ key: KEY, epoch: 0 }));
  m.mesh.inject("ada", "bob", frame(current));
  // A host's forged epoch is taken (hosts are trusted with the key), but a demoted one's is not.
  m.server.hosts.value = ["bob"];
  m.mesh.inject("ada", "bob", frame({ key: stolen, epoch: 9 }));
  await m.mesh.flush();
  assert.deepEqual(m.keyOf("bob"), current);
  assert.equal(m.mesh.host("bob").dropped.invalid, 1, "epoch 0 fails the validator");
  assert.equal(m.features.get("bob")!.refused.value, 3);
});

Deno.test("two hosts removing at once: everyone ends on the larger of their two keys", async () => {
  const m = await meetingOf(["ada", "bob", "cid", "dan", "eve"], ["ada", "bob"]);
  // One roster with both removals (the server applied both before telling anyone).
  const at = Date.now();
  m.server.removals.value = [
    { peer: "dan", code: "kicked", by: "ada", unreachable: [], at },
    { peer: "eve", code: "kicked", by: "bob", unreachable: [], at },
  ];
  m.mesh.remove("dan");
  m.mesh.remove("eve");
  await m.mesh.flush();
  const keys = ["ada", "bob", "cid"].map((p) => m.keyOf(p));
  assert.equal(keys[0].epoch, 1);
  assert.deepEqual(keys[1], keys[0]);
  assert.deepEqual(keys[2], keys[0]);
  assert.ok(m.keyFramesTo("dan").length === 0 && m.keyFramesTo("eve").length === 0);
});

Deno.test("a member whose link opens later hears the current key from a host only", async () => {
  const m = await meetingOf(["ada", "bob", "eve"], ["ada"]);
  m.kick("eve", "ada");
  await m.mesh.flush();
  const rotated = m.keyOf("ada");
  // Cid was away (no link) when the key changed; bob, not a host, never sends keys.
  m.add("cid");
  m.mesh.connect("bob", "cid");
  await m.mesh.flush();
  assert.deepEqual(m.keyOf("cid"), { key: KEY, epoch: 0 });
  m.mesh.connect("ada", "cid");
  await m.mesh.flush();
  assert.deepEqual(m.keyOf("cid"), rotated);
  assert.equal(m.keyFramesTo("cid").length, 1);
});

Deno.test("removals listed before we joined rotate nothing (a host who reloads)", async () => {
  const m = new HostMeeting(["bob"], ["ada"]);
  m.server.removals.value = [{ peer: "eve", code: "kicked", by: "ada", unreachable: [], at: 1 }];
  m.add("ada");
  m.mesh.connectAll();
  await m.mesh.flush();
  assert.equal(m.keyOf("ada").epoch, 0);
  assert.equal(m.features.get("ada")!.rotations.value, 0);
});

Deno.test("hosts hear who knocks, once, when the name arrives; others hear nothing", async () => {
  const m = await meetingOf(["ada", "bob"], ["ada"]);
  m.server.knocks.value = [{ id: "newcomer00000001", payload: null, at: 1 }];
  await m.mesh.flush();
  assert.deepEqual(m.mesh.notices("ada"), []);
  m.server.knocks.value = [{ id: "newcomer00000001", payload: "Cid", at: 1 }];
  m.server.knocks.value = [
    { id: "newcomer00000001", payload: "Cid", at: 1 },
    { id: "newcomer00000002", payload: "", at: 2 },
  ];
  await m.mesh.flush();
  assert.deepEqual(m.mesh.notices("ada").map((n) => n.text), [
    "Cid is waiting to join. Open Host controls to let them in.",
    "Someone whose link has another key is waiting to join.",
  ]);
  assert.deepEqual(m.mesh.notices("bob"), []);
});

Deno.test("host actions go to the room as the protocol spells them; non-hosts are told", () => {
  const m = new HostMeeting(["ada", "bob"], ["ada"]);
  const ada = m.features.get("ada")!;
  ada.setLocked(true);
  ada.setLobby(true);
  ada.mute("bob", "audio");
  ada.mute("all", "audio");
  ada.handOver("bob");
  ada.end();
  assert.deepEqual(m.rooms.get("ada")!.acts, [
    { type: "lock", locked: true },
    { type: "lobby", on: true },
    { type: "mute", peer: "bob", what: "audio" },
    { type: "mute", peer: "all", what: "audio" },
    { type: "role", peer: "bob", host: true },
    { type: "role", peer: "ada", host: false },
    { type: "end" },
  ]);
  assert.equal(m.features.get("bob")!.remove("ada"), false);
  assert.match(m.mesh.notices("bob").at(-1)!.text, /not a host/);
});

Deno.test("a page that reloaded with the new link takes the epoch quietly", async () => {
  const m = await meetingOf(["ada", "bob", "eve"], ["ada"]);
  m.kick("eve", "ada");
  await m.mesh.flush();
  const rotated = m.keyOf("ada");
  // Bob reloads: a new peer id whose core starts at epoch 0 with the link's (new) key.
  m.mesh.remove("bob");
  m.add("dan");
  m.rooms.get("dan")!.key.value = rotated.key;
  m.mesh.connect("ada", "dan");
  await m.mesh.flush();
  assert.deepEqual(m.keyOf("dan"), rotated);
  assert.deepEqual(m.mesh.notices("dan"), [], 'no "the link changed": it did not, for Dan');
  assert.equal(m.features.get("dan")!.rotations.value, 0);
});
