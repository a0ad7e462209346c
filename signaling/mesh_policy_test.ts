import assert from "node:assert/strict";
import { evaluateMesh, nextDeadline, type PolicyMember } from "./mesh_policy.ts";
import type { LinkState, PeerId } from "./types.ts";

const DEADLINE = 20_000;
const opts = (now: number) => ({ now, deadlineMs: DEADLINE });

/** Members named by `ids`, joined at the given times (default: one second apart), no reports yet. */
function room(ids: string[], joinedAt: number[] = ids.map((_, i) => i * 1000)): PolicyMember[] {
  return ids.map((peer, i) => ({ peer, joinedAt: joinedAt[i], links: {} }));
}

function member(members: PolicyMember[], peer: PeerId): PolicyMember {
  const m = members.find((x) => x.peer === peer);
  assert.ok(m, `no member ${peer}`);
  return m;
}

/** `from` reports its link to `to` as `state` since `since`. */
function report(
  members: PolicyMember[],
  from: PeerId,
  to: PeerId,
  state: LinkState,
  since: number,
): void {
  member(members, from).links[to] = { state, since };
}

/** Every member reports every other as connected since the later join (a full mesh). */
function connectAll(members: PolicyMember[]): PolicyMember[] {
  for (const a of members) {
    for (const b of members) {
      if (a !== b) report(members, a.peer, b.peer, "connected", Math.max(a.joinedAt, b.joinedAt));
    }
  }
  return members;
}

const evicted = (members: PolicyMember[], now: number) =>
  evaluateMesh(members, opts(now)).map((e) => e.peer).sort();

/** Small seeded PRNG (mulberry32) so failures of the randomized tests are reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const IDS = ["A", "B", "C", "D", "E", "F", "G", "H"];

Deno.test("a full healthy mesh of 2..8 evicts no one and has no deadline", () => {
  for (let n = 2; n <= 8; n++) {
    const members = connectAll(room(IDS.slice(0, n)));
    assert.deepEqual(evaluateMesh(members, opts(1_000_000)), [], `n=${n}`);
    assert.equal(nextDeadline(members, opts(0)), null, `n=${n}`);
  }
});

Deno.test("rooms of 0 or 1 members evict no one, whatever the reports", () => {
  assert.deepEqual(evaluateMesh([], opts(1e9)), []);
  const alone = room(["A"]);
  report(alone, "A", "ghost", "failed", 0);
  assert.deepEqual(evaluateMesh(alone, opts(1e9)), []);
  assert.equal(nextDeadline(alone, opts(0)), null);
});

/** Four connected incumbents and a newcomer N at t=10 s who reaches none of them. */
function unreachableNewcomer(): PolicyMember[] {
  const members = connectAll(room(["A", "B", "C", "D"]));
  members.push({ peer: "N", joinedAt: 10_000, links: {} });
  for (const o of ["A", "B", "C", "D"]) {
    report(members, o, "N", "connecting", 10_000);
    report(members, "N", o, "failed", 14_000);
  }
  return members;
}

Deno.test("a newcomer unreachable to all is evicted alone after the deadline", () => {
  assert.deepEqual(evaluateMesh(unreachableNewcomer(), opts(30_000)), [{
    peer: "N",
    unreachable: ["A", "B", "C", "D"],
    reason: "could not connect to 4 of 4 participants: a TURN server may be needed",
  }]);
});

Deno.test("the same newcomer is tolerated before its deadline", () => {
  const members = unreachableNewcomer();
  assert.deepEqual(evaluateMesh(members, opts(29_999)), []);
  assert.equal(nextDeadline(members, opts(29_999)), 30_000);
});

Deno.test("one bad link in a 5-mesh evicts exactly one member: the later joiner", () => {
  const members = connectAll(room(["A", "B", "C", "D", "E"]));
  // B (joined 1 s) and D (joined 3 s) never connect; E, the very last joiner, is healthy.
  report(members, "B", "D", "connecting", 3000);
  report(members, "D", "B", "connecting", 3000);
  assert.deepEqual(evaluateMesh(members, opts(22_999)), []);
  assert.deepEqual(evaluateMesh(members, opts(23_000)), [{
    peer: "D",
    unreachable: ["B"],
    reason: "could not connect to 1 of 4 participants: a TURN server may be needed",
  }]);
  // Swap the join order of B and D: now B is the newcomer and goes instead.
  member(members, "B").joinedAt = 3000;
  member(members, "D").joinedAt = 1000;
  assert.deepEqual(evicted(members, 23_000), ["B"]);
});

Deno.test("the side reporting failure is evicted, even if it joined first", () => {
  const members = room(["A", "B"], [0, 5000]);
  report(members, "A", "B", "failed", 9000);
  report(members, "B", "A", "connecting", 5000);
  const [eviction, ...rest] = evaluateMesh(members, opts(25_000));
  assert.deepEqual(rest, []);
  assert.equal(eviction.peer, "A");
  assert.equal(
    eviction.reason,
    "could not connect to 1 of 1 participant: a TURN server may be needed",
  );
});

Deno.test("a member that never reports is evicted after the deadline, the others are not", () => {
  // S joined first, so only its silence (not join order) can single it out.
  const members = connectAll(room(["B", "C"], [1000, 2000]));
  members.push({ peer: "S", joinedAt: 0, links: {} });
  report(members, "B", "S", "connected", 1000);
  report(members, "C", "S", "connecting", 2000);
  // Reports about people who are no longer in the room do not count as reporting.
  report(members, "S", "gone", "connected", 0);
  assert.deepEqual(evaluateMesh(members, opts(20_999)), []); // B-S is due at 21 s, C-S at 22 s
  assert.deepEqual(evaluateMesh(members, opts(22_000)), [{
    peer: "S",
    unreachable: ["B", "C"],
    reason: "did not report its connections within 20 s: the browser may be outdated or blocked",
  }]);
  // In a pair, silence beats being the later joiner; the seconds follow deadlineMs.
  const pair = room(["S", "L"], [0, 1000]);
  report(pair, "L", "S", "connecting", 1000);
  assert.deepEqual(evaluateMesh(pair, { now: 20_000, deadlineMs: 15_500 }), [{
    peer: "S",
    unreachable: ["L"],
    reason: "did not report its connections within 15.5 s: the browser may be outdated or blocked",
  }]);
});

Deno.test("ids that name Object.prototype members are plain ids", () => {
  const members = room(["__defineGetter__", "__lookupSetter__"], [0, 0]);
  report(members, "__lookupSetter__", "__defineGetter__", "connecting", 0);
  assert.deepEqual(evaluateMesh(members, opts(20_000)), [{
    peer: "__defineGetter__",
    unreachable: ["__lookupSetter__"],
    reason: "did not report its connections within 20 s: the browser may be outdated or blocked",
  }]);
});

Deno.test("a link that fails and recovers within the deadline (ICE restart) is never overdue", () => {
  const members = connectAll(room(["A", "B", "C"]));
  // At 100 s A's link to B fails; B notices a little later and both restart ICE.
  report(members, "A", "B", "failed", 100_000);
  assert.deepEqual(evaluateMesh(members, opts(105_000)), []);
  assert.equal(nextDeadline(members, opts(105_000)), 120_000);
  // The restart restamps A's `since`; the pair still counts from the earlier side, B at 101 s.
  report(members, "B", "A", "connecting", 101_000);
  report(members, "A", "B", "connecting", 106_000);
  assert.equal(nextDeadline(members, opts(110_000)), 121_000);
  report(members, "A", "B", "connected", 118_000);
  assert.deepEqual(evaluateMesh(members, opts(119_000)), []); // B still says connecting
  report(members, "B", "A", "connected", 119_500);
  for (const now of [120_000, 121_000, 200_000]) {
    assert.deepEqual(evaluateMesh(members, opts(now)), []);
  }
  assert.equal(nextDeadline(members, opts(120_000)), null);
});

Deno.test("a link that fails at t and is still failed at t + deadline evicts", () => {
  const members = connectAll(room(["A", "B", "C"]));
  report(members, "C", "B", "failed", 100_000);
  report(members, "B", "C", "connecting", 100_400);
  assert.deepEqual(evaluateMesh(members, opts(119_999)), []);
  assert.deepEqual(evicted(members, 120_000), ["C"]);
});

Deno.test("two independent unreachable newcomers are both evicted", () => {
  const members = connectAll(room(["A", "B", "C"]));
  members.push({ peer: "N1", joinedAt: 5000, links: {} }, {
    peer: "N2",
    joinedAt: 8000,
    links: {},
  });
  for (const n of ["N1", "N2"]) {
    for (const o of ["A", "B", "C"]) {
      report(members, o, n, "failed", 20_000);
      report(members, n, o, "connecting", member(members, n).joinedAt);
    }
  }
  report(members, "N1", "N2", "connected", 9000);
  report(members, "N2", "N1", "connected", 9000);
  assert.deepEqual(evicted(members, 27_999), ["N1"]); // N2 is still within its deadline
  assert.deepEqual(nextDeadline(members, opts(27_999)), 28_000);
  const both = evaluateMesh(members, opts(28_000));
  assert.deepEqual(both.map((e) => e.peer).sort(), ["N1", "N2"]);
  assert.ok(both.every((e) => e.unreachable.join() === "A,B,C"));
});

Deno.test("a partition {A,B,C} | {D,E} evicts the later joiners D and E", () => {
  const members = connectAll(room(["A", "B", "C", "D", "E"]));
  for (const x of ["A", "B", "C"]) {
    for (const y of ["D", "E"]) {
      report(members, x, y, "connecting", 4000);
      report(members, y, x, "connecting", 4000);
    }
  }
  const result = evaluateMesh(members, opts(24_000));
  assert.deepEqual(result.map((e) => e.peer).sort(), ["D", "E"]);
  for (const e of result) {
    assert.deepEqual(e.unreachable, ["A", "B", "C"]);
    assert.equal(e.reason, "could not connect to 3 of 4 participants: a TURN server may be needed");
  }
});

Deno.test("nextDeadline is the earliest pending deadline", () => {
  const members = connectAll(room(["A", "B", "C", "D"]));
  report(members, "A", "B", "failed", 50_000); // due 70 s
  report(members, "C", "D", "connecting", 40_000); // due 60 s
  report(members, "D", "A", "connecting", 30_000); // due 50 s
  assert.equal(nextDeadline(members, opts(45_000)), 50_000);
  assert.equal(nextDeadline(members, opts(50_000)), 60_000); // 50 s is due now, not pending
  assert.equal(nextDeadline(members, opts(70_000)), null);
  // A member that has not reported yet counts from its join.
  members.push({ peer: "E", joinedAt: 44_000, links: {} });
  assert.equal(nextDeadline(members, opts(50_000)), 60_000);
  assert.equal(nextDeadline(members, opts(60_000)), 64_000);
});

Deno.test("the result does not depend on input order", () => {
  const random = prng(7);
  const cases = [unreachableNewcomer()];
  // A messy room: ties everywhere (same join times, symmetric failures).
  const messy = connectAll(room(["p", "q", "r", "s", "t", "u"], [0, 0, 0, 0, 0, 0]));
  for (const [x, y] of [["p", "q"], ["r", "s"], ["t", "u"], ["p", "t"]]) {
    report(messy, x, y, "failed", 0);
    report(messy, y, x, "failed", 0);
  }
  cases.push(messy);
  // p and t tie on everything but the id (the greater goes), then s and q the same way.
  assert.deepEqual(evaluateMesh(messy, opts(40_000)).map((e) => e.peer), ["t", "s", "q"]);
  for (const members of cases) {
    const expected = evaluateMesh(members, opts(40_000));
    assert.ok(expected.length > 0);
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(evaluateMesh(shuffle(members, random), opts(40_000)), expected);
      assert.equal(
        nextDeadline(shuffle(members, random), opts(5000)),
        nextDeadline(members, opts(5000)),
      );
    }
  }
});

/** Independent statement of "overdue" from PROTOCOL.md, "Full-mesh guarantee", as unordered id pairs. */
function overduePairs(members: PolicyMember[], now: number): string[] {
  const out: string[] = [];
  for (const a of members) {
    for (const b of members) {
      if (a.peer >= b.peer) continue;
      const ra = a.links[b.peer], rb = b.links[a.peer];
      if (ra?.state === "connected" && rb?.state === "connected") continue;
      let start = Math.max(a.joinedAt, b.joinedAt);
      if (ra && rb) {
        const sinces = [ra, rb].filter((r) => r.state !== "connected").map((r) => r.since);
        start = Math.max(start, Math.min(...sinces));
      }
      if (now - start >= DEADLINE) out.push(`${a.peer}-${b.peer}`);
    }
  }
  return out;
}

Deno.test("property: evictions clear every overdue pair and never exceed their number", () => {
  const random = prng(2024);
  const states: LinkState[] = ["connecting", "connected", "connected", "failed"];
  let evictionsSeen = 0;
  for (let round = 0; round < 2000; round++) {
    const n = Math.floor(random() * 9);
    const now = 20_000 + Math.floor(random() * 60_000);
    const members = room(
      IDS.slice(0, n),
      IDS.slice(0, n).map(() => Math.floor(random() * now)),
    );
    for (const a of members) {
      if (random() < 0.1) continue; // a silent member
      for (const b of members) {
        if (a === b || random() < 0.1) continue;
        const from = Math.max(a.joinedAt, b.joinedAt);
        const since = from + Math.floor(random() * (now - from + 1));
        report(members, a.peer, b.peer, states[Math.floor(random() * states.length)], since);
      }
    }
    const overdue = overduePairs(members, now);
    const evictions = evaluateMesh(members, opts(now));
    const gone = new Set(evictions.map((e) => e.peer));
    const context = JSON.stringify({ members, now, evictions });
    assert.equal(gone.size, evictions.length, context);
    assert.ok(evictions.length <= overdue.length, context);
    for (const e of evictions) {
      // Only members with an overdue pair go, and `unreachable` names exactly those pairs.
      const mine = overdue.filter((p) => p.split("-").includes(e.peer));
      assert.deepEqual(
        e.unreachable,
        mine.map((p) => p.replace(e.peer, "").replace("-", "")),
        context,
      );
      assert.ok(mine.length > 0, context);
    }
    const remaining = members.filter((m) => !gone.has(m.peer));
    assert.deepEqual(overduePairs(remaining, now), [], context);
    assert.deepEqual(evaluateMesh(remaining, opts(now)), [], context);
    evictionsSeen += evictions.length;
  }
  assert.ok(evictionsSeen > 100, "the generator should produce overdue rooms");
});
