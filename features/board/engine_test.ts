import assert from "node:assert/strict";
import * as encoding from "lib0/encoding";
import { writeSyncStep1, writeSyncStep2, writeUpdate } from "y-protocols/sync";
import * as Y from "yjs";
import { BoardEngine } from "./engine.ts";
import type { StrokeInput } from "./model.ts";
import { BoardNet } from "./testing.ts";
import {
  EMPTY_STEP1,
  EMPTY_STEP2,
  FRAME_AWARENESS,
  FRAME_FIRST,
  FRAME_SYNC,
  frameKind,
  MAX_SYNC_BYTES,
} from "./frames.ts";
import { CHUNK_BYTES, syncFrames } from "./wire.ts";

/** A deterministic stroke: `n` points around (x, y). */
function stroke(x: number, y: number, n = 12, color = 0): StrokeInput {
  const points: number[] = [];
  for (let i = 0; i < n; i++) points.push(x + i * 3.25, y + Math.sin(i) * 5);
  return { kind: "pen", color, size: 4, points, pressure: null };
}

/** Everything that should be equal on peers that agree. */
function view(e: BoardEngine) {
  return JSON.stringify(e.snapshot());
}

function assertConverged(net: BoardNet): void {
  const [first, ...rest] = [...net.engines.entries()];
  for (const [name, e] of rest) {
    assert.equal(view(e), view(first[1]), `${name} and ${first[0]} show the same board`);
    assert.deepEqual(
      Y.decodeStateVector(e.stateVector()),
      Y.decodeStateVector(first[1].stateVector()),
      `${name} and ${first[0]} have the same document state`,
    );
  }
}

function message(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

Deno.test("the light part's constant frames are what y-protocols writes for an empty document", () => {
  const empty = new Y.Doc();
  assert.deepEqual([...syncFrames(message((e) => writeSyncStep1(e, empty)))[0]], [
    ...EMPTY_STEP1,
  ]);
  assert.deepEqual(
    [...syncFrames(message((e) => writeSyncStep2(e, empty, Y.encodeStateVector(new Y.Doc()))))[0]],
    [...EMPTY_STEP2],
  );
  assert.equal(frameKind(EMPTY_STEP1), "step1");
  assert.equal(frameKind(EMPTY_STEP2), "empty-step2");
  const full = new Y.Doc();
  full.getMap("el").set("a", 1);
  assert.equal(
    frameKind(syncFrames(message((e) => writeSyncStep2(e, full, Y.encodeStateVector(empty))))[0]),
    "content",
  );
  assert.equal(
    frameKind(syncFrames(message((e) => writeUpdate(e, Y.encodeStateAsUpdate(full))))[0]),
    "content",
  );
});

Deno.test("a stroke drawn on one board appears on the others, once, as one small update", async () => {
  const net = new BoardNet(["ada", "bob", "cy"]);
  try {
    net.connectAll();
    await net.flush();
    const before = net.wire.length;
    const id = net.engine("ada").add(stroke(10, 10, 40));
    assert.ok(id);
    await net.flush();
    assertConverged(net);
    assert.equal(net.engine("cy").get(id!)?.points.length, 80);
    const sent = net.wire.slice(before);
    // One update to each of the two others, nothing more.
    assert.equal(sent.length, 2);
    assert.ok(sent.every((f) => f.kind === FRAME_SYNC && f.bytes < 200), JSON.stringify(sent));
  } finally {
    net.dispose();
  }
});

Deno.test("three boards drawing at the same time converge", async () => {
  const net = new BoardNet(["ada", "bob", "cy"]);
  try {
    net.connectAll();
    for (let i = 0; i < 30; i++) {
      for (const [j, name] of ["ada", "bob", "cy"].entries()) {
        net.engine(name).add(stroke(i * 10, j * 50, 8, j));
      }
    }
    await net.flush();
    assertConverged(net);
    assert.equal(net.engine("bob").size, 90);
  } finally {
    net.dispose();
  }
});

Deno.test("undo and redo touch only one's own strokes", async () => {
  const net = new BoardNet(["ada", "bob"]);
  try {
    net.connectAll();
    const ada = net.engine("ada"), bob = net.engine("bob");
    const a1 = ada.add(stroke(0, 0))!;
    const b1 = bob.add(stroke(0, 50))!;
    await net.flush();
    const a2 = ada.add(stroke(0, 100))!;
    await net.flush();
    assert.equal(bob.canUndo.value, true);
    ada.undo();
    await net.flush();
    assert.deepEqual(bob.elements().map((e) => e.id).sort(), [a1, b1].sort());
    ada.undo();
    await net.flush();
    assert.deepEqual(bob.elements().map((e) => e.id), [b1]);
    // Nothing of Ada's left to undo: Bob's stroke stays.
    ada.undo();
    await net.flush();
    assert.deepEqual(ada.elements().map((e) => e.id), [b1]);
    assert.equal(ada.canUndo.value, false);
    ada.redo();
    ada.redo();
    await net.flush();
    assert.deepEqual(bob.elements().map((e) => e.id).sort(), [a1, a2, b1].sort());
    assertConverged(net);
  } finally {
    net.dispose();
  }
});

Deno.test("undo of a move puts it back; undo of an erase or a clear brings the elements back", async () => {
  const net = new BoardNet(["ada", "bob"]);
  try {
    net.connectAll();
    const ada = net.engine("ada"), bob = net.engine("bob");
    const id = ada.add(stroke(0, 0))!;
    const other = bob.add(stroke(100, 0))!;
    await net.flush();
    ada.move([id], 20, -5);
    await net.flush();
    assert.equal(bob.get(id)?.x, 20);
    assert.equal(bob.get(id)?.y, -5);
    ada.undo();
    await net.flush();
    assert.equal(bob.get(id)?.x, 0);
    ada.clear();
    await net.flush();
    assert.equal(bob.size, 0);
    ada.undo();
    await net.flush();
    assert.deepEqual(bob.elements().map((e) => e.id).sort(), [id, other].sort());
    bob.erase([id]);
    await net.flush();
    assert.equal(ada.get(id), undefined);
    bob.undo();
    await net.flush();
    assert.ok(ada.get(id));
    assertConverged(net);
  } finally {
    net.dispose();
  }
});

Deno.test("a newcomer receives the whole board once, from one peer, in pieces", async () => {
  const net = new BoardNet(["ada", "bob", "cy"]);
  try {
    net.connectAll();
    for (let i = 0; i < 2_000; i++) {
      net.engine(["ada", "bob", "cy"][i % 3]).add(stroke(i, i, 60));
    }
    await net.flush();
    const size = net.engine("ada").encodeState().length;
    assert.ok(size > 2 * CHUNK_BYTES, `the board (${size} B) needs several pieces`);
    const before = net.wire.length;
    net.add("dee");
    for (const name of ["ada", "bob", "cy"]) net.connect(name, "dee");
    await net.flush();
    assertConverged(net);
    const toDee = net.wire.slice(before).filter((f) => f.to === "dee");
    const received = toDee.reduce((n, f) => n + f.bytes, 0);
    assert.ok(received < size * 1.2, `Dee received ${received} B for a ${size} B board`);
    assert.ok(toDee.some((f) => f.kind === FRAME_FIRST));
    assert.ok(toDee.every((f) => f.bytes <= CHUNK_BYTES));
  } finally {
    net.dispose();
  }
});

Deno.test("a partition heals when the link comes back: both sides' strokes, erases and moves", async () => {
  const net = new BoardNet(["ada", "bob", "cy"]);
  try {
    net.connectAll();
    const shared = net.engine("ada").add(stroke(0, 0))!;
    await net.flush();
    // Cy is cut off from everyone.
    net.cut("cy", "ada");
    net.cut("cy", "bob");
    for (let i = 0; i < 10; i++) {
      net.engine("cy").add(stroke(i, 200));
      net.engine("ada").add(stroke(i, 300));
    }
    net.engine("cy").move([shared], 5, 5);
    net.engine("bob").erase([shared]);
    await net.flush();
    assert.notEqual(view(net.engine("cy")), view(net.engine("ada")));
    net.connect("cy", "ada");
    net.connect("cy", "bob");
    await net.flush();
    assertConverged(net);
    // A move and an erase at once: the move wins (Yjs keeps a value set concurrently with a
    // deletion), so nothing is lost without someone seeing it go.
    assert.equal(net.engine("ada").size, 21);
    assert.equal(net.engine("bob").get(shared)?.x, 5);
  } finally {
    net.dispose();
  }
});

Deno.test("an update that reached only some before its author left reaches the rest", async () => {
  const net = new BoardNet(["ada", "bob", "cy"]);
  try {
    net.connectAll();
    net.engine("ada").add(stroke(0, 0));
    await net.flush();
    net.cut("ada", "cy");
    const id = net.engine("ada").add(stroke(50, 50))!;
    await net.flush();
    assert.ok(net.engine("bob").get(id));
    assert.equal(net.engine("cy").get(id), undefined);
    net.remove("ada");
    // Bob and Cy exchange state vectors a moment after Ada left.
    await new Promise((r) => setTimeout(r, 1_700));
    await net.flush();
    assertConverged(net);
    assert.ok(net.engine("cy").get(id));
  } finally {
    net.dispose();
  }
});

/** A seeded PRNG (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("randomized: any mix of edits, undos and partitions converges once everyone is linked", async () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const random = rng(seed);
    const names = ["ada", "bob", "cy", "dee"];
    const net = new BoardNet(names);
    try {
      net.connectAll();
      const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
      for (let step = 0; step < 300; step++) {
        const who = pick(names);
        const e = net.engine(who);
        const ids = e.elements().map((el) => el.id);
        const r = random();
        if (r < 0.4) e.add(stroke(random() * 500, random() * 500, 2 + Math.floor(random() * 20)));
        else if (r < 0.5 && ids.length) e.move([pick(ids), pick(ids)], random() * 20, 3);
        else if (r < 0.6 && ids.length) e.erase([pick(ids)]);
        else if (r < 0.7) e.undo();
        else if (r < 0.75) e.redo();
        else if (r < 0.77) e.clear();
        else if (r < 0.85) {
          const other = pick(names.filter((n) => n !== who));
          if (net.linked(who, other)) net.cut(who, other);
          else net.connect(who, other);
        } else if (r < 0.9) {
          e.add({ kind: "text", color: 1, size: 24, x: 1, y: 2, text: `t${step}` });
        }
        if (random() < 0.3) await net.flush();
      }
      net.connectAll();
      await net.flush();
      assertConverged(net);
    } finally {
      net.dispose();
    }
  }
});

// ---- What a hostile peer can send ----

Deno.test("attack: malformed, oversized and text frames are dropped and counted; the board goes on", async () => {
  const net = new BoardNet(["ada", "eve"]);
  try {
    net.connectAll();
    await net.flush();
    const ada = net.engine("ada");
    const garbage = [
      Uint8Array.of(),
      Uint8Array.of(99),
      Uint8Array.of(FRAME_SYNC),
      Uint8Array.of(FRAME_SYNC, 7, 1, 0), // unknown sync type
      Uint8Array.of(FRAME_SYNC, 2, 200, 1), // length beyond the message
      Uint8Array.of(FRAME_SYNC, 2, 3, 1, 2, 3, 9), // trailing bytes
      Uint8Array.of(FRAME_SYNC, 2, 4, 255, 255, 255, 255), // not an update
      Uint8Array.of(2, 1, 2, 3), // a piece of nothing
      Uint8Array.of(FRAME_AWARENESS, 123, 34), // not JSON
    ];
    for (const g of garbage) net.inject("eve", "ada", g);
    net.inject("eve", "ada", "text is not a board frame");
    // A message announced at 64 MiB is refused at its first piece.
    const first = new Uint8Array(16);
    first[0] = FRAME_FIRST;
    new DataView(first.buffer).setUint32(1, 64 * 1024 * 1024);
    first[5] = 2;
    net.inject("eve", "ada", first);
    for (let i = 0; i < 5; i++) net.inject("eve", "ada", Uint8Array.of(2, ...new Uint8Array(100)));
    assert.equal(ada.dropped["too-big"], 1);
    assert.ok(ada.dropped.malformed >= 8, JSON.stringify(ada.dropped));
    assert.equal(ada.dropped["not-binary"], 1);
    assert.equal(ada.size, 0);
    // Still working with Eve and everyone.
    net.engine("eve").add(stroke(0, 0));
    await net.flush();
    assert.equal(ada.size, 1);
  } finally {
    net.dispose();
  }
});

Deno.test("attack: an update in someone else's name (ours) is refused", async () => {
  const net = new BoardNet(["ada", "eve"]);
  try {
    net.connectAll();
    const ada = net.engine("ada");
    ada.add(stroke(0, 0));
    await net.flush();
    // Eve makes items with Ada's client id, beyond Ada's own clock.
    const forged = new Y.Doc();
    Y.applyUpdate(forged, ada.encodeState());
    forged.clientID = ada.doc.clientID;
    forged.getMap("el").set("zzzz", { k: "t", z: 9, c: 0, s: 20, x: 0, y: 0, t: "fake" });
    const update = Y.encodeStateAsUpdate(forged, ada.stateVector());
    net.inject("eve", "ada", syncFrames(message((e) => writeUpdate(e, update)))[0]);
    assert.equal(ada.dropped.forged, 1);
    assert.equal(ada.get("zzzz"), undefined);
  } finally {
    net.dispose();
  }
});

Deno.test("attack: values that are not elements are stored but never shown", async () => {
  const net = new BoardNet(["ada", "eve"]);
  try {
    net.connectAll();
    const eve = net.engine("eve");
    const map = eve.doc.getMap("el");
    eve.doc.transact(() => {
      map.set("bad1", { k: "p", z: 1, c: 0, s: 4, x: 0, y: 0, d: new Uint8Array([255]) });
      map.set("bad2", { k: "x", z: 1, c: 0, s: 4, x: 0, y: 0 });
      map.set("bad3", { k: "t", z: 1, c: 99, s: 4, x: 0, y: 0, t: "x" });
      map.set("bad4", { k: "t", z: 2 ** 60, c: 0, s: 4, x: 0, y: 0, t: "x" });
      map.set("bad5", "just a string");
      map.set("Not-An-Id", { k: "t", z: 1, c: 0, s: 4, x: 0, y: 0, t: "x" });
      map.set("bad6", { k: "t", z: 1, c: 0, s: 4, x: 0, y: 0, t: "x".repeat(5000) });
      map.set("bad7", new Y.Map());
      map.set("good", { k: "t", z: 1, c: 0, s: 4, x: 0, y: 0, t: "ok" });
    });
    await net.flush();
    const ada = net.engine("ada");
    assert.deepEqual(ada.elements().map((e) => e.id), ["good"]);
    assert.ok(ada.invalid >= 8);
    // Ada can still draw on top.
    ada.add(stroke(0, 0));
    assert.equal(ada.size, 2);
  } finally {
    net.dispose();
  }
});

Deno.test("attack: a flood is cut by the frame rate and the byte budget, and nothing freezes", async () => {
  const net = new BoardNet(["ada", "eve"]);
  try {
    net.connectAll();
    await net.flush();
    const ada = net.engine("ada");
    // 2,000 frames at once: the first few hundred are taken, the rest dropped.
    const update = message((e) => writeUpdate(e, Uint8Array.of(0, 0)));
    const start = performance.now();
    for (let i = 0; i < 2_000; i++) net.inject("eve", "ada", syncFrames(update)[0]);
    assert.ok(ada.dropped.rate >= 1_500, JSON.stringify(ada.dropped));
    // 40 MiB of update at once: the budget (16 MiB at once) refuses most of it at the first piece.
    const big = new Uint8Array(8 * 1024 * 1024);
    big[0] = 2;
    const frames = syncFrames(big);
    for (let k = 0; k < 5; k++) for (const f of frames.slice(0, 2)) net.inject("eve", "ada", f);
    assert.ok(ada.dropped.rate + ada.dropped["too-big"] > 1_500);
    assert.ok(performance.now() - start < 5_000, "handled quickly");
    // A step 1 flood costs at most a few answers.
    const step1 = syncFrames(message((e) => writeSyncStep1(e, new Y.Doc())))[0];
    const sentBefore = net.wire.filter((f) => f.from === "ada").length;
    for (let i = 0; i < 100; i++) net.inject("eve", "ada", step1);
    await net.flush();
    const answers = net.wire.filter((f) => f.from === "ada").length - sentBefore;
    assert.ok(answers <= 5, `${answers} answers to 100 step 1s`);
  } finally {
    net.dispose();
  }
});

Deno.test("attack: updates waiting for pieces that never come are bounded and trigger a resync", async () => {
  const net = new BoardNet(["ada", "eve"]);
  try {
    net.connectAll();
    await net.flush();
    const ada = net.engine("ada");
    // Eve's own document: strokes 0..n; she sends Ada only the second half (the first never).
    const src = new Y.Doc();
    const map = src.getMap("el");
    map.set("a0", { k: "t", z: 1, c: 0, s: 9, x: 0, y: 0, t: "first" });
    const sv = Y.encodeStateVector(src);
    for (let i = 1; i < 3_000; i++) {
      map.set(`a${i}`, { k: "t", z: 1, c: 0, s: 9, x: 0, y: 0, t: "x".repeat(1_900) });
    }
    const later = Y.encodeStateAsUpdate(src, sv);
    assert.ok(later.length > 4 * 1024 * 1024);
    for (const f of syncFrames(message((e) => writeUpdate(e, later)))) net.inject("eve", "ada", f);
    assert.equal(ada.size, 0);
    assert.equal(ada.dropped["pending-overflow"], 1);
    assert.equal(ada.doc.store.pendingStructs, null);
  } finally {
    net.dispose();
  }
});

Deno.test("attack: awareness that is not a cursor or a stroke is dropped; names come from the link", async () => {
  const net = new BoardNet(["ada", "eve"]);
  try {
    net.connectAll();
    await net.flush();
    const ada = net.engine("ada");
    const frame = (v: unknown) => {
      const json = new TextEncoder().encode(JSON.stringify(v));
      return Uint8Array.of(FRAME_AWARENESS, ...json);
    };
    for (
      const bad of [
        null,
        [],
        { c: [1], d: null },
        { c: [1, 1e12], d: null },
        { c: null, d: { id: "a", k: "pen", c: 0, s: 4, i: 0, p: [1] } },
        { c: null, d: { id: "a", k: "text", c: 0, s: 4, i: 0, p: [1, 2] } },
        { c: null, d: { id: "a", k: "pen", c: 0, s: 4, i: 0, p: new Array(4000).fill(1) } },
      ]
    ) net.inject("eve", "ada", frame(bad));
    assert.equal(ada.dropped.awareness, 7);
    assert.equal(ada.presence.value.size, 0);
    net.inject("eve", "ada", frame({ c: [10, 20], d: null, name: "Bob" }));
    assert.deepEqual(ada.presence.value.get("eve")?.cursor, [10, 20]);
  } finally {
    net.dispose();
  }
});

Deno.test("a stroke being drawn travels as awareness in pieces, and gives way to the committed one", async () => {
  const net = new BoardNet(["ada", "bob"]);
  try {
    net.connectAll();
    await net.flush();
    const ada = net.engine("ada"), bob = net.engine("bob");
    const points: number[] = [];
    const draft = { id: "d1", kind: "pen" as const, color: 2, size: 4, points, pressure: null };
    for (let i = 0; i < 1_500; i++) {
      points.push(i, i / 2);
      if (i % 100 === 0) {
        ada.setPresence({ cursor: [i, i / 2], draft: { ...draft, points: [...points] } });
      }
    }
    ada.setPresence({ cursor: [1, 1], draft: { ...draft, points: [...points] } });
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 60));
      await net.flush();
    }
    const seen = bob.presence.value.get("ada");
    assert.equal(seen?.draft?.points.length, 3_000);
    assert.deepEqual(seen?.draft?.points.slice(-2), [1499, 749.5]);
    // Nothing about it was stored.
    assert.equal(bob.size, 0);
    ada.add({ kind: "pen", color: 2, size: 4, points, pressure: null }, "d1");
    ada.setPresence({ cursor: [1, 1], draft: null });
    await new Promise((r) => setTimeout(r, 60));
    await net.flush();
    assert.equal(bob.presence.value.get("ada")?.draft, null);
    assert.ok(bob.get("d1"));
    ada.setPresence(null);
    await net.flush();
    assert.equal(bob.presence.value.has("ada"), false);
  } finally {
    net.dispose();
  }
});

Deno.test("sync messages over the limit are never sent as one frame", () => {
  const big = new Uint8Array(MAX_SYNC_BYTES / 64);
  const frames = syncFrames(big);
  assert.ok(frames.length > 1);
  assert.ok(frames.every((f) => f.length <= CHUNK_BYTES));
  assert.equal(frames.reduce((n, f) => n + f.length, 0) - frames.length - 4, big.length);
});
