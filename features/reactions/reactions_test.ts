/**
 * Reactions: the validator, and the real feature on real feature hosts joined by a TestMesh.
 * Pacing uses real clocks (the feature's and the host's token buckets read `Date.now`), so the
 * waits below are real but short, and wait for a condition rather than a fixed time.
 */
import assert from "node:assert/strict";
import { TestMesh } from "../../mesh/testing.ts";
import type { PeerId } from "../../mesh/types.ts";
import {
  parseReaction,
  type Reaction,
  REACTIONS,
  reactions,
  RECEIVE_RATE,
  SEND_RATE,
  SHOW_MS,
} from "./reactions.ts";

/** Not exported by reactions.ts: reactions shown at once on one tile. */
const MAX_PER_TILE = 6;

const frame = (emoji: string) => JSON.stringify({ t: "reactions/send", b: { emoji } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `condition` holds; fails after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out after ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
  return Date.now() - start;
}

/**
 * A meeting of `peers` with the reactions feature, every link open; `end` stops every feature's
 * timers (what the core does when the meeting ends), so no test leaks a timer.
 */
async function meetingOf(...peers: PeerId[]) {
  const mesh = new TestMesh(peers);
  for (const peer of peers) mesh.host(peer).create(reactions);
  mesh.connectAll();
  await mesh.flush();
  const of = (peer: PeerId) => mesh.host(peer).get(reactions);
  const from = (peer: PeerId, sender: PeerId | null): Reaction[] =>
    of(peer).active.value.filter((r) => r.peer === sender);
  const hosts = peers.map((peer) => mesh.host(peer)); // kept: `remove` forgets a peer's host
  const end = () => hosts.forEach((host) => host.emit("ended", { kind: "left", message: "" }));
  return { mesh, of, from, end };
}

Deno.test("parseReaction: only emoji of the set, as a fresh { emoji }", () => {
  for (const emoji of Object.keys(REACTIONS)) {
    const parsed = parseReaction({ emoji, peer: "ada", extra: 1 });
    assert.deepEqual(parsed, { emoji });
    assert.deepEqual(Object.keys(parsed!), ["emoji"]);
  }
  for (
    const emoji of [
      "__proto__",
      "toString",
      "constructor",
      "hasOwnProperty",
      "valueOf",
      "💩",
      "👍🏽", // a variant of one of the set is another emoji
      "❤", // the heart without its variation selector
      "👍 ",
      " 👍",
      "👍👍",
      "thumbs up",
      "",
      1,
      null,
      true,
      ["👍"],
      { emoji: "👍" },
    ]
  ) {
    assert.equal(parseReaction({ emoji }), null, `accepted ${JSON.stringify(emoji)}`);
  }
  for (const body of [undefined, null, "👍", ["👍"], {}, { reaction: "👍" }]) {
    assert.equal(parseReaction(body), null, `accepted ${JSON.stringify(body)}`);
  }
  assert.equal(parseReaction(JSON.parse('{"__proto__":{"emoji":"👍"}}')), null);
});

Deno.test("a reaction shows on the others with the sender's peer id, then goes after SHOW_MS", async () => {
  const { mesh, of, from, end } = await meetingOf("ada", "bob", "cid");
  try {
    const sentAt = Date.now();
    assert.equal(of("ada").send("🎉"), true);
    // On the sender's own tile at once, as ours (peer null).
    assert.deepEqual(from("ada", null).map((r) => r.emoji), ["🎉"]);
    await mesh.flush();
    for (const peer of ["bob", "cid"]) {
      assert.deepEqual(of(peer).active.value.map((r) => [r.peer, r.emoji]), [["ada", "🎉"]]);
    }
    await until(
      () => ["ada", "bob", "cid"].every((p) => of(p).active.value.length === 0),
      SHOW_MS + 2_000,
      "reactions to go",
    );
    const shownFor = Date.now() - sentAt;
    assert.ok(shownFor >= SHOW_MS - 50, `gone after ${shownFor} ms, before SHOW_MS`);
  } finally {
    end();
  }
});

Deno.test("send refuses emoji outside the set, and sends nothing for them", async () => {
  const { mesh, of, end } = await meetingOf("ada", "bob");
  try {
    const wired = mesh.wire.length;
    for (const emoji of ["💩", "__proto__", "toString", ""]) {
      assert.equal(of("ada").send(emoji), false, emoji);
    }
    await mesh.flush();
    assert.equal(mesh.wire.length, wired);
    assert.deepEqual(of("ada").active.value, []);
    assert.equal(of("ada").canSend.value, true, "refusing unknown emoji costs no pacing");
  } finally {
    end();
  }
});

Deno.test("the sender is paced: a burst of SEND_RATE.burst, then canSend until a token is back", async () => {
  const { mesh, of, from, end } = await meetingOf("ada", "bob");
  try {
    const ada = of("ada");
    assert.equal(SEND_RATE.burst, 3);
    assert.equal(ada.canSend.value, true);
    assert.equal(ada.send("👍"), true);
    assert.equal(ada.send("👏"), true);
    assert.equal(ada.canSend.value, true);
    assert.equal(ada.send("😂"), true);
    assert.equal(ada.canSend.value, false, "no token left after the burst");
    assert.equal(ada.send("❤️"), false, "the 4th immediate send is refused");
    await mesh.flush();
    assert.deepEqual(from("bob", "ada").map((r) => r.emoji), ["👍", "👏", "😂"]);
    const waited = await until(() => ada.canSend.value, 3_000, "canSend to come back");
    assert.ok(waited >= 1000 / SEND_RATE.perSecond - 100, `canSend back after ${waited} ms`);
    assert.equal(ada.send("❤️"), true);
    await mesh.flush();
    assert.deepEqual(from("bob", "ada").map((r) => r.emoji), ["👍", "👏", "😂", "❤️"]);
  } finally {
    end();
  }
});

Deno.test("a flooding peer shows at most RECEIVE_RATE.burst; the host drops the rest as rate", async () => {
  const { mesh, of, from, end } = await meetingOf("ada", "eve");
  try {
    const before = mesh.host("ada").dropped.rate;
    for (let i = 0; i < 20; i++) mesh.inject("eve", "ada", frame("👍"));
    assert.equal(from("ada", "eve").length, RECEIVE_RATE.burst);
    assert.equal(mesh.host("ada").dropped.rate - before, 20 - RECEIVE_RATE.burst);
    // The flood is eve's alone: ada's own reactions and others' are not paced by it.
    assert.equal(of("ada").send("🎉"), true);
    assert.equal(from("ada", null).length, 1);
  } finally {
    end();
  }
});

Deno.test(`one tile shows at most ${MAX_PER_TILE} reactions; the oldest makes room`, async () => {
  const { mesh, from, end } = await meetingOf("ada", "eve");
  try {
    for (let i = 0; i < RECEIVE_RATE.burst; i++) mesh.inject("eve", "ada", frame("👍"));
    assert.equal(from("ada", "eve").length, RECEIVE_RATE.burst);
    const firstId = from("ada", "eve")[0].id;
    // Keep sending as tokens come back (two a second), well within SHOW_MS.
    const emoji = ["👏", "😂", "❤️"];
    for (const [i, e] of emoji.entries()) {
      await until(
        () => {
          const shown = from("ada", "eve").length;
          mesh.inject("eve", "ada", frame(e));
          return from("ada", "eve").some((r) => r.emoji === e) || shown < 0;
        },
        2_000,
        `reaction ${i} to be accepted`,
      );
    }
    const shown = from("ada", "eve");
    assert.equal(shown.length, MAX_PER_TILE);
    assert.equal(shown.some((r) => r.id === firstId), false, "the oldest went first");
    assert.deepEqual(shown.slice(-3).map((r) => r.emoji), emoji);
  } finally {
    end();
  }
});

Deno.test("someone who leaves takes their reactions with them", async () => {
  const { mesh, of, from, end } = await meetingOf("ada", "bob", "cid");
  try {
    of("bob").send("😮");
    of("cid").send("👍");
    await mesh.flush();
    assert.equal(from("ada", "bob").length, 1);
    mesh.remove("bob");
    assert.deepEqual(of("ada").active.value.map((r) => r.peer), ["cid"]);
  } finally {
    end();
  }
});
