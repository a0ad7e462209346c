import assert from "node:assert/strict";
import type { IsolateBeat } from "./isolate_beats.ts";
import { roomKeys as keys, ROOMS_PREFIX, sweepKeys } from "./keys.ts";
import { MAX_CAPACITY } from "./limits.ts";
import { type JoinResult, RoomStore, STOPPED_BEAT, type StoreOptions } from "./store.ts";
import type { Links, Member, RoomMeta } from "./types.ts";

const KINDS = ["member", "beat", "links"] as const;
/** A sweep that did nothing. */
const NONE = { removed: [], lost: [] };

/** A store on a fresh in-memory KV with a hand-driven clock; the KV is closed afterwards. */
async function withStore(
  opts: Partial<StoreOptions>,
  fn: (s: { store: RoomStore; kv: Deno.Kv; clock: { t: number } }) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = { t: 1_700_000_000_000 };
  try {
    await fn({ store: new RoomStore({ kv, now: () => clock.t, ...opts }), kv, clock });
  } finally {
    kv.close();
  }
}

function joined(r: JoinResult): Extract<JoinResult, { ok: true }> {
  assert.ok(r.ok, `join failed: ${JSON.stringify(r)}`);
  return r;
}

async function keysUnder(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Deno.KvKey[]> {
  const found: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix })) found.push(e.key);
  return found;
}

async function sha256Hex(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function assertAdmitsExactly(kv: Deno.Kv, room: string, results: JoinResult[], n: number) {
  const admitted = results.filter((r) => r.ok);
  assert.equal(admitted.length, n);
  for (const r of results) if (!r.ok) assert.equal(r.code, "room-full");
  const meta = (await kv.get<RoomMeta>(keys.room(room))).value;
  assert.ok(meta);
  assert.equal(meta.members.length, n);
  assert.equal(new Set(meta.members).size, n);
  assert.deepEqual(
    new Set(meta.members),
    new Set(admitted.map((r) => r.ok && r.member.peer)),
  );
  for (const kind of KINDS) {
    const found = await keysUnder(kv, [...keys.room(room), kind]);
    assert.deepEqual(new Set(found.map((k) => k[3])), new Set(meta.members), kind);
  }
  assert.ok(meta.host !== null && meta.members.includes(meta.host));
}

Deno.test("50 concurrent joins to a room of capacity 6 admit exactly 6", async () => {
  await withStore({ capacity: 6 }, async ({ store, kv }) => {
    const start = performance.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.join("r1", { name: `p${i}`, isolate: "iso" })),
    );
    console.log(`  50 concurrent joins (memory): ${(performance.now() - start).toFixed(1)} ms`);
    await assertAdmitsExactly(kv, "r1", results, 6);
  });
});

Deno.test("concurrent joins through two KV handles on one sqlite file (database is locked)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/kv.sqlite`;
  const kvA = await Deno.openKv(path);
  const kvB = await Deno.openKv(path);
  try {
    const a = new RoomStore({ kv: kvA, capacity: 6 });
    const b = new RoomStore({ kv: kvB, capacity: 6 });
    const start = performance.now();
    const results = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => (i % 2 ? a : b).join("r1", { name: `p${i}`, isolate: i % 2 ? "a" : "b" }),
      ),
    );
    console.log(
      `  50 concurrent joins (2 handles, file): ${(performance.now() - start).toFixed(1)} ms`,
    );
    await assertAdmitsExactly(kvA, "r1", results, 6);
    await assertAdmitsExactly(kvB, "r1", results, 6);
  } finally {
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a locked room refuses joins but not resumes; unlocking admits again", async () => {
  await withStore({}, async ({ store, kv }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "i1" }));
    // However the flag was set (a host's `lock`, the host fallback, an operator), joins obey it.
    const setLocked = async (locked: boolean) => {
      const entry = await kv.get<RoomMeta>(keys.room("r"));
      assert.ok(entry.value);
      await kv.set(entry.key, { ...entry.value, locked });
    };
    await setLocked(true);
    assert.deepEqual(await store.join("r", { name: "B", isolate: "i1" }), {
      ok: false,
      code: "room-locked",
    });
    await store.disconnect("r", a.member.peer);
    const resumed = await store.resume("r", a.token, "i2");
    assert.ok(resumed.ok, JSON.stringify(resumed));
    assert.equal(resumed.member.peer, a.member.peer);
    await setLocked(false);
    const b = joined(await store.join("r", { name: "B", isolate: "i1" }));
    assert.deepEqual(b.meta.members, [a.member.peer, b.member.peer]);
  });
});

Deno.test("capacity counts disconnected members; a full room reports room-full", async () => {
  await withStore({ capacity: 2 }, async ({ store }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "i" }));
    joined(await store.join("r", { name: "B", isolate: "i" }));
    await store.disconnect("r", a.member.peer);
    assert.deepEqual(await store.join("r", { name: "C", isolate: "i" }), {
      ok: false,
      code: "room-full",
    });
    await store.remove("r", a.member.peer);
    joined(await store.join("r", { name: "C", isolate: "i" }));
  });
});

Deno.test("the first member is host; on removal the host passes to the earliest remaining", async () => {
  await withStore({}, async ({ store, kv }) => {
    const ids: string[] = [];
    for (const name of ["A", "B", "C", "D"]) {
      ids.push(joined(await store.join("r", { name, isolate: "i" })).member.peer);
    }
    const [pa, pb, pc, pd] = ids;
    assert.equal((await kv.get<RoomMeta>(keys.room("r"))).value?.host, pa);
    let meta = await store.remove("r", pa);
    assert.equal(meta?.host, pb);
    assert.deepEqual(meta?.members, [pb, pc, pd]);
    // Removing someone else keeps the host.
    meta = await store.remove("r", pd);
    assert.equal(meta?.host, pb);
    // Idempotent: removing again changes nothing.
    assert.deepEqual(await store.remove("r", pd), meta);
    assert.deepEqual(await store.remove("r", pa), meta);
    meta = await store.remove("r", pb);
    assert.equal(meta?.host, pc);
    assert.deepEqual(meta?.members, [pc]);
    assert.equal(await store.remove("r", pc), null);
    assert.equal(await store.remove("r", pc), null);
    assert.equal((await kv.get(keys.room("r"))).value, null);
  });
});

Deno.test("a member whose server stopped beating starts its grace then; removed only after it", async () => {
  await withStore({ heartbeatTimeoutMs: 20_000, graceMs: 30_000 }, async ({ store, kv, clock }) => {
    // b's server beats; a's ("dead") stopped beating after it joined.
    const ISO = "i";
    const a = joined(await store.join("r", { name: "A", isolate: "dead" })).member.peer;
    const b = joined(await store.join("r", { name: "B", isolate: "i" })).member.peer;
    clock.t += 15_000;
    await store.heartbeat([{ room: "r", peer: b }], ISO);
    assert.equal((await kv.get<IsolateBeat>(sweepKeys.isolate(ISO))).value?.beatAt, clock.t);
    clock.t += 5_000; // a's server's beat is exactly 20 s old: not older than the timeout yet
    assert.deepEqual(await store.sweep("r"), NONE);
    clock.t += 1;
    // Its server is gone, not necessarily the person: a is kept, disconnected from now on.
    assert.deepEqual(await store.sweep("r"), { removed: [], lost: [a] });
    const lost = (await kv.get<Member>(keys.member("r", a))).value;
    assert.equal(lost?.connected, false);
    assert.equal(lost?.disconnectedAt, clock.t);
    assert.deepEqual(await store.sweep("r"), NONE);
    clock.t += 30_000; // the whole grace period, counted from the sweep, not from the last beat
    await store.heartbeat([{ room: "r", peer: b }], ISO);
    assert.deepEqual(await store.sweep("r"), NONE);
    clock.t += 1;
    await store.heartbeat([{ room: "r", peer: b }], ISO);
    assert.deepEqual(await store.sweep("r"), { removed: [a], lost: [] });
    const snap = await store.snapshot("r");
    assert.deepEqual(snap?.members.map((m) => m.peer), [b]);
    assert.equal(snap?.meta.host, b);
    assert.equal((await kv.get(keys.member("r", a))).versionstamp, null);
    assert.equal((await kv.get(keys.beat("r", a))).versionstamp, null);
    // A heartbeat naming the removed member does not bring any of its keys back.
    await store.heartbeat([{ room: "r", peer: a }, { room: "r", peer: b }], ISO);
    await store.heartbeat([{ room: "r", peer: a }], "dead");
    assert.deepEqual(
      (await keysUnder(kv, keys.room("r"))).filter((k) => k[3] === a),
      [],
    );
    assert.deepEqual((await store.snapshot("r"))?.members.map((m) => m.peer), [b]);
  });
});

Deno.test("after an outage longer than the grace, members of the dead server still resume", async () => {
  await withStore({ heartbeatTimeoutMs: 20_000, graceMs: 30_000 }, async ({ store, clock }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "dead" }));
    const b = joined(await store.join("r", { name: "B", isolate: "dead" }));
    clock.t += 40_000; // nothing ran meanwhile: the whole deployment was down
    const ra = await store.resume("r", a.token, "new");
    assert.ok(ra.ok, JSON.stringify(ra));
    assert.equal(ra.member.peer, a.member.peer);
    // The first sweep after the restart starts b's grace period; b may still come back in it.
    assert.deepEqual(await store.sweep("r"), { removed: [], lost: [b.member.peer] });
    clock.t += 29_000;
    await store.heartbeat([{ room: "r", peer: a.member.peer }], "new");
    const rb = await store.resume("r", b.token, "new");
    assert.ok(rb.ok, JSON.stringify(rb));
    assert.deepEqual((await store.snapshot("r"))?.members.map((m) => m.connected), [true, true]);
  });
});

Deno.test("a clean stop marks the server's members at once, not those resumed elsewhere", async () => {
  await withStore({ heartbeatTimeoutMs: 20_000, graceMs: 30_000 }, async ({ store, kv, clock }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "old" }));
    const b = joined(await store.join("r", { name: "B", isolate: "old" }));
    const c = joined(await store.join("r", { name: "C", isolate: "other" })).member.peer;
    // b resumed on another server just before "old" stopped.
    assert.ok((await store.resume("r", b.token, "other")).ok);
    clock.t += 1_000;
    const served = [a, b].map((j) => ({ room: "r", peer: j.member.peer }));
    await store.serverStopped(served, "old");
    assert.equal((await kv.get<IsolateBeat>(sweepKeys.isolate("old"))).value?.stopped, true);
    // a counts as last seen at STOPPED_BEAT; b's beat is the one its resume wrote, a second ago.
    assert.deepEqual(
      (await store.snapshot("r"))?.members.map((m) => m.heartbeatAt),
      [STOPPED_BEAT, clock.t - 1_000, clock.t - 1_000],
    );
    assert.deepEqual(await store.sweep("r"), { removed: [], lost: [a.member.peer] });
    assert.deepEqual(
      (await store.snapshot("r"))?.members.map((m) => [m.peer, m.connected]),
      [[a.member.peer, false], [b.member.peer, true], [c, true]],
    );
  });
});

Deno.test("a socket still held here gets its member back when another server took it for lost", async () => {
  await withStore({ heartbeatTimeoutMs: 20_000 }, async ({ store, kv, clock }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "slow" })).member.peer;
    // The slow server could not write its beats for a while (KV errors): someone swept.
    clock.t += 20_001;
    assert.deepEqual(await store.sweep("r"), { removed: [], lost: [a] });
    // Another server's heartbeat does not touch it; its own does.
    await store.heartbeat([{ room: "r", peer: a }], "other");
    assert.equal((await kv.get<Member>(keys.member("r", a))).value?.connected, false);
    await store.heartbeat([{ room: "r", peer: a }], "slow");
    const back = (await kv.get<Member>(keys.member("r", a))).value;
    assert.equal(back?.connected, true);
    assert.equal(back?.disconnectedAt, null);
  });
});

Deno.test("every resume rotates the token; of concurrent resumes with one token exactly one wins", async () => {
  await withStore({}, async ({ store }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "i" }));
    const first = await store.resume("r", a.token, "i2");
    assert.ok(first.ok);
    assert.notEqual(first.token, a.token);
    assert.equal(first.token.split(".")[0], a.member.peer);
    const stale = await store.resume("r", a.token, "i3");
    assert.ok(!stale.ok && /does not match/.test(stale.message), JSON.stringify(stale));
    let token = first.token;
    for (let round = 0; round < 50; round++) {
      const results = await Promise.all(
        Array.from({ length: 3 }, (_, i) => store.resume("r", token, `i${i}`)),
      );
      const won = results.filter((r) => r.ok);
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results)}`);
      for (const r of results) if (!r.ok) assert.match(r.message, /does not match/);
      token = won[0].ok ? won[0].token : "";
    }
  });
});

Deno.test("heartbeat writes one key however many members, and none for members that do not exist", async () => {
  await withStore({ capacity: MAX_CAPACITY }, async ({ store, kv, clock }) => {
    const real: { room: string; peer: string }[] = [];
    for (let r = 0; r < 3; r++) {
      const room = `room-${r}-${"x".repeat(40)}`;
      const results = await Promise.all(
        Array.from({ length: 30 }, () => store.join(room, { name: "n", isolate: "i" })),
      );
      for (const res of results) real.push({ room, peer: joined(res).member.peer });
    }
    const ghosts = Array.from({ length: 1500 }, (_, i) => ({
      room: `room-${i % 3}-${"x".repeat(40)}`,
      peer: `ghost${String(i).padStart(11, "0")}`,
    }));
    clock.t += 1000;
    const before = await Array.fromAsync(kv.list({ prefix: ROOMS_PREFIX }));
    await store.heartbeat([...ghosts, ...real, ...real], "i");
    // The members' keys are as they were (their beats are their join's); only the isolate beat.
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: ROOMS_PREFIX })), before);
    assert.equal((await kv.get<IsolateBeat>(sweepKeys.isolate("i"))).value?.beatAt, clock.t);
    const snapshots = await Promise.all([0, 1, 2].map((r) => store.snapshot(real[30 * r].room)));
    for (const snap of snapshots) {
      for (const m of snap!.members) assert.equal(m.heartbeatAt, clock.t);
    }
    // The served index holds exactly the real members, ghosts not.
    const served = (await Array.fromAsync(kv.list({ prefix: sweepKeys.served("i") })))
      .map((e) => JSON.stringify(e.key.slice(2)));
    assert.deepEqual(new Set(served), new Set(real.map((e) => JSON.stringify([e.room, e.peer]))));
    await store.heartbeat([], "i");
  });
});

Deno.test("resume within grace keeps the peer id; after grace it fails, before or after sweep", async () => {
  await withStore({ graceMs: 30_000, heartbeatTimeoutMs: 20_000 }, async ({ store, kv, clock }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "i1" }));
    const b = joined(await store.join("r", { name: "B", isolate: "i1" })).member.peer;
    const peer = a.member.peer;

    // A still-connected member can be resumed too (old socket not yet noticed dead).
    const again = await store.resume("r", a.token, "i0");
    assert.ok(again.ok);
    assert.equal(again.member.isolate, "i0");
    const ISO = "i1";

    await store.disconnect("r", peer);
    const gone = (await kv.get<Member>(keys.member("r", peer))).value;
    assert.equal(gone?.connected, false);
    assert.equal(gone?.disconnectedAt, clock.t);
    // Longer than the heartbeat timeout but within grace: a disconnected member is not swept.
    clock.t += 25_000;
    await store.heartbeat([{ room: "r", peer: b }], ISO);
    assert.deepEqual(await store.sweep("r"), NONE);
    const r = await store.resume("r", again.token, "i2");
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.member.peer, peer);
    assert.equal(r.member.isolate, "i2");
    assert.equal(r.member.connected, true);
    assert.equal(r.member.disconnectedAt, null);
    assert.deepEqual(r.meta.members, [peer, b]);
    assert.deepEqual((await kv.get<Member>(keys.member("r", peer))).value, r.member);
    assert.equal((await kv.get<number>(keys.beat("r", peer))).value, clock.t);

    // Grace expired, sweep not run yet: resume checks the clock itself.
    await store.disconnect("r", peer);
    clock.t += 30_001;
    await store.heartbeat([{ room: "r", peer: b }], ISO);
    const late = await store.resume("r", r.token, "i3");
    assert.equal(late.ok, false);
    assert.ok(
      !late.ok && late.code === "resume-failed" && /grace/.test(late.message),
      JSON.stringify(late),
    );
    assert.deepEqual(await store.sweep("r"), { removed: [peer], lost: [] });
    const afterSweep = await store.resume("r", r.token, "i3");
    assert.ok(
      !afterSweep.ok && /not a member/.test(afterSweep.message),
      JSON.stringify(afterSweep),
    );
  });
});

Deno.test("resume fails for a wrong, malformed or foreign token", async () => {
  await withStore({}, async ({ store }) => {
    const a = joined(await store.join("roomA", { name: "A", isolate: "i" }));
    joined(await store.join("roomB", { name: "B", isolate: "i" }));
    const secret = a.token.split(".")[1];
    const wrongSecret = (secret[0] === "A" ? "B" : "A") + secret.slice(1);
    const cases: [string, string, RegExp][] = [
      ["roomA", `${a.member.peer}.${wrongSecret}`, /does not match/],
      ["roomA", `${a.member.peer}.${secret}x`, /malformed/],
      ["roomA", "", /malformed/],
      ["roomA", `${a.member.peer}.${secret}.x`, /malformed/],
      ["roomA", `AAAAAAAAAAAAAAAA.${secret}`, /not a member/],
      ["roomB", a.token, /not a member/],
      ["roomC", a.token, /room does not exist/],
    ];
    for (const [room, token, why] of cases) {
      const r = await store.resume(room, token, "i2");
      assert.ok(
        !r.ok && r.code === "resume-failed" && why.test(r.message),
        `${token}: ${JSON.stringify(r)}`,
      );
    }
    assert.ok((await store.resume("roomA", a.token, "i2")).ok);
  });
});

Deno.test("removing the last member deletes the room and all its keys, not other rooms'", async () => {
  await withStore({}, async ({ store, kv }) => {
    const other = joined(await store.join("other", { name: "O", isolate: "i" })).member.peer;
    const peers: string[] = [];
    for (const name of ["A", "B", "C"]) {
      peers.push(joined(await store.join("r", { name, isolate: "i" })).member.peer);
    }
    await store.reportLinks("r", peers[0], { [peers[1]]: "connected", [peers[2]]: "failed" });
    await store.heartbeat(peers.map((peer) => ({ room: "r", peer })), "i");
    await store.disconnect("r", peers[1]);
    for (const peer of peers) await store.remove("r", peer);
    assert.equal((await kv.get(keys.room("r"))).versionstamp, null);
    assert.deepEqual(await keysUnder(kv, keys.room("r")), []);
    // Only the other room's keys are left.
    assert.deepEqual(await keysUnder(kv, ROOMS_PREFIX), [
      keys.room("other"),
      keys.beat("other", other),
      keys.links("other", other),
      keys.member("other", other),
    ]);
    assert.deepEqual(await Array.fromAsync(store.rooms()), ["other"]);
    assert.equal(await store.snapshot("r"), null);
  });
});

Deno.test("sweep and remove clean orphan keys, also of a deleted room", async () => {
  await withStore({}, async ({ store, kv }) => {
    const a = joined(await store.join("r", { name: "A", isolate: "i" })).member.peer;
    // An orphan beat, as left by a heartbeat racing with a removal.
    await kv.set(keys.beat("r", "ghostghostghost0"), 1);
    await kv.set(keys.beat("dead", "ghostghostghost1"), 1);
    assert.deepEqual(await store.sweep("r"), NONE);
    assert.equal((await kv.get(keys.beat("r", "ghostghostghost0"))).versionstamp, null);
    assert.notEqual((await kv.get(keys.beat("r", a))).versionstamp, null);
    assert.equal(await store.remove("dead", "ghostghostghost1"), null);
    assert.deepEqual(await keysUnder(kv, keys.room("dead")), []);
    await kv.set(keys.links("dead", "ghostghostghost1"), {});
    assert.deepEqual(await store.sweep("dead"), NONE);
    assert.deepEqual(await keysUnder(kv, keys.room("dead")), []);
  });
});

Deno.test("reportLinks keeps members only, keeps since on unchanged state; remove strips links", async () => {
  await withStore({}, async ({ store, kv, clock }) => {
    const [a, b, c] = [
      joined(await store.join("r", { name: "A", isolate: "i" })).member.peer,
      joined(await store.join("r", { name: "B", isolate: "i" })).member.peer,
      joined(await store.join("r", { name: "C", isolate: "i" })).member.peer,
    ];
    const t0 = clock.t;
    assert.notEqual(
      await store.reportLinks("r", a, {
        [b]: "connecting",
        [c]: "connected",
        [a]: "connected",
        ghostghostghost0: "failed",
      }),
      null,
    );
    const links = async (p: string) => (await kv.get<Links>(keys.links("r", p))).value;
    assert.deepEqual(await links(a), {
      [b]: { state: "connecting", since: t0 },
      [c]: { state: "connected", since: t0 },
    });
    clock.t += 1000;
    assert.equal(await store.reportLinks("r", a, { [b]: "connecting", [c]: "connected" }), null);
    assert.notEqual(await store.reportLinks("r", a, { [b]: "connected", [c]: "connected" }), null);
    assert.deepEqual(await links(a), {
      [b]: { state: "connected", since: t0 + 1000 },
      [c]: { state: "connected", since: t0 },
    });
    assert.notEqual(await store.reportLinks("r", b, { [a]: "connected", [c]: "failed" }), null);
    assert.equal(await store.reportLinks("r", "ghostghostghost0", { [a]: "connected" }), null);
    assert.equal(await store.reportLinks("nope", a, { [b]: "connected" }), null);

    const snap = await store.snapshot("r");
    assert.deepEqual(snap?.members.map((m) => m.peer), [a, b, c]);
    assert.deepEqual(snap?.members[1].links, {
      [a]: { state: "connected", since: t0 + 1000 },
      [c]: { state: "failed", since: t0 + 1000 },
    });
    assert.equal(snap?.members[0].heartbeatAt, t0);

    await store.remove("r", c);
    assert.deepEqual(await links(a), { [b]: { state: "connected", since: t0 + 1000 } });
    assert.deepEqual(await links(b), { [a]: { state: "connected", since: t0 + 1000 } });
    // Dropping a peer from a report is a change too.
    assert.notEqual(await store.reportLinks("r", a, {}), null);
    assert.deepEqual(await links(a), {});
  });
});

Deno.test("a removed peer never reappears in links under concurrent reports", async () => {
  await withStore({}, async ({ store, kv }) => {
    for (let round = 0; round < 20; round++) {
      const room = `r${round}`;
      const [a, b, c] = await Promise.all(
        ["A", "B", "C"].map(async (name) =>
          joined(await store.join(room, { name, isolate: "i" })).member.peer
        ),
      );
      await Promise.all([
        store.reportLinks(room, a, { [b]: "connected", [c]: "connecting" }),
        store.remove(room, c),
        store.reportLinks(room, b, { [a]: "connected", [c]: "connected" }),
        store.reportLinks(room, a, { [b]: "connected", [c]: "connected" }),
      ]);
      for (const p of [a, b]) {
        const links = (await kv.get<Links>(keys.links(room, p))).value;
        assert.ok(links && !(c in links), `${round}: ${JSON.stringify(links)}`);
      }
    }
  });
});

Deno.test("peer ids and tokens are unique and well formed; the secret is never stored", async () => {
  await withStore({ capacity: MAX_CAPACITY }, async ({ store, kv }) => {
    const results: Extract<JoinResult, { ok: true }>[] = [];
    for (let r = 0; r < 4; r++) {
      for (let i = 0; i < 50; i++) {
        results.push(joined(await store.join(`r${r}`, { name: `n${i}`, isolate: "i" })));
      }
    }
    const peers = new Set(results.map((r) => r.member.peer));
    const tokens = new Set(results.map((r) => r.token));
    assert.equal(peers.size, results.length);
    assert.equal(tokens.size, results.length);
    const dump = JSON.stringify(
      await Array.fromAsync(kv.list({ prefix: [] })),
      (_, v) => v instanceof Deno.KvU64 ? String(v.value) : v,
    );
    for (const r of results) {
      assert.match(r.member.peer, /^[A-Za-z0-9_-]{16}$/);
      const [peer, secret, ...rest] = r.token.split(".");
      assert.equal(peer, r.member.peer);
      assert.deepEqual(rest, []);
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
      const stored = (await kv.get<Member>(keys.member(r.meta.id, peer))).value;
      assert.ok(stored);
      assert.equal(stored.tokenHash, await sha256Hex(secret));
      assert.match(stored.tokenHash, /^[0-9a-f]{64}$/);
      assert.ok(!JSON.stringify(stored).includes(secret));
      assert.ok(!dump.includes(secret));
    }
  });
});

Deno.test("input validation: empty name, bad capacity", async () => {
  await withStore({}, async ({ store, kv }) => {
    await assert.rejects(store.join("r", { name: "  ", isolate: "i" }), TypeError);
    assert.equal((await kv.get(keys.room("r"))).versionstamp, null);
    // No name at all: the browser seals names end to end and sends none.
    assert.equal(joined(await store.join("r", { name: "", isolate: "i" })).member.name, "");
    assert.throws(() => new RoomStore({ kv, capacity: 0 }), RangeError);
    assert.throws(() => new RoomStore({ kv, capacity: MAX_CAPACITY + 1 }), RangeError);
    assert.throws(() => new RoomStore({ kv, capacity: 2.5 }), RangeError);
  });
});

Deno.test("snapshot lists members in join order with heartbeat and links; rooms() lists ids", async () => {
  await withStore({}, async ({ store, clock }) => {
    assert.equal(await store.snapshot("r"), null);
    const a = joined(await store.join("r", { name: "A", isolate: "i" })).member.peer;
    clock.t += 5;
    const b = joined(await store.join("r", { name: "B", isolate: "j" })).member.peer;
    joined(await store.join("s", { name: "S", isolate: "j" }));
    clock.t += 5;
    await store.heartbeat([{ room: "r", peer: a }], "i");
    const snap = await store.snapshot("r");
    assert.ok(snap);
    assert.deepEqual(snap.meta.members, [a, b]);
    assert.deepEqual(
      snap.members.map((m) => [m.peer, m.name, m.isolate, m.heartbeatAt, m.links]),
      [[a, "A", "i", clock.t, {}], [b, "B", "j", clock.t - 5, {}]],
    );
    assert.deepEqual((await Array.fromAsync(store.rooms())).sort(), ["r", "s"]);
  });
});

Deno.test("snapshot and sweep read the whole room in one KV call, and its isolates' beats in one more", async () => {
  await withStore({}, async ({ kv, clock }) => {
    const calls: string[] = [];
    const counting = new Proxy(kv, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(prop));
          return value.apply(target, args);
        };
      },
    });
    const store = new RoomStore({ kv: counting, now: () => clock.t });
    const peers = [];
    for (const name of ["A", "B", "C"]) {
      peers.push(joined(await store.join("r", { name, isolate: "i" })).member.peer);
    }
    await store.reportLinks("r", peers[0], { [peers[1]]: "connected" });
    calls.length = 0;
    const snap = await store.snapshot("r");
    assert.deepEqual(calls, ["list", "getMany"]);
    assert.deepEqual(snap?.members.map((m) => m.peer), peers);
    assert.deepEqual(snap?.members[0].links, {
      [peers[1]]: { state: "connected", since: clock.t },
    });
    calls.length = 0;
    assert.deepEqual(await store.sweep("r"), NONE);
    assert.deepEqual(calls, ["list", "getMany"], "no orphans: nothing else to read");
  });
});

Deno.test("rooms() lists each room once, also one whose meta is gone; sweep deletes its keys", async () => {
  await withStore({}, async ({ store, kv }) => {
    for (const name of ["A", "B"]) joined(await store.join("r1", { name, isolate: "i" }));
    joined(await store.join("r2", { name: "C", isolate: "i" }));
    // Leftovers: a beat and links of a room whose meta is gone.
    await kv.set(keys.beat("r0", "ghostghostghost0"), 1);
    await kv.set(keys.links("r0", "ghostghostghost0"), {});
    assert.deepEqual(await Array.fromAsync(store.rooms()), ["r0", "r1", "r2"]);
    assert.deepEqual(await store.sweep("r0"), NONE);
    assert.deepEqual(await keysUnder(kv, keys.room("r0")), []);
    assert.deepEqual(await Array.fromAsync(store.rooms()), ["r1", "r2"]);
  });
});

Deno.test("rooms and members stored before host controls read with defaults and keep working", async () => {
  await withStore({}, async ({ store, kv, clock }) => {
    const [a, b] = ["AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB"];
    const legacy = {
      id: "r",
      createdAt: clock.t,
      capacity: 8,
      locked: false,
      host: a,
      members: [a, b],
    };
    await kv.set(keys.room("r"), legacy);
    for (const peer of [a, b]) {
      const { secretHash: _none, ...old } = {
        peer,
        name: "",
        joinedAt: clock.t,
        isolate: "i",
        connected: true,
        disconnectedAt: null,
        tokenHash: "0".repeat(64),
        secretHash: null,
      } satisfies Member;
      await kv.set(keys.member("r", peer), old);
      await kv.set(keys.beat("r", peer), clock.t);
      await kv.set(keys.links("r", peer), {});
    }
    const snap = await store.snapshot("r");
    assert.deepEqual(snap?.meta, {
      ...legacy,
      hosts: [a],
      hostSecrets: [],
      banned: [],
      lobby: false,
      removals: [],
    });
    assert.deepEqual(snap?.members.map((m) => m.secretHash), [null, null]);
    assert.deepEqual(snap?.knocks, []);
    // The legacy host acts as one; a join writes the new fields.
    const locked = await store.hostAction("r", a, { type: "lock", locked: true });
    assert.ok(locked.ok && locked.meta?.locked);
    assert.equal((await store.hostAction("r", b, { type: "lock", locked: false })).ok, false);
    await store.hostAction("r", a, { type: "lock", locked: false });
    const c = joined(await store.join("r", { name: "", isolate: "i" }));
    assert.ok(!c.host);
    assert.deepEqual((await kv.get<RoomMeta>(keys.room("r"))).value?.hosts, [a]);
    // Leaving passes the role as it always did.
    assert.deepEqual((await store.remove("r", a))?.hosts, [b]);
    // A legacy room without a host (all members of one kind) stays hostless, not broken.
    await kv.set(keys.room("s"), { ...legacy, id: "s", host: null, members: [] });
    assert.deepEqual((await store.snapshot("s"))?.meta.hosts, []);
  });
});

Deno.test("knocks are not orphans: a sweep deletes an orphan beat next to a live knock", async () => {
  await withStore({}, async ({ store, kv }) => {
    const h = joined(await store.join("r", { name: "", isolate: "i" })).member.peer;
    const m = joined(await store.join("r", { name: "", isolate: "i" })).member.peer;
    await store.hostAction("r", h, { type: "lobby", on: true });
    const k = await store.knock("r", { isolate: "w" });
    assert.ok(k.ok);
    await kv.set(keys.beat("r", "ghostghostghost0"), 1);
    assert.deepEqual(await store.sweep("r"), NONE);
    assert.equal((await kv.get(keys.beat("r", "ghostghostghost0"))).versionstamp, null);
    assert.notEqual((await kv.get(keys.knock("r", k.peer))).versionstamp, null);
    assert.deepEqual((await store.snapshot("r"))?.knocks.map((x) => x.peer), [k.peer]);
    // Removing a member (not the last) keeps the knock too.
    await store.remove("r", m);
    assert.equal(await store.knockState("r", k.peer), "waiting");
  });
});

Deno.test("an unknown host fallback is refused with the accepted values", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    assert.throws(
      () => new RoomStore({ kv, hostFallback: "newest" as "oldest" }),
      /hostFallback must be "oldest" or "lock"/,
    );
  } finally {
    kv.close();
  }
});
