/**
 * The feature host under attack: what a modified client can put on the core data channel (forged
 * senders, invalid or oversized bodies, unknown topics, floods, unasked or replayed snapshots)
 * must never reach a feature, and must not disturb anyone else's messages.
 */
import assert from "node:assert/strict";
import { signal } from "@preact/signals-core";
import { defineFeature, type FeatureContext, type RoomControls } from "./feature.ts";
import { FeatureHost } from "./feature_host.ts";
import { MeetingRoomControls } from "./room_controls.ts";
import { TestMesh } from "./testing.ts";
import type { PeerId } from "./types.ts";

interface Note {
  from: PeerId;
  text: string;
}

/** A small feature: notes of 1..20 letters; a snapshot of every note seen. */
const notes = defineFeature("notes", (ctx: FeatureContext) => {
  const received: Note[] = [];
  const applied: { from: PeerId; notes: string[] }[] = [];
  const topic = ctx.topic("note", {
    validate: (body) => {
      const text = (body as { text?: unknown } | null)?.text;
      return typeof text === "string" && /^[a-z]{1,20}$/.test(text) ? { text } : null;
    },
    maxBytes: 200,
    rate: { burst: 5, perSecond: 1 },
  });
  topic.onMessage((from, { text }) => received.push({ from, text }));
  ctx.snapshot<string[]>({
    take: () => received.map((n) => n.text),
    validate: (body) =>
      Array.isArray(body) && body.every((x) => typeof x === "string") ? body as string[] : null,
    apply: (from, list) => applied.push({ from, notes: list }),
  });
  return {
    received,
    applied,
    send: (to: PeerId | "all", text: string) => topic.send(to, { text }),
  };
});

const frame = (topic: string, body: unknown) => JSON.stringify({ t: topic, b: body });

async function meshOf(...peers: PeerId[]) {
  const mesh = new TestMesh(peers);
  const features = Object.fromEntries(peers.map((p) => [p, mesh.host(p).create(notes)]));
  mesh.connectAll();
  await mesh.flush();
  return { mesh, features };
}

Deno.test("the sender is the link's peer, whatever the message claims", async () => {
  const { mesh, features } = await meshOf("ada", "bob", "eve");
  // Eve's client puts Ada's id everywhere it can.
  mesh.inject("eve", "bob", JSON.stringify({ t: "notes/note", b: { text: "hi", from: "ada" } }));
  mesh.inject("eve", "bob", JSON.stringify({ t: "notes/note", from: "ada", b: { text: "yo" } }));
  await mesh.flush();
  assert.deepEqual(features.bob.received, [{ from: "eve", text: "hi" }, {
    from: "eve",
    text: "yo",
  }]);
});

Deno.test("invalid bodies, unknown topics and malformed frames never reach a feature", async () => {
  const { mesh, features } = await meshOf("ada", "eve");
  const host = mesh.host("ada");
  const attacks: [unknown, keyof typeof host.dropped][] = [
    [frame("notes/note", { text: "UPPER" }), "invalid"],
    [frame("notes/note", { text: 42 }), "invalid"],
    [frame("notes/note", null), "invalid"],
    [frame("notes/note", "hi"), "invalid"],
    [frame("notes/other", { text: "hi" }), "unknown-topic"],
    [frame("chat/message", { text: "hi" }), "unknown-topic"],
    [frame("notes", { text: "hi" }), "malformed"],
    [frame("Notes/note", { text: "hi" }), "malformed"],
    [frame("notes/note/x", { text: "hi" }), "malformed"],
    ['{"t":"notes/note","b":', "malformed"],
    ["[]", "malformed"],
    ["null", "malformed"],
    ['{"b":{"text":"hi"}}', "malformed"],
    [new Uint8Array([123, 125]).buffer, "not-text"],
    [42, "not-text"],
    [null, "not-text"],
    ["x".repeat(256 * 1024 + 1), "too-big"],
  ];
  for (const [data, reason] of attacks) {
    const before = host.dropped[reason];
    mesh.inject("eve", "ada", data);
    assert.equal(host.dropped[reason], before + 1, `${String(data).slice(0, 60)}: ${reason}`);
  }
  // A topic's own limit applies even when the validator would take it.
  const padded = JSON.stringify({ t: "notes/note", b: { text: "hi", pad: "x".repeat(200) } });
  mesh.inject("eve", "ada", padded);
  assert.equal(host.dropped["too-big"], 2);
  assert.deepEqual(features.ada.received, []);
  // The link still works for valid messages afterwards.
  features.eve.send("ada", "fine");
  await mesh.flush();
  assert.deepEqual(features.ada.received, [{ from: "eve", text: "fine" }]);
});

Deno.test("__proto__ in a frame neither pollutes prototypes nor changes the topic", async () => {
  const { mesh, features } = await meshOf("ada", "eve");
  mesh.inject("eve", "ada", '{"t":"notes/note","__proto__":{"t":"x"},"b":{"text":"ok"}}');
  mesh.inject("eve", "ada", '{"__proto__":{"t":"notes/note","b":{"text":"no"}}}');
  assert.deepEqual(features.ada.received, [{ from: "eve", text: "ok" }]);
  assert.equal(({} as Record<string, unknown>).t, undefined);
});

Deno.test("a flood is cut per sender and topic; other senders are not affected", async () => {
  const { mesh, features } = await meshOf("ada", "bob", "eve");
  for (let i = 0; i < 50; i++) mesh.inject("eve", "ada", frame("notes/note", { text: "spam" }));
  assert.equal(features.ada.received.length, 5, "the burst of 5, then nothing");
  assert.equal(mesh.host("ada").dropped.rate, 45);
  features.bob.send("ada", "hello");
  await mesh.flush();
  assert.deepEqual(features.ada.received.at(-1), { from: "bob", text: "hello" });
});

Deno.test("a feature that throws does not stop the others or the host", async () => {
  const mesh = new TestMesh(["ada", "bob"]);
  const seen: string[] = [];
  const broken = defineFeature("broken", (ctx) => {
    const topic = ctx.topic("x", { validate: (b) => b });
    topic.onMessage(() => {
      throw new Error("feature bug");
    });
    topic.onMessage(() => seen.push("second handler"));
    ctx.on("link-open", () => {
      throw new Error("feature bug");
    });
    return topic;
  });
  const a = mesh.host("ada").create(broken);
  mesh.host("bob").create(broken);
  const bobNotes = mesh.host("bob").create(notes);
  const adaNotes = mesh.host("ada").create(notes);
  const errors: unknown[] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    mesh.connectAll();
    a.send("all", 1);
    adaNotes.send("all", "still");
    await mesh.flush();
  } finally {
    console.error = log;
  }
  assert.deepEqual(seen, ["second handler"]);
  assert.deepEqual(bobNotes.received, [{ from: "ada", text: "still" }]);
  assert.ok(errors.length >= 2, "each failure is logged");
});

Deno.test("a newcomer gets a snapshot from the one member it asked, once", async () => {
  const { mesh, features } = await meshOf("ada", "bob");
  features.ada.send("bob", "before");
  await mesh.flush();
  const cy = mesh.add("cy").create(notes);
  mesh.connect("cy", "bob");
  mesh.connect("cy", "ada");
  await mesh.flush();
  const requests = mesh.wire.filter((w) => w.from === "cy" && w.text.includes("snapshot-request"));
  assert.deepEqual(requests.map((w) => w.to), ["bob"], "one request, to the first link");
  assert.deepEqual(cy.applied, [{ from: "bob", notes: ["before"] }]);
});

Deno.test("snapshots nobody asked for, replays and forgeries are refused", async () => {
  const { mesh } = await meshOf("ada", "bob", "eve");
  const cyHost = mesh.add("cy");
  const cy = cyHost.create(notes);
  mesh.connect("cy", "bob"); // Cy asks Bob
  // Before Bob's answer arrives, Eve (no link to Cy yet, then one) pushes her own state.
  mesh.connect("cy", "eve");
  mesh.inject("eve", "cy", frame("core/snapshot", { f: "notes", b: ["forged"] }));
  await mesh.flush();
  assert.deepEqual(cy.applied, [{ from: "bob", notes: [] }]);
  // Bob's answer replayed (or a second answer) is refused too.
  mesh.inject("bob", "cy", frame("core/snapshot", { f: "notes", b: ["again"] }));
  assert.deepEqual(cy.applied.length, 1);
  assert.ok(cyHost.dropped.unsolicited >= 2);
  // A well-formed request for state nobody offers gets nothing; a malformed one is dropped.
  const sent = mesh.wire.length;
  mesh.inject("eve", "ada", frame("core/snapshot-request", { features: ["nothing"] }));
  mesh.inject("eve", "ada", frame("core/snapshot-request", { features: "notes" }));
  mesh.inject("eve", "ada", frame("core/snapshot-request", { features: ["NOTES"] }));
  await mesh.flush();
  assert.equal(mesh.wire.length, sent, "no answer went out");
  assert.equal(mesh.host("ada").dropped.invalid, 2);
});

Deno.test("an invalid snapshot is not applied", async () => {
  const mesh = new TestMesh(["ada", "eve"]);
  const ada = mesh.host("ada").create(notes);
  mesh.host("eve").create(defineFeature("notes", (ctx) => {
    // Eve's modified client answers with garbage.
    ctx.topic("note", { validate: () => null });
    ctx.snapshot({ take: () => [1, 2, 3], validate: () => null, apply: () => {} });
  }));
  mesh.connectAll();
  await mesh.flush();
  assert.deepEqual(ada.applied, []);
  assert.equal(mesh.host("ada").dropped.invalid, 1);
});

Deno.test("if the member asked leaves before answering, the next one is asked", async () => {
  const mesh = new TestMesh(["ada", "bob", "cy"]);
  const [, bob, cy] = ["ada", "bob", "cy"].map((p) => mesh.host(p).create(notes));
  mesh.connect("bob", "cy");
  await mesh.flush();
  bob.send("cy", "kept");
  await mesh.flush();
  // Ada's first link is to a member that vanishes at once, before its answer is delivered.
  mesh.connect("ada", "bob");
  mesh.remove("bob");
  mesh.connect("ada", "cy");
  await mesh.flush();
  const ada = mesh.host("ada").get(notes);
  assert.deepEqual(ada.applied, [{ from: "cy", notes: ["kept"] }]);
  assert.deepEqual(cy.received, [{ from: "bob", text: "kept" }]);
});

Deno.test("registration: names are checked and unique; oversized sends say how to fix", () => {
  const mesh = new TestMesh(["ada"]);
  const host = mesh.host("ada");
  assert.throws(() => defineFeature("Bad Name", () => null), /not valid/);
  assert.throws(() => host.create({ name: "core", create: () => null }), /reserved/);
  const twice = defineFeature("twice", (ctx) => {
    ctx.topic("a", { validate: (b) => b });
    ctx.topic("a", { validate: (b) => b });
  });
  assert.throws(() => host.create(twice), /registered already/);
  const big = host.create(defineFeature("big", (ctx) => ctx.topic("x", { validate: (b) => b })));
  assert.throws(() => big.send("all", "x".repeat(20_000)), /maxBytes.*feature channel/);
  assert.throws(() => host.get(notes), /features/);
  // Creating twice gives the same instance.
  assert.equal(host.create(notes), host.create(notes));
});

Deno.test("lifecycle: link-open and peer-left reach features in order", () => {
  const mesh = new TestMesh(["ada", "bob"]);
  const events: string[] = [];
  const watcher = defineFeature("watcher", (ctx) => {
    ctx.on("peer-joined", (p) => events.push(`joined ${p}`));
    ctx.on("link-open", (p) => events.push(`open ${p}`));
    ctx.on("peer-left", (p) => events.push(`left ${p}`));
    const off = ctx.on("link-state", () => events.push("never"));
    off();
  });
  mesh.host("ada").create(watcher);
  mesh.add("cy");
  mesh.connect("ada", "bob");
  mesh.remove("bob");
  mesh.host("ada").emit("link-state", { peer: "cy", state: "connected" });
  assert.deepEqual(events, ["joined cy", "open bob", "left bob"]);
});

Deno.test("ctx.room is the meeting's room controls; muted and removed reach features", () => {
  const room = new MeetingRoomControls({ source: signal(null), key: "" });
  const host = new FeatureHost({
    links: { send: () => false, openPeers: () => [], maxMessageSize: () => 0 },
    self: signal("ada"),
    selfName: "Ada",
    peers: signal([]),
    room,
    notify: () => {},
  });
  const events: unknown[] = [];
  let seen: RoomControls | null = null;
  host.create(defineFeature("hosting", (ctx) => {
    seen = ctx.room;
    ctx.on("muted", (m) => events.push(["muted", m]));
    ctx.on("removed", (r) => events.push(["removed", r]));
  }));
  assert.equal(seen, room);
  const removal = { peer: "bob", code: "kicked" as const, by: "ada", unreachable: [], at: 1 };
  host.emit("muted", { what: "audio", by: "ada" });
  host.emit("removed", removal);
  assert.deepEqual(events, [["muted", { what: "audio", by: "ada" }], ["removed", removal]]);
  room.dispose();
});

Deno.test("without a meeting, ctx.room is detached: empty, and act sends nothing", () => {
  const mesh = new TestMesh(["ada"]);
  let room: RoomControls | null = null;
  mesh.host("ada").create(defineFeature("peek", (ctx) => void (room = ctx.room)));
  assert.ok(room);
  const r = room as RoomControls;
  assert.equal(r.isHost.value, false);
  assert.deepEqual(r.knocks.value, []);
  assert.equal(r.act({ type: "end" }), false);
});
