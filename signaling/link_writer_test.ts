import assert from "node:assert/strict";
import { roomKeys as keys } from "./keys.ts";
import { hookLinkCommits } from "./kv_counter.ts";
import { type LinkReport, LinkWriter } from "./link_writer.ts";
import { RoomStore } from "./store.ts";
import { TaskTracker } from "./task_tracker.ts";
import type { Links, PeerId } from "./types.ts";

/** A KV that counts commits of link reports, and can run `beforeCommit` before each one. */
function countingKv(kv: Deno.Kv, hooks: { beforeCommit?: () => Promise<void> } = {}) {
  const counts = { commits: 0, reportsInCommits: [] as number[] };
  const proxy = hookLinkCommits(kv, async (reports) => {
    counts.commits++;
    counts.reportsInCommits.push(reports);
    await hooks.beforeCommit?.();
  });
  return { kv: proxy, counts };
}

async function setup(hooks: { beforeCommit?: () => Promise<void> } = {}) {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts } = countingKv(raw, hooks);
  const store = new RoomStore({ kv });
  const tasks = new TaskTracker();
  const stored: [LinkReport, Links][] = [];
  const failed: LinkReport[] = [];
  const writer = new LinkWriter({
    kv,
    store,
    track: (t) => tasks.track(t),
    stored: (r, l) => stored.push([r, l]),
    failed: (r) => failed.push(r),
  });
  const join = async (room: string) => {
    const res = await store.join(room, { name: "", isolate: "i" });
    assert.ok(res.ok);
    return res.member.peer;
  };
  const links = async (room: string, peer: PeerId) =>
    (await raw.get<Links>(keys.links(room, peer))).value;
  return {
    raw,
    store,
    tasks,
    writer,
    stored,
    failed,
    counts,
    join,
    links,
    [Symbol.dispose]: () => raw.close(),
  };
}

Deno.test("link writer: reports of many rooms queued together take one commit", async () => {
  using t = await setup();
  const rooms = Array.from({ length: 20 }, (_, i) => `r${i}`);
  const pairs = [];
  for (const room of rooms) pairs.push({ room, a: await t.join(room), b: await t.join(room) });
  t.counts.commits = 0;
  t.counts.reportsInCommits.length = 0;
  for (const { room, a, b } of pairs) {
    t.writer.report({ room, peer: a, states: { [b]: "connecting" } });
    t.writer.report({ room, peer: b, states: { [a]: "connecting" } });
  }
  await t.tasks.settle();
  // Reports queued in one turn go together.
  assert.deepEqual(t.counts.reportsInCommits, [40]);
  assert.equal(t.stored.length, 40);
  for (const { room, a, b } of pairs) {
    assert.equal((await t.links(room, a))?.[b]?.state, "connecting");
    assert.equal((await t.links(room, b))?.[a]?.state, "connecting");
  }
});

Deno.test("link writer: the latest report of a member wins; one that changes nothing is not written", async () => {
  using t = await setup();
  const [a, b] = [await t.join("r"), await t.join("r")];
  t.writer.report({ room: "r", peer: b, states: { [a]: "connecting" } }); // in flight
  t.writer.report({ room: "r", peer: a, states: { [b]: "connecting" } }); // replaced...
  t.writer.report({ room: "r", peer: a, states: { [b]: "connected" } }); // ...by this
  await t.tasks.settle();
  assert.equal((await t.links("r", a))?.[b]?.state, "connected");
  assert.deepEqual(t.stored.map(([r]) => [r.peer, r.states[r.peer === a ? b : a]]), [
    [b, "connecting"],
    [a, "connected"],
  ]);
  const commits = t.counts.commits;
  t.writer.report({ room: "r", peer: a, states: { [b]: "connected" } });
  await t.tasks.settle();
  assert.equal(t.counts.commits, commits, "the same report again commits nothing");
  assert.equal(t.stored.length, 2);
});

Deno.test("link writer: a batch that loses a check is written report by report; no removed member reappears", async () => {
  let race: (() => Promise<void>) | null = null;
  using t = await setup({
    beforeCommit: async () => {
      const run = race;
      race = null;
      await run?.();
    },
  });
  const [a, b, c] = [await t.join("r"), await t.join("r"), await t.join("r")];
  const [x, y] = [await t.join("s"), await t.join("s")];
  // Between the batch's read and its commit, c is removed from room r.
  t.writer.report({ room: "s", peer: y, states: { [x]: "connecting" } });
  await t.tasks.settle();
  race = async () => void await t.store.remove("r", c);
  t.writer.report({ room: "r", peer: a, states: { [b]: "connected", [c]: "connected" } });
  t.writer.report({ room: "s", peer: x, states: { [y]: "connected" } });
  await t.tasks.settle();
  // The batch lost (r's member list changed); each report was written again on its own.
  assert.deepEqual(await t.links("r", a), {
    [b]: { state: "connected", since: (await t.links("r", a))![b].since },
  });
  assert.equal((await t.links("s", x))?.[y]?.state, "connected");
  assert.deepEqual(t.failed, []);
});

Deno.test("link writer: a batch that loses a check is split; reports of unchanged rooms still share commits", async () => {
  let race: (() => Promise<void>) | null = null;
  using t = await setup({
    beforeCommit: async () => {
      const run = race;
      race = null;
      await run?.();
    },
  });
  const pairs = [];
  for (let i = 0; i < 8; i++) {
    const room = `r${i}`;
    pairs.push({ room, a: await t.join(room), b: await t.join(room) });
  }
  t.counts.reportsInCommits.length = 0;
  // Someone joins room r0 between the batch's read and its commit.
  race = async () => void await t.join("r0");
  for (const { room, a, b } of pairs) {
    t.writer.report({ room, peer: a, states: { [b]: "connected" } });
  }
  await t.tasks.settle();
  // The batch of 8 lost (the newcomer's own join commit is counted next: one links key); the half
  // without r0 went through as one commit of 4; r0's half split 2 + 2, then 1 + 1.
  const sizes = t.counts.reportsInCommits;
  assert.deepEqual(sizes.slice(0, 2), [8, 1]);
  assert.ok(sizes.includes(4), `commit sizes ${sizes}`);
  assert.ok(sizes.length <= 9, `commit sizes ${sizes}`);
  for (const { room, a, b } of pairs) {
    assert.equal((await t.links(room, a))?.[b]?.state, "connected");
  }
  assert.equal(t.stored.length, 8);
  assert.deepEqual(t.failed, []);
});

Deno.test("link writer: a member that left is not written", async () => {
  using t = await setup();
  const [a, b] = [await t.join("r"), await t.join("r")];
  await t.store.remove("r", a);
  t.writer.report({ room: "r", peer: a, states: { [b]: "connected" } });
  await t.tasks.settle();
  assert.equal(await t.links("r", a), null);
  assert.deepEqual(t.stored, []);
});
