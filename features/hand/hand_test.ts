/**
 * Raise hand: its validator, and the real feature on real feature hosts joined by a TestMesh
 * (in-memory links carrying the exact strings a data channel would).
 */
import assert from "node:assert/strict";
import { TestMesh } from "../../mesh/testing.ts";
import type { PeerId } from "../../mesh/types.ts";
import { hand, MAX_AGO_MS, parseHandState } from "./hand.ts";

const frame = (body: unknown) => JSON.stringify({ t: "hand/state", b: body });
const raisedBy = (mesh: TestMesh, peer: PeerId) =>
  [...mesh.host(peer).get(hand).raisedBy.value].sort();

/** A meeting of `peers`, each with the hand feature, every link open and settled. */
async function meetingOf(...peers: PeerId[]) {
  const mesh = new TestMesh(peers);
  for (const peer of peers) mesh.host(peer).create(hand);
  mesh.connectAll();
  await mesh.flush();
  return mesh;
}

Deno.test("parseHandState: { raised: boolean }, a fresh object, nothing else", () => {
  assert.deepEqual(parseHandState({ raised: true }), { raised: true });
  assert.deepEqual(parseHandState({ raised: true, ago: 0 }), { raised: true, ago: 0 });
  assert.deepEqual(parseHandState({ raised: true, ago: MAX_AGO_MS }), {
    raised: true,
    ago: MAX_AGO_MS,
  });
  assert.deepEqual(parseHandState({ raised: false }), { raised: false });
  const parsed = parseHandState(JSON.parse('{"raised":true,"peer":"ada","__proto__":{"x":1}}'));
  assert.deepEqual(parsed, { raised: true });
  assert.deepEqual(Object.keys(parsed!), ["raised"]);
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  for (
    const body of [
      { raised: "true" },
      { raised: 1 },
      { raised: 0 },
      { raised: null },
      {},
      { up: true },
      JSON.parse('{"__proto__":{"raised":true}}'),
      null,
      undefined,
      true,
      "raised",
      [],
      [true],
      { raised: true, ago: -1 },
      { raised: true, ago: 1.5 },
      { raised: true, ago: MAX_AGO_MS + 1 },
      { raised: true, ago: "5" },
      { raised: true, ago: null },
      { raised: true, ago: Infinity },
      { raised: true, ago: NaN },
    ]
  ) {
    assert.equal(parseHandState(body), null, `accepted ${JSON.stringify(body)}`);
  }
});

Deno.test("raising a hand shows on everyone else; lowering it clears it", async () => {
  const mesh = await meetingOf("ada", "bob", "cid");
  const ada = mesh.host("ada").get(hand);
  ada.set(true);
  assert.equal(ada.raised.value, true);
  await mesh.flush();
  assert.deepEqual(raisedBy(mesh, "bob"), ["ada"]);
  assert.deepEqual(raisedBy(mesh, "cid"), ["ada"]);
  assert.deepEqual(raisedBy(mesh, "ada"), [], "our own hand is `raised`, not in raisedBy");

  mesh.host("bob").get(hand).set(true);
  await mesh.flush();
  assert.deepEqual(raisedBy(mesh, "cid"), ["ada", "bob"]);
  assert.deepEqual(raisedBy(mesh, "ada"), ["bob"]);

  ada.set(false);
  assert.equal(ada.raised.value, false);
  await mesh.flush();
  assert.deepEqual(raisedBy(mesh, "bob"), []);
  assert.deepEqual(raisedBy(mesh, "cid"), ["bob"]);
});

Deno.test("a new link hears the current hand as soon as it opens", async () => {
  const mesh = await meetingOf("ada", "bob");
  mesh.host("ada").get(hand).set(true);
  await mesh.flush();
  // Cid arrives after the hand went up: nobody calls set again.
  mesh.add("cid").create(hand);
  const sentBefore = mesh.wire.length;
  mesh.connect("ada", "cid");
  await mesh.flush();
  assert.deepEqual(raisedBy(mesh, "cid"), ["ada"]);
  const told = mesh.wire.slice(sentBefore).filter((w) => w.from === "ada" && w.to === "cid");
  assert.equal(told.length, 1);
  // With how long ago it went up: a moment, here.
  const body = JSON.parse(told[0].text as string).b;
  assert.equal(body.raised, true);
  assert.ok(Number.isInteger(body.ago) && body.ago >= 0 && body.ago < 5_000, told[0].text);
  // Bob's hand is down; his link to cid opens and says so, which changes nothing.
  mesh.connect("bob", "cid");
  await mesh.flush();
  assert.deepEqual(raisedBy(mesh, "cid"), ["ada"]);
  assert.ok(mesh.wire.some((w) =>
    w.from === "bob" && w.to === "cid" && w.text === frame({
        raised: false,
      })
  ));
});

Deno.test("someone who leaves takes their raised hand with them", async () => {
  const mesh = await meetingOf("ada", "bob", "cid");
  mesh.host("ada").get(hand).set(true);
  mesh.host("cid").get(hand).set(true);
  await mesh.flush();
  assert.deepEqual(raisedBy(mesh, "bob"), ["ada", "cid"]);
  mesh.remove("ada");
  assert.deepEqual(raisedBy(mesh, "bob"), ["cid"]);
  assert.deepEqual(raisedBy(mesh, "cid"), []);
});

Deno.test("the hand raised is the sending link's peer's, whatever the body claims", async () => {
  const mesh = await meetingOf("ada", "bob", "eve");
  mesh.inject("eve", "bob", frame({ raised: true, peer: "ada", from: "ada" }));
  mesh.inject("eve", "bob", JSON.stringify({ t: "hand/state", from: "ada", b: { raised: true } }));
  assert.deepEqual(raisedBy(mesh, "bob"), ["eve"]);
  mesh.inject("eve", "bob", frame({ raised: false, peer: "ada" }));
  assert.deepEqual(raisedBy(mesh, "bob"), []);
});

Deno.test("forged, invalid or oversized bodies never change anyone's hand", async () => {
  const mesh = await meetingOf("ada", "bob", "eve");
  mesh.host("ada").get(hand).set(true);
  await mesh.flush();
  const host = mesh.host("bob");
  const before = { ...host.dropped };
  const attacks = [
    frame({ raised: "false" }),
    frame({ raised: 0 }),
    frame({ raised: null }),
    frame(null),
    frame(true),
    frame([false]),
    JSON.stringify({ t: "hand/state" }), // no body
    frame({ raised: true, pad: "x".repeat(64) }), // over the topic's 64 bytes
    JSON.stringify({ t: "hand/other", b: { raised: true } }),
    JSON.stringify({ t: "Hand/state", b: { raised: true } }),
    '{"t":"hand/state","b":{"raised":tru',
    new TextEncoder().encode(frame({ raised: true })),
  ];
  for (const attack of attacks) {
    mesh.inject("eve", "bob", attack);
    mesh.inject("ada", "bob", attack); // from a peer whose hand is up: it stays up
  }
  await mesh.flush();
  assert.deepEqual(raisedBy(mesh, "bob"), ["ada"]);
  const dropped = Object.values(host.dropped).reduce((a, b) => a + b, 0) -
    Object.values(before).reduce((a, b) => a + b, 0);
  assert.equal(dropped, attacks.length * 2);
  assert.equal(host.dropped.invalid - before.invalid, 7 * 2);
  assert.equal(host.dropped["too-big"] - before["too-big"], 2);
});

Deno.test("hands are listed in the order raised, ours included, and a lowered hand leaves it", async () => {
  const mesh = await meetingOf("ada", "bob", "cid");
  const order = (peer: PeerId) => [...mesh.host(peer).get(hand).order.value];
  const raise = async (peer: PeerId, up = true) => {
    mesh.host(peer).get(hand).set(up);
    await mesh.flush();
    // Raised at distinct moments: the order must not hang on ties of the millisecond clock.
    const at = Date.now();
    while (Date.now() === at) await new Promise((r) => setTimeout(r, 1));
  };
  await raise("cid");
  await raise("ada");
  await raise("bob");
  for (const peer of ["ada", "bob", "cid"]) {
    assert.deepEqual(order(peer), ["cid", "ada", "bob"], `on ${peer}'s page`);
  }
  assert.deepEqual([...mesh.host("bob").get(hand).raisedBy.value], ["cid", "ada"]);
  await raise("ada", false);
  for (const peer of ["ada", "bob", "cid"]) {
    assert.deepEqual(order(peer), ["cid", "bob"], `on ${peer}'s page`);
  }
  // Up again: at the end of the line.
  await raise("ada");
  assert.deepEqual(order("bob"), ["cid", "bob", "ada"]);
});

Deno.test("a newcomer lists hands by when they went up, not by which link opened first", async () => {
  const mesh = await meetingOf("ada", "bob");
  // Bob's hand went up a minute ago, Ada's ten seconds ago (as each one's link tells it).
  mesh.add("cid").create(hand);
  mesh.inject("bob", "cid", frame({ raised: true, ago: 10_000 }));
  mesh.inject("ada", "cid", frame({ raised: true, ago: 60_000 }));
  const cid = mesh.host("cid").get(hand);
  assert.deepEqual([...cid.raisedBy.value], ["ada", "bob"]);
  const at = cid.raisedAt.value;
  assert.ok(Math.abs(Date.now() - at.get("ada")! - 60_000) < 1_000);
  assert.ok(Math.abs(Date.now() - at.get("bob")! - 10_000) < 1_000);
  // The same state again (a link that opens anew) keeps the hand where it was.
  mesh.inject("ada", "cid", frame({ raised: true, ago: 0 }));
  assert.deepEqual([...cid.raisedBy.value], ["ada", "bob"]);
});
