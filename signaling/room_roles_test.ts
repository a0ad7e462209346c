/**
 * Host controls in the store, attacked: non-hosts, hosts demoted mid-action, removed members
 * coming back, replayed admits, floods of knocks, admits racing joins. Real Deno KV (`:memory:`).
 */
import assert from "node:assert/strict";
import { ENDED_ROOM_TTL_MS, roomKeys as keys, STATS_KEYS } from "./keys.ts";
import { MAX_BANNED, MAX_LOBBY, MAX_REMOVALS } from "./limits.ts";
import type { HostAction } from "./protocol.ts";
import { type HostActionResult, type JoinResult, RoomStore, type StoreOptions } from "./store.ts";
import { randomBase64url, sha256Hex } from "./tokens.ts";
import type { KnockRecord, Member, PeerId, RoomMeta } from "./types.ts";

const T0 = 1_700_000_000_000;

interface World {
  store: RoomStore;
  kv: Deno.Kv;
  clock: { t: number };
}

async function withStore(opts: Partial<StoreOptions>, fn: (w: World) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  const clock = { t: T0 };
  try {
    await fn({ store: new RoomStore({ kv, now: () => clock.t, ...opts }), kv, clock });
  } finally {
    kv.close();
  }
}

/** A browser's meeting secret, as the client makes it. */
const newSecret = () => randomBase64url(32);

type Joined = Extract<JoinResult, { ok: true }>;

function joined(r: JoinResult): Joined {
  assert.ok(r.ok, `join failed: ${JSON.stringify(r)}`);
  return r;
}

/** A member joined with its own secret; `secret` kept for rejoins. */
async function member(store: RoomStore, room = "r", isolate = "i") {
  const secret = newSecret();
  const j = joined(await store.join(room, { name: "", isolate, secret }));
  return { peer: j.member.peer, token: j.token, secret, host: j.host };
}

function ok(r: HostActionResult): Extract<HostActionResult, { ok: true }> {
  assert.ok(r.ok, `host action failed: ${JSON.stringify(r)}`);
  return r;
}

async function meta(kv: Deno.Kv, room = "r"): Promise<RoomMeta | null> {
  return (await kv.get<RoomMeta>(keys.room(room))).value;
}

/** Everything in the database, versionstamps included: "changes nothing" means equal dumps. */
async function dump(kv: Deno.Kv): Promise<string> {
  const entries = await Array.fromAsync(kv.list({ prefix: [] }));
  return JSON.stringify(entries, (_, v) => v instanceof Deno.KvU64 ? `u64:${v.value}` : v);
}

async function stats(kv: Deno.Kv): Promise<{ rooms: bigint; participants: bigint }> {
  const [rooms, participants] = await kv.getMany<[Deno.KvU64, Deno.KvU64]>([
    STATS_KEYS.rooms,
    STATS_KEYS.participants,
  ]);
  return { rooms: rooms.value?.value ?? 0n, participants: participants.value?.value ?? 0n };
}

/** A room with a host, two members and a lobby with one knock waiting. */
async function hostedRoom(store: RoomStore) {
  const host = await member(store);
  const m = await member(store);
  const n = await member(store);
  ok(await store.hostAction("r", host.peer, { type: "lobby", on: true }));
  const k = await store.knock("r", { isolate: "w", secret: newSecret() });
  assert.ok(k.ok && k.decision === null, JSON.stringify(k));
  return { host, m, n, knock: k.peer };
}

/** Every action a host could take, against these targets. */
function everyAction(target: PeerId, host: PeerId, knock: PeerId): HostAction[] {
  return [
    { type: "lock", locked: true },
    { type: "lobby", on: false },
    { type: "lobby", on: true },
    { type: "admit", knock, allow: true },
    { type: "admit", knock, allow: false },
    { type: "remove", peer: target },
    { type: "remove", peer: host },
    { type: "role", peer: target, host: true },
    { type: "role", peer: host, host: false },
    { type: "mute", peer: target, what: "audio" },
    { type: "mute", peer: "all", what: "video" },
    { type: "end" },
  ];
}

Deno.test("a non-host's every action is forbidden, names the rule, and changes nothing", async () => {
  await withStore({}, async ({ store, kv }) => {
    const { host, m, n, knock } = await hostedRoom(store);
    const before = await dump(kv);
    for (const actor of [m.peer, "AAAAAAAAAAAAAAAA"]) {
      for (const action of everyAction(n.peer, host.peer, knock)) {
        const r = await store.hostAction("r", actor, action);
        assert.ok(!r.ok && r.code === "forbidden", `${action.type}: ${JSON.stringify(r)}`);
        assert.match(r.message, actor === m.peer ? /Only a host can/ : /not in this meeting/);
      }
    }
    // Nor in a room that does not exist.
    const r = await store.hostAction("nope", host.peer, { type: "end" });
    assert.ok(!r.ok && r.code === "forbidden");
    assert.equal(await dump(kv), before);
  });
});

Deno.test("the room's creator is its host; its secret reclaims; a plain joiner is not one", async () => {
  await withStore({}, async ({ store, kv }) => {
    const a = await member(store);
    assert.ok(a.host);
    const b = await member(store);
    assert.ok(!b.host);
    const stored = await meta(kv);
    assert.deepEqual(stored?.hosts, [a.peer]);
    assert.equal(stored?.host, a.peer);
    assert.deepEqual(stored?.hostSecrets, [sha256Hex(a.secret)]);
    assert.equal(
      (await kv.get<Member>(keys.member("r", b.peer))).value?.secretHash,
      sha256Hex(b.secret),
    );
    // The same browser in a second tab is a host there too; a secret never stored in clear.
    const again = joined(await store.join("r", { name: "", isolate: "i", secret: a.secret }));
    assert.ok(again.host);
    assert.deepEqual((await meta(kv))?.hosts, [a.peer, again.member.peer]);
    assert.ok(!(await dump(kv)).includes(a.secret));
    // Without a secret, the creator is host all the same, with nothing to reclaim with.
    const c = joined(await store.join("s", { name: "", isolate: "i" }));
    assert.ok(c.host);
    assert.deepEqual((await meta(kv, "s"))?.hostSecrets, []);
  });
});

/**
 * A KV whose next commit waits for `release()`: the action has read the room (a host then) and is
 * about to commit, exactly when the race matters.
 */
function stalledKv(kv: Deno.Kv) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let reached!: () => void;
  const atCommit = new Promise<void>((resolve) => reached = resolve);
  let armed = true;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop !== "atomic") {
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const op = target.atomic();
        const commit = op.commit.bind(op);
        op.commit = async () => {
          if (armed) {
            armed = false;
            reached();
            await gate;
          }
          return await commit();
        };
        return op;
      };
    },
  });
  return { kv: proxy, atCommit, release };
}

Deno.test("a host demoted between its read and its commit is refused, for every action", async () => {
  await withStore({}, async ({ store, kv, clock }) => {
    const actions = (target: PeerId, other: PeerId, knock: PeerId) =>
      everyAction(target, other, knock).filter((a) => a.type !== "remove" || a.peer === target);
    const count = actions("x", "y", "z").length;
    for (let i = 0; i < count; i++) {
      const room = `race${i}`;
      const a = await member(store, room);
      const b = await member(store, room);
      const c = await member(store, room);
      ok(await store.hostAction(room, a.peer, { type: "role", peer: b.peer, host: true }));
      ok(await store.hostAction(room, a.peer, { type: "lobby", on: true }));
      const k = await store.knock(room, { isolate: "w" });
      assert.ok(k.ok);
      const action = actions(c.peer, a.peer, k.peer)[i];
      const stalled = stalledKv(kv);
      const bStore = new RoomStore({ kv: stalled.kv, now: () => clock.t });
      const pending = bStore.hostAction(room, b.peer, action);
      await stalled.atCommit;
      ok(await store.hostAction(room, a.peer, { type: "role", peer: b.peer, host: false }));
      const afterDemotion = await dump(kv);
      stalled.release();
      const r = await pending;
      assert.ok(!r.ok && r.code === "forbidden", `${action.type}: ${JSON.stringify(r)}`);
      assert.equal(await dump(kv), afterDemotion, `${action.type} changed something`);
    }
  });
});

Deno.test("race: two hosts demoting each other at once: exactly one wins, a host is left", async () => {
  await withStore({}, async ({ store, kv }) => {
    for (let round = 0; round < 60; round++) {
      const room = `r${round}`;
      const a = await member(store, room);
      const b = await member(store, room);
      const c = await member(store, room);
      ok(await store.hostAction(room, a.peer, { type: "role", peer: b.peer, host: true }));
      const [byA, byB, kick] = await Promise.all([
        store.hostAction(room, a.peer, { type: "role", peer: b.peer, host: false }),
        store.hostAction(room, b.peer, { type: "role", peer: a.peer, host: false }),
        // A third action by whoever is still host when it commits.
        store.hostAction(room, round % 2 ? a.peer : b.peer, { type: "remove", peer: c.peer }),
      ]);
      assert.equal([byA, byB].filter((r) => r.ok).length, 1, `round ${round}`);
      const loser = byA.ok ? byB : byA;
      assert.ok(!loser.ok && loser.code === "forbidden");
      const winner = byA.ok ? a.peer : b.peer;
      const stored = await meta(kv, room);
      assert.deepEqual(stored?.hosts, [winner]);
      // The remove took effect exactly when it reported success, and then only by a host.
      assert.equal(stored?.members.includes(c.peer), !kick.ok, `round ${round}`);
      if (kick.ok) {
        assert.deepEqual(stored?.removals.map((x) => x.by), [round % 2 ? a.peer : b.peer]);
      }
    }
  });
});

Deno.test("removal by a host: banned secret, dead token, recorded; hosts and self cannot be", async () => {
  await withStore({}, async ({ store, kv, clock }) => {
    const host = await member(store);
    const m = await member(store);
    const n = await member(store);
    // m was a host once: its secret reclaimed; being removed takes that away too.
    ok(await store.hostAction("r", host.peer, { type: "role", peer: m.peer, host: true }));
    let r = await store.hostAction("r", host.peer, { type: "remove", peer: m.peer });
    assert.ok(!r.ok && r.code === "forbidden" && /remove their host role first/.test(r.message));
    ok(await store.hostAction("r", m.peer, { type: "role", peer: m.peer, host: false }));
    r = await store.hostAction("r", host.peer, { type: "remove", peer: host.peer });
    assert.ok(!r.ok && r.code === "forbidden" && /yourself/.test(r.message));
    r = await store.hostAction("r", host.peer, { type: "remove", peer: "AAAAAAAAAAAAAAAA" });
    assert.ok(!r.ok && r.code === "unknown-peer");
    const statsBefore = await stats(kv);
    clock.t += 7;
    const removed = ok(await store.hostAction("r", host.peer, { type: "remove", peer: m.peer }));
    assert.deepEqual(removed.removed, { peer: m.peer, isolate: "i" });
    assert.deepEqual(removed.meta?.members, [host.peer, n.peer]);
    assert.deepEqual(removed.meta?.removals, [
      { peer: m.peer, code: "kicked", by: host.peer, unreachable: [], at: clock.t },
    ]);
    assert.deepEqual(removed.meta?.banned, [sha256Hex(m.secret)]);
    assert.deepEqual(removed.meta?.hostSecrets, [sha256Hex(host.secret)]);
    assert.deepEqual(await meta(kv), removed.meta);
    assert.equal((await stats(kv)).participants, statsBefore.participants - 1n);
    for (const kind of ["member", "beat", "links"] as const) {
      assert.equal((await kv.get(keys[kind]("r", m.peer))).versionstamp, null, kind);
    }
    // Its token is dead, its secret is refused on join and in the lobby, however it comes back.
    const resumed = await store.resume("r", m.token, "i");
    assert.ok(!resumed.ok && /not a member/.test(resumed.message));
    assert.deepEqual(await store.join("r", { name: "", isolate: "i", secret: m.secret }), {
      ok: false,
      code: "removed",
    });
    ok(await store.hostAction("r", host.peer, { type: "lobby", on: true }));
    assert.deepEqual(await store.knock("r", { isolate: "i", secret: m.secret }), {
      ok: false,
      code: "removed",
    });
    // Another secret is only a newcomer (the key rotation keeps a removed person out of the mesh).
    assert.deepEqual(await store.join("r", { name: "", isolate: "i", secret: newSecret() }), {
      ok: false,
      code: "lobby",
    });
  });
});

Deno.test("bans and removals are bounded: the oldest are dropped", async () => {
  await withStore({ capacity: 2 }, async ({ store, kv }) => {
    const host = await member(store);
    const secrets: string[] = [];
    for (let i = 0; i < MAX_BANNED + 3; i++) {
      const m = await member(store);
      secrets.push(m.secret);
      ok(await store.hostAction("r", host.peer, { type: "remove", peer: m.peer }));
    }
    const stored = await meta(kv);
    assert.equal(stored?.banned.length, MAX_BANNED);
    assert.equal(stored?.banned[0], sha256Hex(secrets[3]));
    assert.equal(stored?.removals.length, MAX_REMOVALS);
    assert.deepEqual(await store.join("r", { name: "", isolate: "i", secret: secrets.at(-1) }), {
      ok: false,
      code: "removed",
    });
    // The first three bans were forgotten.
    assert.ok((await store.join("r", { name: "", isolate: "i", secret: secrets[0] })).ok);
  });
});

Deno.test("hand-over: promote, then demote self; the last host cannot step down", async () => {
  await withStore({}, async ({ store, kv }) => {
    const a = await member(store);
    const b = await member(store);
    let r = await store.hostAction("r", a.peer, { type: "role", peer: a.peer, host: false });
    assert.ok(!r.ok && r.code === "forbidden" && /make someone else host first/.test(r.message));
    r = await store.hostAction("r", a.peer, { type: "role", peer: "AAAAAAAAAAAAAAAA", host: true });
    assert.ok(!r.ok && r.code === "unknown-peer");
    ok(await store.hostAction("r", a.peer, { type: "role", peer: b.peer, host: true }));
    // Already a host: nothing changes, not even the version.
    const before = await dump(kv);
    ok(await store.hostAction("r", a.peer, { type: "role", peer: b.peer, host: true }));
    assert.equal(await dump(kv), before);
    const after = ok(
      await store.hostAction("r", a.peer, { type: "role", peer: a.peer, host: false }),
    );
    assert.deepEqual(after.meta?.hosts, [b.peer]);
    assert.equal(after.meta?.host, b.peer);
    assert.deepEqual(after.meta?.hostSecrets, [sha256Hex(b.secret)]);
    // a's secret no longer makes it a host.
    assert.ok(!joined(await store.join("r", { name: "", isolate: "i", secret: a.secret })).host);
    r = await store.hostAction("r", a.peer, { type: "lock", locked: true });
    assert.ok(!r.ok && r.code === "forbidden");
  });
});

Deno.test("last host leaves, fallback oldest: the longest-present connected member hosts", async () => {
  await withStore({ hostFallback: "oldest" }, async ({ store, kv }) => {
    const a = await member(store);
    const b = await member(store);
    const c = await member(store);
    const d = await member(store);
    await store.disconnect("r", b.peer); // longest-present, but away
    const next = await store.remove("r", a.peer);
    assert.deepEqual(next?.hosts, [c.peer]);
    assert.equal(next?.host, c.peer);
    // a's secret still reclaims (it left; nobody removed it); c's secret now does too.
    assert.deepEqual(next?.hostSecrets, [sha256Hex(a.secret), sha256Hex(c.secret)]);
    assert.equal(next?.locked, false);
    // Nobody connected: the longest-present.
    await store.disconnect("r", d.peer);
    await store.remove("r", c.peer);
    assert.deepEqual((await meta(kv))?.hosts, [b.peer]);
    const back = joined(await store.join("r", { name: "", isolate: "i", secret: a.secret }));
    assert.ok(back.host);
    assert.deepEqual(back.meta.hosts, [b.peer, back.member.peer]);
  });
});

Deno.test("last host leaves, fallback lock: the room locks, knocks are denied, the host reclaims", async () => {
  await withStore({ hostFallback: "lock" }, async ({ store, kv }) => {
    const a = await member(store);
    const b = await member(store);
    ok(await store.hostAction("r", a.peer, { type: "lobby", on: true }));
    const k = await store.knock("r", { isolate: "w" });
    assert.ok(k.ok);
    const next = await store.remove("r", a.peer);
    assert.deepEqual(next?.hosts, []);
    assert.equal(next?.host, null);
    assert.equal(next?.locked, true);
    assert.equal(await store.knockState("r", k.peer), "deny");
    assert.equal((await store.joinAdmitted("r", k.peer, "w")).ok, false);
    // Nobody can open the lobby or the lock: fresh joins and knocks are refused.
    assert.deepEqual(await store.join("r", { name: "", isolate: "i", secret: newSecret() }), {
      ok: false,
      code: "room-locked",
    });
    assert.deepEqual(await store.knock("r", { isolate: "w" }), { ok: false, code: "denied" });
    let r = await store.hostAction("r", b.peer, { type: "lock", locked: false });
    assert.ok(!r.ok && r.code === "forbidden");
    // The host comes back with its secret: through the lock and the lobby, host again.
    const back = joined(await store.join("r", { name: "", isolate: "i", secret: a.secret }));
    assert.ok(back.host);
    r = await store.hostAction("r", back.member.peer, { type: "lock", locked: false });
    assert.equal(ok(r).meta?.locked, false);
    assert.deepEqual((await meta(kv))?.hosts, [back.member.peer]);
  });
});

Deno.test("host reclaim after the grace period removed the host (both fallbacks)", async () => {
  for (const hostFallback of ["oldest", "lock"] as const) {
    await withStore(
      { hostFallback, graceMs: 30_000, heartbeatTimeoutMs: 20_000 },
      async ({ store, clock }) => {
        const a = await member(store);
        const b = await member(store);
        await store.disconnect("r", a.peer);
        clock.t += 30_001;
        await store.heartbeat([{ room: "r", peer: b.peer }], "i");
        assert.deepEqual(await store.sweep("r"), { removed: [a.peer], lost: [] });
        const snap = await store.snapshot("r");
        assert.deepEqual(snap?.meta.hosts, hostFallback === "oldest" ? [b.peer] : [], hostFallback);
        assert.equal(snap?.meta.locked, hostFallback === "lock");
        // The old token is dead; the secret is not.
        assert.equal((await store.resume("r", a.token, "i")).ok, false);
        const back = joined(await store.join("r", { name: "", isolate: "i", secret: a.secret }));
        assert.ok(back.host, hostFallback);
        assert.ok(back.meta.hosts.includes(back.member.peer));
      },
    );
  }
});

Deno.test("a mesh eviction is recorded with its unreachable peers; an evicted host may reclaim", async () => {
  await withStore({}, async ({ store, kv, clock }) => {
    const a = await member(store);
    const b = await member(store);
    const c = await member(store);
    clock.t += 3;
    const next = await store.remove("r", a.peer, {
      code: "mesh-incomplete",
      by: null,
      unreachable: [c.peer],
    });
    assert.deepEqual(next?.removals, [
      { peer: a.peer, code: "mesh-incomplete", by: null, unreachable: [c.peer], at: clock.t },
    ]);
    assert.deepEqual(next?.hosts, [b.peer]);
    assert.deepEqual(next?.banned, []);
    assert.deepEqual(await meta(kv), next);
    assert.ok(joined(await store.join("r", { name: "", isolate: "i", secret: a.secret })).host);
  });
});

Deno.test("mute: one member or every non-host connected member; the socket's isolate", async () => {
  await withStore({}, async ({ store, kv }) => {
    const h = await member(store, "r", "i1");
    const m = await member(store, "r", "i2");
    const n = await member(store, "r", "i3");
    const away = await member(store, "r", "i4");
    await store.disconnect("r", away.peer);
    const before = await dump(kv);
    let r = ok(await store.hostAction("r", h.peer, { type: "mute", peer: "all", what: "audio" }));
    assert.deepEqual(r.mute, [{ peer: m.peer, isolate: "i2" }, { peer: n.peer, isolate: "i3" }]);
    r = ok(await store.hostAction("r", h.peer, { type: "mute", peer: n.peer, what: "screen" }));
    assert.deepEqual(r.mute, [{ peer: n.peer, isolate: "i3" }]);
    const unknown = await store.hostAction("r", h.peer, {
      type: "mute",
      peer: "AAAAAAAAAAAAAAAA",
      what: "video",
    });
    assert.ok(!unknown.ok && unknown.code === "unknown-peer");
    assert.equal(await dump(kv), before, "muting writes nothing");
  });
});

Deno.test("lock: fresh joins refused, resumes and reclaims admitted", async () => {
  await withStore({}, async ({ store }) => {
    const h = await member(store);
    const m = await member(store);
    assert.equal(
      ok(await store.hostAction("r", h.peer, { type: "lock", locked: true })).meta?.locked,
      true,
    );
    assert.deepEqual(await store.join("r", { name: "", isolate: "i" }), {
      ok: false,
      code: "room-locked",
    });
    assert.ok((await store.resume("r", m.token, "i")).ok);
    assert.ok(joined(await store.join("r", { name: "", isolate: "i", secret: h.secret })).host);
    ok(await store.hostAction("r", h.peer, { type: "lock", locked: false }));
    assert.ok((await store.join("r", { name: "", isolate: "i" })).ok);
  });
});

Deno.test("lobby: knock, payload, admit; joinAdmitted works once; replays change nothing", async () => {
  await withStore({}, async ({ store, kv, clock }) => {
    const h = await member(store);
    ok(await store.hostAction("r", h.peer, { type: "lobby", on: true }));
    const secret = newSecret();
    assert.deepEqual(await store.join("r", { name: "", isolate: "w", secret }), {
      ok: false,
      code: "lobby",
    });
    clock.t += 5;
    const k = await store.knock("r", { isolate: "w", secret, name: "Kim" });
    assert.ok(k.ok && k.decision === null);
    assert.equal(k.token.split(".")[0], k.peer);
    assert.equal(await store.knockState("r", k.peer), "waiting");
    let snap = await store.snapshot("r");
    assert.deepEqual(snap?.knocks.map((x) => [x.peer, x.payload, x.at]), [[k.peer, null, clock.t]]);
    assert.deepEqual(snap?.meta.members, [h.peer], "a knock is not a member");
    // Its reserved token is no member's yet.
    assert.equal((await store.resume("r", k.token, "w")).ok, false);
    const payload = { iv: "aXY", ct: "c2VhbGVk" };
    assert.equal(await store.knockPayload("r", k.peer, payload), true);
    assert.equal(await store.knockPayload("r", k.peer, { other: "name" }), true);
    snap = await store.snapshot("r");
    assert.deepEqual(snap?.knocks[0].payload, payload, "the first payload stays");
    await assert.rejects(store.knockPayload("r", k.peer, "x".repeat(3000)), RangeError);

    const admitted = ok(
      await store.hostAction("r", h.peer, { type: "admit", knock: k.peer, allow: true }),
    );
    assert.deepEqual(admitted.decided, [{ peer: k.peer, isolate: "w", allow: true }]);
    assert.equal(await store.knockState("r", k.peer), "admit");
    // A decision is final: a later deny changes nothing.
    const deny = ok(
      await store.hostAction("r", h.peer, { type: "admit", knock: k.peer, allow: false }),
    );
    assert.deepEqual(deny.decided, [{ peer: k.peer, isolate: "w", allow: true }]);

    const statsBefore = await stats(kv);
    const [first, second] = await Promise.all([
      store.joinAdmitted("r", k.peer, "w"),
      store.joinAdmitted("r", k.peer, "w2"),
    ]);
    const wins = [first, second].filter((x) => x.ok);
    assert.equal(wins.length, 1, JSON.stringify([first, second]));
    const lost = first.ok ? second : first;
    assert.deepEqual(lost, { ok: false, code: "denied" });
    const win = wins[0];
    assert.ok(win.ok && !win.host && !win.created);
    assert.equal(win.member.peer, k.peer);
    assert.equal(win.member.name, "Kim");
    assert.equal(win.member.secretHash, sha256Hex(secret));
    assert.deepEqual(win.meta.members, [h.peer, k.peer]);
    assert.equal((await kv.get(keys.knock("r", k.peer))).versionstamp, null);
    assert.equal((await stats(kv)).participants, statsBefore.participants + 1n);
    // The token the knock got is now the member's.
    const resumed = await store.resume("r", k.token, "w");
    assert.ok(resumed.ok && resumed.member.peer === k.peer);

    // Replays: an admit of a used knock, another joinAdmitted: no second member, nothing changes.
    const before = await dump(kv);
    const replay = await store.hostAction("r", h.peer, {
      type: "admit",
      knock: k.peer,
      allow: true,
    });
    assert.ok(!replay.ok && replay.code === "unknown-peer");
    assert.deepEqual(await store.joinAdmitted("r", k.peer, "w"), { ok: false, code: "denied" });
    assert.equal(await store.knockState("r", k.peer), "gone");
    assert.equal(await dump(kv), before);
    assert.deepEqual((await meta(kv))?.members, [h.peer, k.peer]);
  });
});

Deno.test("lobby: deny, withdraw, unknown knocks; a host's secret passes the lobby", async () => {
  await withStore({}, async ({ store, kv }) => {
    const h = await member(store);
    ok(await store.hostAction("r", h.peer, { type: "lobby", on: true }));
    const d = await store.knock("r", { isolate: "w" });
    const w = await store.knock("r", { isolate: "w" });
    assert.ok(d.ok && w.ok);
    const denied = ok(
      await store.hostAction("r", h.peer, { type: "admit", knock: d.peer, allow: false }),
    );
    assert.deepEqual(denied.decided, [{ peer: d.peer, isolate: "w", allow: false }]);
    assert.equal(await store.knockState("r", d.peer), "deny");
    assert.deepEqual(await store.joinAdmitted("r", d.peer, "w"), { ok: false, code: "denied" });
    assert.equal(await store.knockState("r", d.peer), "gone");
    // An undecided knock cannot join either.
    assert.deepEqual(await store.joinAdmitted("r", w.peer, "w"), { ok: false, code: "denied" });
    await store.withdrawKnock("r", w.peer);
    await store.withdrawKnock("r", w.peer);
    assert.equal(await store.knockState("r", w.peer), "gone");
    assert.equal(await store.knockPayload("r", w.peer, "late"), false);
    const r = await store.hostAction("r", h.peer, { type: "admit", knock: w.peer, allow: true });
    assert.ok(!r.ok && r.code === "unknown-peer");
    assert.deepEqual((await meta(kv))?.members, [h.peer]);
    // The host's own secret (another tab, a reload) goes straight in.
    assert.ok(joined(await store.join("r", { name: "", isolate: "i", secret: h.secret })).host);
  });
});

Deno.test("lobby off admits everyone waiting; a knock after the lobby went off is admitted", async () => {
  await withStore({}, async ({ store }) => {
    const h = await member(store);
    ok(await store.hostAction("r", h.peer, { type: "lobby", on: true }));
    const a = await store.knock("r", { isolate: "w1" });
    const b = await store.knock("r", { isolate: "w2" });
    const c = await store.knock("r", { isolate: "w3" });
    assert.ok(a.ok && b.ok && c.ok);
    ok(await store.hostAction("r", h.peer, { type: "admit", knock: c.peer, allow: false }));
    const off = ok(await store.hostAction("r", h.peer, { type: "lobby", on: false }));
    assert.deepEqual(
      new Set(off.decided?.map((x) => JSON.stringify(x))),
      new Set([
        JSON.stringify({ peer: a.peer, isolate: "w1", allow: true }),
        JSON.stringify({ peer: b.peer, isolate: "w2", allow: true }),
      ]),
    );
    assert.equal(off.meta?.lobby, false);
    assert.equal(await store.knockState("r", c.peer), "deny");
    for (const k of [a, b]) assert.ok((await store.joinAdmitted("r", k.peer, "w")).ok);
    // The join that sent here saw the lobby on; by the knock it was off.
    const late = await store.knock("r", { isolate: "w" });
    assert.ok(late.ok && late.decision === "admit");
    assert.ok((await store.joinAdmitted("r", late.peer, "w")).ok);
  });
});

Deno.test(`lobby: at most MAX_LOBBY (${MAX_LOBBY}) knocks, also when they come at once`, async () => {
  await withStore({}, async ({ store, kv }) => {
    const h = await member(store);
    ok(await store.hostAction("r", h.peer, { type: "lobby", on: true }));
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => store.knock("r", { isolate: `w${i}` })),
    );
    assert.equal(results.filter((r) => r.ok).length, MAX_LOBBY);
    for (const r of results) if (!r.ok) assert.equal(r.code, "room-full");
    const knocks = await Array.fromAsync(kv.list({ prefix: [...keys.room("r"), "knock"] }));
    assert.equal(knocks.length, MAX_LOBBY);
    // One leaves: one more fits.
    const first = results.find((r) => r.ok);
    assert.ok(first?.ok);
    await store.withdrawKnock("r", first.peer);
    assert.ok((await store.knock("r", { isolate: "w" })).ok);
    assert.deepEqual(await store.knock("r", { isolate: "w" }), { ok: false, code: "room-full" });
  });
});

Deno.test("stale knocks leave snapshots, stop counting, and are swept; beaten ones stay", async () => {
  await withStore({ heartbeatTimeoutMs: 20_000 }, async ({ store, kv, clock }) => {
    const h = await member(store, "r", "i");
    ok(await store.hostAction("r", h.peer, { type: "lobby", on: true }));
    const knocks = [];
    for (let i = 0; i < MAX_LOBBY; i++) {
      const k = await store.knock("r", { isolate: i === 0 ? "alive" : "dead" });
      assert.ok(k.ok);
      knocks.push(k.peer);
    }
    clock.t += 20_000;
    // Another isolate's beat does not keep a knock alive; its own does.
    await store.beatKnocks(knocks.map((peer) => ({ room: "r", peer })), "alive");
    await store.heartbeat([{ room: "r", peer: h.peer }], "i");
    clock.t += 1;
    assert.deepEqual((await store.snapshot("r"))?.knocks.map((k) => k.peer), [knocks[0]]);
    const stale = await store.hostAction("r", h.peer, {
      type: "admit",
      knock: knocks[1],
      allow: true,
    });
    assert.ok(!stale.ok && stale.code === "unknown-peer");
    // Dead knocks no longer count for MAX_LOBBY (and the knock deletes them).
    const k = await store.knock("r", { isolate: "alive" });
    assert.ok(k.ok);
    await store.beatKnocks([{ room: "r", peer: knocks[0] }], "alive");
    assert.deepEqual(await store.sweep("r"), { removed: [], lost: [] });
    const left = await Array.fromAsync(
      kv.list<KnockRecord>({ prefix: [...keys.room("r"), "knock"] }),
    );
    assert.deepEqual(new Set(left.map((e) => e.value.peer)), new Set([knocks[0], k.peer]));
    // Sweeping again, much later, deletes the rest; the member stays (its server beats).
    clock.t += 20_001;
    await store.heartbeat([{ room: "r", peer: h.peer }], "i");
    await store.sweep("r");
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: [...keys.room("r"), "knock"] })), []);
    assert.deepEqual((await meta(kv))?.members, [h.peer]);
  });
});

Deno.test("the last member leaving takes the lobby with the room: knocks are gone", async () => {
  await withStore({}, async ({ store, kv }) => {
    const h = await member(store);
    ok(await store.hostAction("r", h.peer, { type: "lobby", on: true }));
    const k = await store.knock("r", { isolate: "w" });
    assert.ok(k.ok);
    await store.remove("r", h.peer);
    assert.equal(await store.knockState("r", k.peer), "gone");
    assert.deepEqual(await store.joinAdmitted("r", k.peer, "w"), { ok: false, code: "no-room" });
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: keys.room("r") })), []);
  });
});

Deno.test("end: the room goes whole, stats stay right, joins are refused for 24 h", async () => {
  await withStore({}, async ({ store, kv, clock }) => {
    const other = await member(store, "other");
    const h = await member(store, "r", "i1");
    const m = await member(store, "r", "i2");
    const away = await member(store, "r", "i3");
    await store.disconnect("r", away.peer);
    await store.reportLinks("r", m.peer, { [h.peer]: "connected" });
    ok(await store.hostAction("r", h.peer, { type: "lobby", on: true }));
    const k = await store.knock("r", { isolate: "w" });
    assert.ok(k.ok);
    assert.deepEqual(await stats(kv), { rooms: 2n, participants: 4n });
    const ended = ok(await store.hostAction("r", h.peer, { type: "end" }));
    assert.equal(ended.meta, null);
    assert.deepEqual(ended.ended, {
      members: [
        { peer: h.peer, isolate: "i1" },
        { peer: m.peer, isolate: "i2" },
        { peer: away.peer, isolate: "i3" },
      ],
      knocks: [{ peer: k.peer, isolate: "w" }],
    });
    assert.deepEqual(await stats(kv), { rooms: 1n, participants: 1n });
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: keys.room("r") })), []);
    assert.deepEqual((await kv.get(keys.ended("r"))).value, { at: clock.t, by: h.peer });
    // Everyone is refused: fresh joins, the host's secret, old tokens, the lobby.
    for (const secret of [undefined, h.secret]) {
      assert.deepEqual(await store.join("r", { name: "", isolate: "i", secret }), {
        ok: false,
        code: "room-ended",
      });
    }
    assert.equal((await store.resume("r", m.token, "i")).ok, false);
    assert.deepEqual(await store.knock("r", { isolate: "w" }), { ok: false, code: "room-ended" });
    assert.equal(await store.knockState("r", k.peer), "ended");
    assert.deepEqual(await store.joinAdmitted("r", k.peer, "w"), { ok: false, code: "room-ended" });
    assert.equal((await store.hostAction("r", h.peer, { type: "end" })).ok, false);
    assert.equal(await store.snapshot("r"), null);
    // The other room is untouched.
    assert.deepEqual((await store.snapshot("other"))?.meta.members, [other.peer]);
    // KV's expiry is lazy (here the clock is ours): the stored time decides, then the tombstone goes.
    clock.t += ENDED_ROOM_TTL_MS - 1;
    assert.equal((await store.join("r", { name: "", isolate: "i" })).ok, false);
    clock.t += 1;
    const fresh = joined(await store.join("r", { name: "", isolate: "i" }));
    assert.ok(fresh.created && fresh.host);
    assert.equal((await kv.get(keys.ended("r"))).versionstamp, null);
    assert.deepEqual(await stats(kv), { rooms: 2n, participants: 2n });
  });
});

Deno.test("race: end against joins and leaves keeps the stats and the room consistent", async () => {
  await withStore({ capacity: 8 }, async ({ store, kv }) => {
    for (let round = 0; round < 20; round++) {
      const room = `r${round}`;
      const h = await member(store, room);
      const ms = [await member(store, room), await member(store, room)];
      await Promise.all([
        store.hostAction(room, h.peer, { type: "end" }),
        store.join(room, { name: "", isolate: "i" }),
        store.remove(room, ms[0].peer),
        store.join(room, { name: "", isolate: "i" }),
      ]);
      assert.equal(await meta(kv, room), null, `round ${round}`);
      assert.deepEqual(await Array.fromAsync(kv.list({ prefix: keys.room(room) })), []);
    }
    assert.deepEqual(await stats(kv), { rooms: 0n, participants: 0n });
  });
});

Deno.test("capacity holds with admitted knocks racing fresh joins and reclaims", async () => {
  await withStore({ capacity: 4 }, async ({ store, kv }) => {
    for (let round = 0; round < 10; round++) {
      const room = `r${round}`;
      const h = await member(store, room);
      ok(await store.hostAction(room, h.peer, { type: "lobby", on: true }));
      const knocks: PeerId[] = [];
      for (let i = 0; i < 8; i++) {
        const k = await store.knock(room, { isolate: "w" });
        assert.ok(k.ok);
        knocks.push(k.peer);
        ok(await store.hostAction(room, h.peer, { type: "admit", knock: k.peer, allow: true }));
      }
      // Fresh joins now get in without a knock, racing the admitted ones.
      ok(await store.hostAction(room, h.peer, { type: "lobby", on: false }));
      const results = await Promise.all([
        ...knocks.map((peer) => store.joinAdmitted(room, peer, "w")),
        ...Array.from({ length: 8 }, () => store.join(room, { name: "", isolate: "i" })),
        store.join(room, { name: "", isolate: "i", secret: h.secret }),
      ]);
      assert.equal(results.filter((r) => r.ok).length, 3, `round ${round}`);
      for (const r of results) if (!r.ok) assert.equal(r.code, "room-full");
      const stored = await meta(kv, room);
      assert.equal(stored?.members.length, 4);
      // Every knock is gone: let in, or refused for good (its socket is failed).
      assert.deepEqual(
        await Array.fromAsync(kv.list({ prefix: [...keys.room(room), "knock"] })),
        [],
      );
      const members = await Array.fromAsync(kv.list({ prefix: [...keys.room(room), "member"] }));
      assert.deepEqual(new Set(members.map((e) => e.key[3])), new Set(stored?.members));
    }
    assert.deepEqual(await stats(kv), { rooms: 10n, participants: 40n });
  });
});
