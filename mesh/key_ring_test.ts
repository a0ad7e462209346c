/**
 * Key rotation and lobby knocks, with real WebCrypto: a member who has not switched keys yet
 * still opens (and is not blamed) within the window and is refused after it; sealing always uses
 * the newest key; knocks open with the meeting key and not with another; a forged or replayed
 * knock never passes as verified.
 */
import assert from "node:assert/strict";
import { LOBBY_PEER, PREVIOUS_KEY_WINDOW_MS, SealRing } from "./key_ring.ts";
import { PEER_ID_PATTERN } from "../signaling/protocol.ts";
import { UNTRUSTED_AFTER } from "./seal.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const ALICE = "alice___________";
const BOB = "bob_____________";
const KNOCK = "knock___________";
const OLD = new Uint8Array(16).fill(1);
const NEW = new Uint8Array(16).fill(2);
const OTHER = new Uint8Array(16).fill(3);

/** As the server forwards it. */
const viaServer = (envelope: unknown): unknown => JSON.parse(JSON.stringify(envelope));

/** A ring with a clock the test moves. */
async function ring(key = OLD) {
  const clock = { now: 1_000 };
  const r = await SealRing.create({ key, room: ROOM, now: () => clock.now });
  return { ring: r, clock };
}

Deno.test("LOBBY_PEER is a valid peer id", () => {
  assert.match(LOBBY_PEER, PEER_ID_PATTERN);
  assert.equal(PREVIOUS_KEY_WINDOW_MS, 60_000);
});

Deno.test("within the window, the old key still opens and does not count as failing", async () => {
  const a = await ring();
  const b = await ring();
  const alice = a.ring.session(ALICE);
  const bob = b.ring.session(BOB);
  // Both verified under the old key.
  assert.deepEqual(await alice.open(BOB, viaServer(await bob.seal(ALICE, "hi"))), {
    ok: true,
    payload: "hi",
  });
  await a.ring.useKey(NEW);
  a.clock.now += PREVIOUS_KEY_WINDOW_MS - 1;
  // Bob has not switched: many envelopes, all open; he is neither failing nor untrusted.
  for (let i = 0; i < UNTRUSTED_AFTER + 2; i++) {
    const opened = await alice.open(BOB, viaServer(await bob.seal(ALICE, { i })));
    assert.deepEqual(opened, { ok: true, payload: { i } });
  }
  assert.equal(alice.untrusted(BOB), false);
  assert.equal(alice.verified(BOB), true);
});

Deno.test("after the window, the old key is refused and the member becomes untrusted", async () => {
  const a = await ring();
  const b = await ring();
  const alice = a.ring.session(ALICE);
  const bob = b.ring.session(BOB);
  assert.equal((await alice.open(BOB, viaServer(await bob.seal(ALICE, 1)))).ok, true);
  await a.ring.useKey(NEW);
  a.clock.now += PREVIOUS_KEY_WINDOW_MS;
  assert.equal(a.ring.hasPrevious, false);
  for (let i = 0; i < UNTRUSTED_AFTER; i++) {
    const opened = await alice.open(BOB, viaServer(await bob.seal(ALICE, i)));
    assert.deepEqual(opened, { ok: false, reason: "failed" });
  }
  assert.equal(alice.verified(BOB), false, "verified only under a key no longer in use");
  assert.equal(alice.untrusted(BOB), true);
});

Deno.test("sealing always uses the newest key", async () => {
  const a = await ring();
  const alice = a.ring.session(ALICE);
  await a.ring.useKey(NEW);
  const envelope = viaServer(await alice.seal(BOB, "new"));
  // Bob on the new key opens it; Bob still on the old key does not.
  const bobNew = (await SealRing.create({ key: NEW, room: ROOM })).session(BOB);
  const bobOld = (await SealRing.create({ key: OLD, room: ROOM })).session(BOB);
  assert.deepEqual(await bobNew.open(ALICE, envelope), { ok: true, payload: "new" });
  assert.deepEqual(await bobOld.open(ALICE, envelope), { ok: false, reason: "failed" });
});

Deno.test("a member who switched opens at one who has not (both ways, during the window)", async () => {
  const a = await ring();
  const b = await ring();
  const alice = a.ring.session(ALICE);
  const bob = b.ring.session(BOB);
  await a.ring.useKey(NEW);
  // Alice seals with the new key; Bob has only the old one: not his to open yet.
  assert.equal((await bob.open(ALICE, viaServer(await alice.seal(BOB, 1)))).ok, false);
  await b.ring.useKey(NEW);
  // Now he has both: Alice's next envelope opens, and his open at her.
  assert.deepEqual(await bob.open(ALICE, viaServer(await alice.seal(BOB, 2))), {
    ok: true,
    payload: 2,
  });
  assert.deepEqual(await alice.open(BOB, viaServer(await bob.seal(ALICE, 3))), {
    ok: true,
    payload: 3,
  });
  assert.equal(alice.untrusted(BOB), false);
  assert.equal(bob.untrusted(ALICE), false, "the one failure before his switch was forgotten");
});

Deno.test("replays stay refused across a switch: the old key's counter is kept", async () => {
  const a = await ring();
  const b = await ring();
  const alice = a.ring.session(ALICE);
  const bob = b.ring.session(BOB);
  const first = viaServer(await bob.seal(ALICE, "once"));
  assert.equal((await alice.open(BOB, first)).ok, true);
  await a.ring.useKey(NEW);
  assert.deepEqual(await alice.open(BOB, first), { ok: false, reason: "replayed" });
});

Deno.test("another key fails under every key in use, counted once per envelope", async () => {
  const a = await ring();
  const alice = a.ring.session(ALICE);
  const mallory = (await SealRing.create({ key: OTHER, room: ROOM })).session(BOB);
  await a.ring.useKey(NEW);
  for (let i = 0; i < UNTRUSTED_AFTER - 1; i++) {
    await alice.open(BOB, viaServer(await mallory.seal(ALICE, i)));
  }
  assert.equal(alice.untrusted(BOB), false);
  await alice.open(BOB, viaServer(await mallory.seal(ALICE, "last")));
  assert.equal(alice.untrusted(BOB), true);
});

Deno.test("seals and opens settle in call order across a switch", async () => {
  const a = await ring();
  const b = await ring();
  const alice = a.ring.session(ALICE);
  const bob = b.ring.session(BOB);
  // Alice is verified at Bob before he switches (members greet each other when they join).
  assert.equal((await bob.open(ALICE, viaServer(await alice.seal(BOB, 0)))).ok, true);
  await b.ring.useKey(NEW); // Bob can open both keys for the window
  const sealing = [alice.seal(BOB, 1), alice.seal(BOB, 2)];
  const switching = a.ring.useKey(NEW);
  sealing.push(alice.seal(BOB, 3));
  await switching;
  const envelopes = await Promise.all(sealing);
  const opened = await Promise.all(envelopes.map((e) => bob.open(ALICE, viaServer(e))));
  assert.deepEqual(opened.map((o) => o.ok && o.payload), [1, 2, 3]);
});

Deno.test("knock: sealed as from the knock id to LOBBY_PEER, opened by a host", async () => {
  const newcomer = await SealRing.create({ key: OLD, room: ROOM });
  const host = await SealRing.create({ key: OLD, room: ROOM });
  const payload = viaServer(await newcomer.sealKnock(KNOCK, "Dan"));
  assert.deepEqual(await host.openKnock(KNOCK, payload), { name: "Dan", verified: true });
  // The same as sealing it by hand, as the design describes.
  const sealer = await (await import("./seal.ts")).Sealer.create({ key: OLD, room: ROOM });
  const byHand = viaServer(await sealer.session(KNOCK).seal(LOBBY_PEER, { name: "Eve" }));
  assert.deepEqual(await host.openKnock(KNOCK, byHand), { name: "Eve", verified: true });
});

Deno.test("knock: another key, another knock id, tampering or garbage are not verified", async () => {
  const host = await SealRing.create({ key: OLD, room: ROOM });
  const stranger = await SealRing.create({ key: OTHER, room: ROOM });
  const friend = await SealRing.create({ key: OLD, room: ROOM });
  const notVerified = { name: "", verified: false };
  assert.deepEqual(
    await host.openKnock(KNOCK, viaServer(await stranger.sealKnock(KNOCK, "Mallory"))),
    notVerified,
  );
  // A knock sealed for one id, presented as another's (a server moving knocks around).
  const moved = viaServer(await friend.sealKnock(KNOCK, "Dan"));
  assert.deepEqual(await host.openKnock("another_knock___", moved), notVerified);
  const tampered = viaServer(await friend.sealKnock("third_knock_____", "Dan")) as {
    ct: string;
  };
  tampered.ct = (tampered.ct[0] === "A" ? "B" : "A") + tampered.ct.slice(1);
  assert.deepEqual(await host.openKnock("third_knock_____", tampered), notVerified);
  for (const garbage of [null, "Dan", { name: "Dan" }, 42, []]) {
    assert.deepEqual(await host.openKnock("fourth_knock____", garbage), notVerified);
  }
  // A sealed knock whose name is not a valid name.
  const sealer = await (await import("./seal.ts")).Sealer.create({ key: OLD, room: ROOM });
  const badName = viaServer(
    await sealer.session("fifth_knock_____").seal(LOBBY_PEER, {
      name: "\u0000",
    }),
  );
  assert.deepEqual(await host.openKnock("fifth_knock_____", badName), notVerified);
});

Deno.test("knock: a newcomer with the old link is not verified, even during the window", async () => {
  const a = await ring();
  const newcomer = await SealRing.create({ key: OLD, room: ROOM });
  const current = await SealRing.create({ key: NEW, room: ROOM });
  await a.ring.useKey(NEW);
  const old = viaServer(await newcomer.sealKnock(KNOCK, "Dan"));
  assert.deepEqual(await a.ring.openKnock(KNOCK, old), { name: "", verified: false });
  const fresh = viaServer(await current.sealKnock(KNOCK, "Dan"));
  assert.deepEqual(await a.ring.openKnock(KNOCK, fresh), { name: "Dan", verified: true });
});

Deno.test("a newcomer after the switch is never opened with the old key", async () => {
  const a = await ring();
  const alice = a.ring.session(ALICE);
  await a.ring.useKey(NEW);
  // Carol (never seen before the switch) seals with the old link's key: refused from the start.
  const carol = (await SealRing.create({ key: OLD, room: ROOM })).session(BOB);
  for (let i = 0; i < UNTRUSTED_AFTER; i++) {
    assert.deepEqual(await alice.open(BOB, viaServer(await carol.seal(ALICE, i))), {
      ok: false,
      reason: "failed",
    });
  }
  assert.equal(alice.untrusted(BOB), true);
});

Deno.test("useKey refuses a key Sealer.create refuses", async () => {
  const a = await ring();
  await assert.rejects(() => a.ring.useKey(new Uint8Array(4)), TypeError);
  assert.equal(a.ring.generation, 0);
});
