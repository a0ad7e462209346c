import assert from "node:assert/strict";
import { DUE_BATCH, DueSweeper } from "./due_sweep.ts";
import type { IsolateBeat } from "./isolate_beats.ts";
import { DUE_PREFIX, metricsKey, roomKeys, sweepKeys } from "./keys.ts";
import { countingKv, totalCalls, zeroCounts } from "./kv_counter.ts";
import { emptyMetrics, renderMetrics } from "./metrics.ts";
import { type JoinResult, RoomStore } from "./store.ts";
import { startHub, waitFor } from "./testing.ts";
import type { Member, PeerId } from "./types.ts";

const GRACE = 30_000;
const TIMEOUT = 20_000;

interface World {
  kv: Deno.Kv;
  clock: { t: number };
  store: RoomStore;
  /** The sweep of an isolate that serves none of the rooms ("sweeper"), on the same clock. */
  sweeper: DueSweeper;
  /** What the sweeper's KV calls read, since the last `counts` reset. */
  counts: ReturnType<typeof zeroCounts>;
}

/** A store and a sweeper on a fresh in-memory KV, with a hand-driven clock. */
async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = { t: 1_700_000_000_000 };
  const now = () => clock.t;
  const counts = zeroCounts();
  const opts = { now, graceMs: GRACE, heartbeatTimeoutMs: TIMEOUT };
  const store = new RoomStore({ kv, ...opts });
  // The sweeping isolate's own store and KV are counted; the members' servers use `store`.
  const counted = countingKv(kv, counts);
  const sweeper = new DueSweeper({
    kv: counted,
    store: new RoomStore({ kv: counted, ...opts }),
    isolate: "sweeper",
    heartbeatTimeoutMs: TIMEOUT,
    now,
  });
  try {
    await fn({ kv, clock, store, sweeper, counts });
  } finally {
    kv.close();
  }
}

function joined(r: JoinResult): Extract<JoinResult, { ok: true }> {
  assert.ok(r.ok, `join failed: ${JSON.stringify(r)}`);
  return r;
}

/** `rooms` rooms of two members each, on `isolate`; their places for heartbeats. */
async function fill(store: RoomStore, rooms: number, isolate: string, prefix = "idle") {
  const places: { room: string; peer: PeerId }[] = [];
  for (let i = 0; i < rooms; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, rooms - i) }, async (_, j) => {
        const room = `${prefix}-${i + j}`;
        const out = [];
        for (const name of ["A", "B"]) {
          out.push({ room, peer: joined(await store.join(room, { name, isolate })).member.peer });
        }
        return out;
      }),
    );
    places.push(...batch.flat());
  }
  return places;
}

function roomKeysRead(keys: Deno.KvKey[]): Deno.KvKey[] {
  return keys.filter((k) => k[0] === "rooms" || k[0] === "served");
}

async function member(kv: Deno.Kv, room: string, peer: PeerId): Promise<Member | null> {
  return (await kv.get<Member>(roomKeys.member(room, peer))).value;
}

Deno.test("a sweep pass over 1,000 idle rooms reads no room key, and makes two KV calls", async () => {
  await withWorld(async ({ kv, clock, store, sweeper, counts }) => {
    const places = await fill(store, 1_000, "live");
    // Idle with something pending: a member who left its socket, its grace not over yet.
    await store.disconnect(places[0].room, places[0].peer);
    await store.heartbeat(places.slice(1), "live");
    // The first pass of a store sweeps rooms of older versions once (see the last test).
    await sweeper.pass();
    for (let round = 0; round < 3; round++) {
      clock.t += TIMEOUT / 2;
      await store.heartbeat(places.slice(1), "live");
      Object.assign(counts, zeroCounts());
      const pass = await sweeper.pass();
      assert.equal(pass.rooms, 0);
      assert.deepEqual(roomKeysRead(counts.keysRead), [], "no room was read");
      // The isolates' beats and the due entries up to now: one listing each.
      assert.equal(totalCalls(counts), 2, JSON.stringify(counts));
      assert.equal(counts.list, 2);
      assert.ok(counts.listed <= 2, "the beats of two isolates, nothing due");
    }
    assert.equal((await member(kv, places[0].room, places[0].peer))?.connected, false);
  });
});

Deno.test("a disconnected member is removed when its grace runs out, with no server serving its room", async () => {
  await withWorld(async ({ kv, clock, store, sweeper }) => {
    const places = await fill(store, 50, "live");
    const [a, b] = [places[0], places[1]];
    const c = places[2]; // another room
    // The sockets still open on the live isolate.
    const open = places.filter((p) => p !== a && p !== c);
    await store.disconnect(a.room, a.peer);
    clock.t += 10_000;
    await store.disconnect(c.room, c.peer);
    await store.heartbeat(open, "live");
    assert.equal((await sweeper.pass()).rooms, 50, "the first pass of a store sweeps all once");
    clock.t += GRACE - 10_000;
    await store.heartbeat(open, "live");
    assert.deepEqual(await sweeper.pass(), { rooms: 0, changed: new Set(), removed: 0, lost: 0 });
    clock.t += 1; // a's grace is over
    await store.heartbeat(open, "live");
    const pass = await sweeper.pass();
    assert.deepEqual(pass, { rooms: 1, changed: new Set([a.room]), removed: 1, lost: 0 });
    assert.equal(await member(kv, a.room, a.peer), null);
    assert.deepEqual((await store.snapshot(a.room))?.members.map((m) => m.peer), [b.peer]);
    // c resumes within its grace: its room's entry comes due, is swept, and removes nobody.
    const token = await kv.get<Member>(roomKeys.member(c.room, c.peer));
    assert.ok(token.value);
    clock.t += 9_000;
    await store.heartbeat(open, "live");
    // A resume needs the token, which only the socket had: put the member back as a resume does.
    await kv.set(token.key, { ...token.value, connected: true, disconnectedAt: null });
    clock.t += 1_001;
    const later = await sweeper.pass();
    assert.deepEqual(later, { rooms: 1, changed: new Set(), removed: 0, lost: 0 });
    assert.equal((await member(kv, c.room, c.peer))?.connected, true);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: DUE_PREFIX })), [], "entries done");
  });
});

Deno.test("a burst of grace periods ending together is handled in one pass, beyond one batch", async () => {
  await withWorld(async ({ kv, clock, store, sweeper }) => {
    await sweeper.pass();
    const places = await fill(store, DUE_BATCH + 100, "live");
    const leaving = places.filter((_, i) => i % 2 === 0);
    await Promise.all(leaving.map((p) => store.disconnect(p.room, p.peer)));
    clock.t += GRACE + 1;
    await store.heartbeat(places.filter((_, i) => i % 2 === 1), "live");
    const pass = await sweeper.pass();
    assert.equal(pass.removed, leaving.length);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: DUE_PREFIX })), []);
  });
});

Deno.test("a resumed member is not removed by its old due entry; the new disconnect's entry counts", async () => {
  await withWorld(async ({ kv, clock, store, sweeper }) => {
    await sweeper.pass();
    const a = joined(await store.join("r", { name: "A", isolate: "i1" }));
    const b = joined(await store.join("r", { name: "B", isolate: "i1" }));
    await store.disconnect("r", a.member.peer);
    clock.t += 20_000;
    const resumed = await store.resume("r", a.token, "i2");
    assert.ok(resumed.ok);
    clock.t += 5_000;
    await store.disconnect("r", a.member.peer); // dropped again: a new grace period
    // b's socket is open on i1; a has none.
    const beat = async () => {
      await store.heartbeat([{ room: "r", peer: b.member.peer }], "i1");
      await store.heartbeat([], "i2");
    };
    for (const step of [5_001, GRACE - 5_001]) {
      clock.t += step;
      await beat();
      assert.equal((await sweeper.pass()).removed, 0);
    }
    clock.t += 1;
    await beat();
    assert.equal((await sweeper.pass()).removed, 1);
    assert.deepEqual((await store.snapshot("r"))?.members.map((m) => m.peer), [b.member.peer]);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: DUE_PREFIX })), []);
  });
});

Deno.test("members of a dead isolate start their grace at heartbeat timeout + one pass; only its rooms are read", async () => {
  await withWorld(async ({ kv, clock, store, sweeper, counts }) => {
    await sweeper.pass();
    const live = await fill(store, 200, "live");
    const dead = await fill(store, 3, "dead", "crashed");
    const t0 = clock.t; // "dead" registered its beat at its first join, then crashed
    clock.t = t0 + TIMEOUT;
    await store.heartbeat(live, "live");
    assert.equal((await sweeper.pass()).lost, 0, "a beat exactly the timeout old is still alive");
    clock.t += 1;
    Object.assign(counts, zeroCounts());
    const pass = await sweeper.pass();
    assert.equal(pass.lost, dead.length);
    assert.deepEqual(pass.changed, new Set(["crashed-0", "crashed-1", "crashed-2"]));
    // No room of the live isolate was read.
    const rooms = new Set(roomKeysRead(counts.keysRead).map((k) => k[0] === "rooms" ? k[1] : k[2]));
    for (const room of rooms) assert.match(String(room), /^crashed-/);
    for (const { room, peer } of dead) {
      assert.deepEqual(await member(kv, room, peer).then((m) => m?.disconnectedAt), clock.t);
    }
    // The dead isolate is forgotten: its beat and index are gone.
    assert.equal((await kv.get(sweepKeys.isolate("dead"))).versionstamp, null);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: sweepKeys.served("dead") })), []);
    // Its members are removed when their grace ends, counted from the pass.
    clock.t += GRACE;
    await store.heartbeat(live, "live");
    assert.equal((await sweeper.pass()).removed, 0);
    clock.t += 1;
    await store.heartbeat(live, "live");
    assert.equal((await sweeper.pass()).removed, dead.length);
    for (const room of ["crashed-0", "crashed-1", "crashed-2"]) {
      assert.equal(await store.snapshot(room), null);
    }
  });
});

Deno.test("a knock left by a stopped isolate is deleted by a due sweep; a waiting one stays indexed", async () => {
  await withWorld(async ({ kv, clock, store, sweeper }) => {
    await sweeper.pass();
    const host = joined(await store.join("r", { name: "H", isolate: "live" }));
    const place = [{ room: "r", peer: host.member.peer }];
    await store.hostAction("r", host.member.peer, { type: "lobby", on: true });
    const left = await store.knock("r", { isolate: "crashed" });
    const waiting = await store.knock("r", { isolate: "live" });
    assert.ok(left.ok && waiting.ok);
    // Both knocks' isolates registered; "crashed" then stops beating and never withdraws its knock.
    for (let i = 0; i < 3; i++) {
      clock.t += TIMEOUT / 2;
      await store.heartbeat(place, "live");
      await store.beatKnocks([{ room: "r", peer: waiting.peer }], "live");
      await sweeper.pass();
    }
    assert.equal((await kv.get(roomKeys.knock("r", left.peer))).versionstamp, null);
    assert.notEqual((await kv.get(roomKeys.knock("r", waiting.peer))).versionstamp, null);
    // The waiting knock's room is due again once that knock could go stale, not before.
    const due = (await Array.fromAsync(kv.list<number>({ prefix: DUE_PREFIX })))
      .filter((e) => e.key.at(-1) === "r").map((e) => e.key.at(-2) as number);
    assert.ok(due.length > 0 && due.every((at) => at > clock.t), JSON.stringify(due));
    // Once "live" stops beating that knock as well, it goes too.
    clock.t += TIMEOUT + 1;
    await store.heartbeat(place, "live");
    await sweeper.pass();
    assert.equal((await kv.get(roomKeys.knock("r", waiting.peer))).versionstamp, null);
  });
});

Deno.test("an isolate taken for lost while alive gets its members back at its next beat, and stays indexed", async () => {
  await withWorld(async ({ kv, clock, store, sweeper }) => {
    await sweeper.pass();
    const places = await fill(store, 2, "slow");
    // The slow isolate could not write its beat for a while (KV errors): a pass took it for lost.
    clock.t += TIMEOUT + 1;
    assert.equal((await sweeper.pass()).lost, places.length);
    await store.heartbeat(places, "slow");
    for (const { room, peer } of places) {
      assert.equal((await member(kv, room, peer))?.connected, true);
    }
    assert.equal(
      (await Array.fromAsync(kv.list({ prefix: sweepKeys.served("slow") }))).length,
      places.length,
    );
    // Their old due entries come due and change nothing.
    clock.t += GRACE + 1;
    await store.heartbeat(places, "slow");
    const due = await sweeper.pass();
    assert.deepEqual([due.rooms, due.removed, due.lost], [2, 0, 0]);
    // Should it now really stop, its rooms are found again through its index.
    clock.t += TIMEOUT + 1;
    assert.equal((await sweeper.pass()).lost, places.length);
  });
});

Deno.test("a clean stop is seen by the next pass at once; a member resumed elsewhere is left alone", async () => {
  await withWorld(async ({ kv, clock, store, sweeper }) => {
    await sweeper.pass();
    const a = joined(await store.join("r", { name: "A", isolate: "old" }));
    const b = joined(await store.join("r", { name: "B", isolate: "old" }));
    assert.ok((await store.resume("r", b.token, "new")).ok);
    clock.t += 1_000;
    await store.serverStopped([{ room: "r", peer: a.member.peer }], "old");
    const pass = await sweeper.pass();
    assert.deepEqual([pass.lost, pass.rooms], [1, 1]);
    assert.equal((await member(kv, "r", a.member.peer))?.connected, false);
    assert.equal((await member(kv, "r", b.member.peer))?.connected, true);
  });
});

Deno.test("a member whose socket is gone but whose close was never written is marked disconnected by its isolate", async () => {
  await withWorld(async ({ kv, clock, store, sweeper }) => {
    await sweeper.pass();
    const places = await fill(store, 1, "i");
    const [kept, lost] = places;
    await store.heartbeat(places, "i");
    // `lost`'s socket closed and KV failed the disconnect: the isolate's beats no longer name it.
    clock.t += TIMEOUT + 1;
    await store.heartbeat([kept], "i");
    assert.equal((await member(kv, lost.room, lost.peer))?.connected, false);
    assert.equal((await member(kv, kept.room, kept.peer))?.connected, true);
    clock.t += GRACE + 1;
    await store.heartbeat([kept], "i");
    assert.equal((await sweeper.pass()).removed, 1);
    assert.equal(await member(kv, lost.room, lost.peer), null);
  });
});

Deno.test("/metrics reads the totals and the isolates' records, no room key, with 1,000 rooms", async () => {
  await withWorld(async ({ kv, store }) => {
    await fill(store, 1_000, "live");
    const counts = zeroCounts();
    const text = await renderMetrics(countingKv(kv, counts), emptyMetrics("self"));
    assert.match(text, /^mooz_rooms 1000$/m);
    assert.match(text, /^mooz_participants 2000$/m);
    assert.ok(counts.keysRead.length > 0);
    for (const key of counts.keysRead) {
      assert.ok(key[0] === "metrics" || key[0] === "stats", `${key}`);
    }
  });
});

Deno.test("rooms of a version without the indexes are swept once, when no server of it runs", async () => {
  await withWorld(async ({ kv, clock, store, sweeper, counts }) => {
    const a = joined(await store.join("old", { name: "A", isolate: "v1" }));
    const b = joined(await store.join("old", { name: "B", isolate: "v1" }));
    await store.disconnect("old", a.member.peer);
    // What the older version left: no beats of isolates, no index, no due entries.
    for (const prefix of [["isolates"], ["served"], DUE_PREFIX]) {
      for await (const e of kv.list({ prefix })) await kv.delete(e.key);
    }
    // A server of the older version still runs (it publishes metrics, has no beat): wait.
    await kv.set(metricsKey("v1"), { ...emptyMetrics("v1"), updatedAt: clock.t });
    assert.equal((await sweeper.pass()).rooms, 0);
    assert.equal((await kv.get(sweepKeys.indexed)).value, null);
    // It stopped: the next pass sweeps every room once and indexes what is pending.
    clock.t += 31_000;
    assert.deepEqual(await sweeper.pass(), {
      rooms: 1,
      changed: new Set(["old"]),
      removed: 1, // a's grace ran out while nobody indexed it
      lost: 1, // b's server stopped beating long ago
    });
    assert.notEqual((await kv.get(sweepKeys.indexed)).value, null);
    Object.assign(counts, zeroCounts());
    assert.equal((await sweeper.pass()).rooms, 0);
    assert.deepEqual(roomKeysRead(counts.keysRead), []);
    clock.t += GRACE + 1;
    assert.equal((await sweeper.pass()).removed, 1);
    assert.equal(await store.snapshot("old"), null);
    void b;
  });
});

Deno.test("hubs: a member of an isolate that crashed is marked disconnected by a running hub's sweep", async () => {
  const config = { heartbeatMs: 100, heartbeatTimeoutMs: 400, inboxPollMs: 50, graceMs: 60_000 };
  await using h = await startHub(config);
  await h.hub.settle();
  // An isolate that joined a member, beat once (at its join) and then died without a word.
  const crashed = new RoomStore({ kv: h.kv, heartbeatTimeoutMs: 400 });
  const room = "k3fq-9xmp-2hdw-7rtc-a4ze";
  const peer = joined(await crashed.join(room, { name: "Z", isolate: "crashed" })).member.peer;
  const beat = (await h.kv.get<IsolateBeat>(sweepKeys.isolate("crashed"))).value;
  assert.equal(beat?.stopped, false);
  await waitFor(
    "the crashed isolate's member marked disconnected",
    async () => (await member(h.kv, room, peer))?.connected === false,
    10_000,
  );
  assert.equal((await h.kv.get(sweepKeys.isolate("crashed"))).versionstamp, null);
});
