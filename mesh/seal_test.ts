/**
 * The sealing layer, used and attacked: round trips, then every way a relay (or anyone between
 * the browsers) could try to get a signal accepted that it did not receive as is, from the
 * sender it names, for the recipient it names: other keys and rooms, each field tampered,
 * truncation, senders swapped, recipients re-addressed, reflection, replays, reordering, old
 * sessions, malformed envelopes of every shape, floods of made-up senders. Envelopes travel
 * through JSON text between sealing and opening, as they do through the server.
 */
import assert from "node:assert/strict";
import { MAX_PAYLOAD_BYTES } from "../signaling/limits.ts";
import { parseClientMessage } from "../signaling/parse_client_message.ts";
import { decodeBase64url, encodeBase64url } from "./base64url.ts";
import {
  ENVELOPE_FRAME_BYTES,
  MAX_SEALED_PAYLOAD_BYTES,
  MAX_TRACKED_SENDERS,
  type OpenResult,
  type SealedEnvelope,
  Sealer,
  SealSession,
  UNTRUSTED_AFTER,
} from "./seal.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const OTHER_ROOM = "m7vt-2hdw-k3fq-a4ze-9xmp";
const ALICE = "alice___________";
const BOB = "bob_____________";
const CAROL = "carol___________";
const MALLORY = "mallory_________";

const KEY = new Uint8Array([...Array(16).keys()]);

/** A realistic offer-sized payload: ~2 KB of SDP. */
const SDP = [
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1 2",
  "a=extmap-allow-mixed",
  "a=msid-semantic: WMS",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
  "c=IN IP4 0.0.0.0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=ice-ufrag:Xq3v",
  "a=ice-pwd:m1K8bq2V9tLw3sYcNf0pRz7H",
  "a=ice-options:trickle",
  "a=fingerprint:sha-256 96:C3:10:C5:66:E7:13:C9:05:CD:2E:61:FB:F9:BA:CC:90:97:A7:FC:DC:0C:84:42:EB:54:81:2C:A6:DC:69:B2",
  "a=setup:actpass",
  "a=mid:0",
  "a=sendrecv",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "a=fmtp:111 minptime=10;useinbandfec=1",
].join("\r\n").repeat(3);

/** As the server forwards it: re-encoded JSON, parsed again by the receiver. */
const viaServer = (envelope: unknown): unknown => JSON.parse(JSON.stringify(envelope));

async function meeting(options: { key?: Uint8Array; room?: string; untrustedAfter?: number } = {}) {
  const sealer = await Sealer.create({
    key: options.key ?? KEY,
    room: options.room ?? ROOM,
    untrustedAfter: options.untrustedAfter,
  });
  return {
    sealer,
    alice: sealer.session(ALICE),
    bob: sealer.session(BOB),
    carol: sealer.session(CAROL),
  };
}

/** A copy of `envelope` (as the receiver gets it) with some fields replaced. */
function altered(envelope: SealedEnvelope, changes: Record<string, unknown>): unknown {
  return { ...(viaServer(envelope) as Record<string, unknown>), ...changes };
}

/** `text` (base64url) with one bit of byte `index` flipped, still valid base64url. */
function flipBit(text: string, index: number): string {
  const bytes = decodeBase64url(text)!;
  bytes[index < 0 ? bytes.length + index : index] ^= 1;
  return encodeBase64url(bytes);
}

function refused(result: OpenResult, reason: string, context = ""): void {
  assert.deepEqual(result, { ok: false, reason }, context);
}

// ---------------------------------------------------------------------------------------------
// Using it

Deno.test("round trip: every kind of JSON payload comes out as it went in", async () => {
  const { alice, bob } = await meeting();
  const payloads: unknown[] = [
    { type: "offer", sdp: SDP },
    { candidate: "candidate:1 1 udp 2122260223 192.168.1.2 54321 typ host", sdpMid: "0" },
    null,
    0,
    -1.5,
    true,
    "",
    "😀 é \u0000 \u2028 \uD800",
    [],
    [1, "two", { three: [3, null, false] }],
  ];
  for (const payload of payloads) {
    const envelope = await alice.seal(BOB, payload);
    const opened = await bob.open(ALICE, viaServer(envelope));
    assert.ok(opened.ok, JSON.stringify(payload));
    assert.deepEqual(opened.payload, payload);
  }
  assert.deepEqual(bob.stats(ALICE), {
    opened: payloads.length,
    failed: 0,
    malformed: 0,
    replayed: 0,
    stale: 0,
  });
  assert.ok(bob.verified(ALICE));
  assert.ok(!bob.untrusted(ALICE));
});

Deno.test("an envelope is {v, s, n, iv, ct} and shows nothing of the payload", async () => {
  const { alice } = await meeting();
  const a = await alice.seal(BOB, { type: "offer", sdp: SDP });
  const b = await alice.seal(BOB, { type: "offer", sdp: SDP });
  assert.deepEqual(Object.keys(a), ["v", "s", "n", "iv", "ct"]);
  assert.equal(a.v, 1);
  assert.equal(a.s, alice.nonce);
  assert.match(a.s, /^[A-Za-z0-9_-]{16}$/);
  assert.match(a.iv, /^[A-Za-z0-9_-]{16}$/);
  assert.match(a.ct, /^[A-Za-z0-9_-]+$/);
  const text = JSON.stringify(a);
  for (const secret of ["offer", "sdp", "fingerprint", "96:C3", "ice-pwd", "v=0"]) {
    assert.ok(!text.includes(secret), `"${secret}" shows in the envelope`);
  }
  // The same payload twice: a fresh IV each time, so nothing links the two ciphertexts.
  assert.notEqual(a.iv, b.iv);
  assert.notEqual(a.ct, b.ct);
  assert.equal(a.ct.length, b.ct.length);
});

Deno.test("sequence numbers count the whole session, across recipients", async () => {
  const { alice, bob, carol } = await meeting();
  const e1 = await alice.seal(BOB, "one");
  const e2 = await alice.seal(CAROL, "two");
  const e3 = await alice.seal(BOB, "three");
  assert.deepEqual([e1.n, e2.n, e3.n], [1, 2, 3]);
  // Bob sees 1 then 3: the gap is Carol's envelope, and gaps are fine.
  assert.ok((await bob.open(ALICE, viaServer(e1))).ok);
  assert.ok((await bob.open(ALICE, viaServer(e3))).ok);
  assert.ok((await carol.open(ALICE, viaServer(e2))).ok);
  // Sessions of different members have different nonces.
  assert.notEqual(alice.nonce, bob.nonce);
  assert.notEqual(alice.nonce, carol.nonce);
});

Deno.test("two members derive the same key independently from the link's key", async () => {
  // Separate Sealers, as in two browsers: nothing is shared but the key bytes and the room.
  const aliceSide = await Sealer.create({ key: new Uint8Array(KEY), room: ROOM });
  const bobSide = await Sealer.create({ key: new Uint8Array(KEY), room: ROOM });
  const envelope = await aliceSide.session(ALICE).seal(BOB, "hello");
  const opened = await bobSide.session(BOB).open(ALICE, viaServer(envelope));
  assert.deepEqual(opened, { ok: true, payload: "hello" });
});

Deno.test("the key bytes passed in may change afterwards without effect", async () => {
  const key = new Uint8Array(KEY);
  const sealer = await Sealer.create({ key, room: ROOM });
  key.fill(0);
  const envelope = await sealer.session(ALICE).seal(BOB, 1);
  const { bob } = await meeting();
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
});

// ---------------------------------------------------------------------------------------------
// Other keys and rooms

Deno.test("wrong key: another key, or one bit of it changed, fails", async () => {
  const { bob } = await meeting();
  const otherKeys = [
    crypto.getRandomValues(new Uint8Array(16)),
    (() => {
      const k = new Uint8Array(KEY);
      k[15] ^= 1;
      return k;
    })(),
    new Uint8Array([...KEY, 0]), // the same bytes and one more: another key, not a prefix match
  ];
  for (const key of otherKeys) {
    const { alice } = await meeting({ key });
    refused(await bob.open(ALICE, viaServer(await alice.seal(BOB, "hi"))), "failed");
  }
  assert.equal(bob.stats(ALICE).failed, otherKeys.length);
  assert.ok(!bob.verified(ALICE));
});

Deno.test("wrong room: the same key in another room seals with another AES key", async () => {
  const here = await meeting();
  const there = await meeting({ room: OTHER_ROOM });
  const envelope = await there.alice.seal(BOB, "hi");
  refused(await here.bob.open(ALICE, viaServer(envelope)), "failed");
  // And back: an envelope of this room does not open there.
  refused(await there.bob.open(ALICE, viaServer(await here.alice.seal(BOB, "hi"))), "failed");
});

// ---------------------------------------------------------------------------------------------
// Tampering

Deno.test("tampered ciphertext fails, at every byte, tag included", async () => {
  const { alice, bob } = await meeting();
  const envelope = await alice.seal(BOB, { type: "offer", sdp: SDP.slice(0, 200) });
  const length = decodeBase64url(envelope.ct)!.length;
  for (let i = 0; i < length; i++) {
    refused(await bob.open(ALICE, altered(envelope, { ct: flipBit(envelope.ct, i) })), "failed");
  }
  // None of that pinned a session or used up a number: the genuine envelope still opens.
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
  assert.equal(bob.stats(ALICE).failed, length);
});

Deno.test("truncated or extended ciphertext fails", async () => {
  const { alice, bob } = await meeting();
  const envelope = await alice.seal(BOB, { candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host" });
  const bytes = decodeBase64url(envelope.ct)!;
  const variants = [
    bytes.subarray(0, bytes.length - 1), // one byte of the tag gone
    bytes.subarray(0, bytes.length - 16), // the whole tag gone
    bytes.subarray(1), // the first byte gone
    bytes.subarray(0, 17),
    new Uint8Array([...bytes, 0]),
    new Uint8Array([...bytes, ...bytes]),
  ];
  for (const ct of variants) {
    const result = await bob.open(ALICE, altered(envelope, { ct: encodeBase64url(ct) }));
    assert.equal(result.ok, false);
    // Too short for a tag and a byte of JSON is malformed before any decryption; the rest fail.
    assert.ok(!result.ok && ["failed", "malformed"].includes(result.reason));
  }
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
});

Deno.test("tampered IV, session nonce or sequence number fails", async () => {
  const { alice, bob } = await meeting();
  await alice.seal(BOB, "warm-up"); // so the envelope below has n = 2 and n - 1 exists
  const envelope = await alice.seal(BOB, "payload");
  const otherNonce = encodeBase64url(crypto.getRandomValues(new Uint8Array(12)));
  const changes: Record<string, unknown>[] = [
    { iv: flipBit(envelope.iv, 0) },
    { iv: flipBit(envelope.iv, -1) },
    { iv: encodeBase64url(crypto.getRandomValues(new Uint8Array(12))) },
    { s: flipBit(envelope.s, 0) },
    { s: otherNonce },
    { s: bob.nonce },
    { n: envelope.n + 1 },
    { n: envelope.n - 1 },
    { n: Number.MAX_SAFE_INTEGER },
    { n: envelope.n + 2 ** 32 }, // a number that differs only above 32 bits
  ];
  for (const change of changes) {
    refused(await bob.open(ALICE, altered(envelope, change)), "failed", JSON.stringify(change));
  }
  // A forged session nonce did not get pinned: Alice's real one still opens.
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
  assert.equal(bob.stats(ALICE).failed, changes.length);
});

Deno.test("fields swapped between two genuine envelopes fail", async () => {
  const { alice, bob } = await meeting();
  const x = await alice.seal(BOB, "x");
  const y = await alice.seal(BOB, "y");
  const swaps: Record<string, unknown>[] = [
    { iv: y.iv }, // x's ciphertext under y's IV
    { ct: y.ct }, // y's ciphertext with x's IV and number
    { n: y.n }, // x at y's number
    { iv: y.iv, ct: y.ct }, // y's IV and ciphertext at x's number
  ];
  for (const swap of swaps) refused(await bob.open(ALICE, altered(x, swap)), "failed");
  assert.ok((await bob.open(ALICE, viaServer(x))).ok);
  assert.ok((await bob.open(ALICE, viaServer(y))).ok);
});

// ---------------------------------------------------------------------------------------------
// Senders and recipients

Deno.test("swapped sender: an envelope of Alice's delivered as from Carol fails", async () => {
  const { alice, bob } = await meeting();
  const envelope = await alice.seal(BOB, "from alice");
  refused(await bob.open(CAROL, viaServer(envelope)), "failed");
  refused(await bob.open(MALLORY, viaServer(envelope)), "failed");
  assert.equal(bob.stats(CAROL).failed, 1);
  assert.equal(bob.stats(ALICE).failed, 0, "nothing counted against the real sender");
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
});

Deno.test("re-addressed recipient: Alice's envelope for Bob does not open at Carol", async () => {
  const { alice, bob, carol } = await meeting();
  const envelope = await alice.seal(BOB, "for bob");
  refused(await carol.open(ALICE, viaServer(envelope)), "failed");
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
});

Deno.test("reflection: Alice's envelope for Bob, sent back to Alice as from Bob, fails", async () => {
  const { alice } = await meeting();
  const envelope = await alice.seal(BOB, "for bob");
  refused(await alice.open(BOB, viaServer(envelope)), "failed");
});

Deno.test("a member with the key cannot seal in another member's name", async () => {
  // Mallory holds the key and seals with her session, but as if she were Alice; the server
  // names the real sender (Mallory) in `from`, so the envelope fails.
  const { sealer, bob } = await meeting();
  const forged = await sealer.session(ALICE).seal(BOB, "I am alice");
  refused(await bob.open(MALLORY, viaServer(forged)), "failed");
});

// ---------------------------------------------------------------------------------------------
// Replay and order

Deno.test("replay: an envelope accepted once is refused after", async () => {
  const { alice, bob } = await meeting();
  const envelope = await alice.seal(BOB, "once");
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
  refused(await bob.open(ALICE, viaServer(envelope)), "replayed");
  refused(await bob.open(ALICE, viaServer(envelope)), "replayed");
  assert.equal(bob.stats(ALICE).replayed, 2);
  // A replay is not the peer's fault: it stays trusted.
  assert.ok(!bob.untrusted(ALICE));
});

Deno.test("reordering: an older number after a newer one is refused as replayed", async () => {
  const { alice, bob } = await meeting();
  const e1 = await alice.seal(BOB, 1);
  const e2 = await alice.seal(BOB, 2);
  const e3 = await alice.seal(BOB, 3);
  assert.ok((await bob.open(ALICE, viaServer(e2))).ok);
  refused(await bob.open(ALICE, viaServer(e1)), "replayed");
  assert.ok((await bob.open(ALICE, viaServer(e3))).ok);
  refused(await bob.open(ALICE, viaServer(e2)), "replayed");
});

Deno.test("gaps are fine (signals the server refused), going back is not", async () => {
  const { alice, bob } = await meeting();
  const envelopes = [];
  for (let i = 1; i <= 6; i++) envelopes.push(await alice.seal(BOB, i));
  // The server refused 2 and 4 with relay-busy; Alice seals those signals again (7, 8).
  for (const i of [0, 2, 4]) assert.ok((await bob.open(ALICE, viaServer(envelopes[i]))).ok);
  const again = await alice.seal(BOB, 2);
  assert.equal(again.n, 7);
  assert.deepEqual(await bob.open(ALICE, viaServer(again)), { ok: true, payload: 2 });
  // Re-sending the refused envelope itself, after later ones got through, is a replay.
  refused(await bob.open(ALICE, viaServer(envelopes[3])), "replayed");
});

Deno.test("a new session nonce for a known peer id is stale-session", async () => {
  const { sealer, alice, bob } = await meeting();
  assert.ok((await bob.open(ALICE, viaServer(await alice.seal(BOB, "first")))).ok);
  // Another session sealing as Alice (another tab of hers with her id, or an old page's
  // envelopes): genuine, but not the session Bob pinned.
  const other = sealer.session(ALICE);
  const envelope = await other.seal(BOB, "second");
  refused(await bob.open(ALICE, viaServer(envelope)), "stale-session");
  assert.equal(bob.stats(ALICE).stale, 1);
  // Its numbers mean nothing to the pinned session, whatever they are.
  for (let i = 0; i < 5; i++) await other.seal(BOB, i);
  refused(await bob.open(ALICE, viaServer(await other.seal(BOB, "later"))), "stale-session");
  // The pinned session goes on.
  assert.ok((await bob.open(ALICE, viaServer(await alice.seal(BOB, "third")))).ok);
});

Deno.test("a session is pinned only by an envelope that opened", async () => {
  const { sealer, alice, bob } = await meeting();
  // The relay sends garbage in Alice's name first, with a session nonce of its choosing.
  const decoy = await sealer.session(CAROL).seal(BOB, "decoy");
  refused(await bob.open(ALICE, viaServer(decoy)), "failed");
  const mine = await alice.seal(BOB, "real");
  refused(await bob.open(ALICE, altered(mine, { s: decoy.s })), "failed");
  // Alice's real session is the one pinned.
  assert.ok((await bob.open(ALICE, viaServer(mine))).ok);
});

Deno.test("an envelope from a previous meeting (another room's sealer) never opens", async () => {
  const old = await meeting({ room: OTHER_ROOM });
  const envelope = await old.alice.seal(BOB, "old");
  assert.ok((await old.bob.open(ALICE, viaServer(envelope))).ok);
  const { bob } = await meeting();
  refused(await bob.open(ALICE, viaServer(envelope)), "failed");
});

Deno.test("forget: a peer that left stays refused, its old envelopes included", async () => {
  const { alice, bob } = await meeting();
  const e1 = await alice.seal(BOB, 1);
  const e2 = await alice.seal(BOB, 2);
  assert.ok((await bob.open(ALICE, viaServer(e1))).ok);
  bob.forget(ALICE);
  assert.ok(!bob.verified(ALICE));
  assert.equal(bob.stats(ALICE).opened, 0);
  // Without the tombstone, e1 would open again as a new first session: it does not.
  refused(await bob.open(ALICE, viaServer(e1)), "stale-session");
  refused(await bob.open(ALICE, viaServer(e2)), "stale-session");
  // Forgetting someone never heard from leaves no mark.
  bob.forget(CAROL);
  const { carol } = await meeting();
  assert.ok((await bob.open(CAROL, viaServer(await carol.seal(BOB, "hi")))).ok);
});

// ---------------------------------------------------------------------------------------------
// Order of settlement

Deno.test("seals settle in call order, so envelopes sent as they settle all open", async () => {
  const { alice, bob } = await meeting();
  const settled: SealedEnvelope[] = [];
  const pending = [];
  for (let i = 0; i < 100; i++) {
    // Sizes vary so that the encryptions would not take equal time.
    const payload = i % 3 === 0 ? { sdp: SDP } : { candidate: `c${i}` };
    pending.push(alice.seal(BOB, payload).then((envelope) => settled.push(envelope)));
  }
  await Promise.all(pending);
  assert.deepEqual(settled.map((e) => e.n), Array.from({ length: 100 }, (_, i) => i + 1));
  // Opened concurrently, in the order sent: every one opens.
  const results = await Promise.all(settled.map((e) => bob.open(ALICE, viaServer(e))));
  assert.ok(results.every((r) => r.ok));
});

Deno.test("the same envelope opened twice at once is accepted once", async () => {
  const { alice, bob } = await meeting();
  const envelope = await alice.seal(BOB, "dup");
  const results = await Promise.all([
    bob.open(ALICE, viaServer(envelope)),
    bob.open(ALICE, viaServer(envelope)),
    bob.open(ALICE, viaServer(envelope)),
  ]);
  assert.deepEqual(results.map((r) => r.ok), [true, false, false]);
  refused(results[1], "replayed");
});

// ---------------------------------------------------------------------------------------------
// Malformed envelopes

Deno.test("malformed envelopes of every shape return malformed and never throw", async () => {
  const { alice, bob } = await meeting();
  const good = viaServer(await alice.seal(BOB, "good")) as Record<string, unknown>;
  const without = (field: string) => {
    const copy = { ...good };
    delete copy[field];
    return copy;
  };
  const throwing = {
    ...good,
    get ct(): string {
      throw new Error("boom");
    },
  };
  const hostileProxy = new Proxy(good, {
    ownKeys() {
      throw new Error("boom");
    },
  });
  const cases: [string, unknown][] = [
    ["undefined", undefined],
    ["null", null],
    ["number", 42],
    ["string", "hello"],
    ["JSON text of a good envelope", JSON.stringify(good)],
    ["boolean", true],
    ["array", [good.v, good.s, good.n, good.iv, good.ct]],
    ["empty object", {}],
    ...["v", "s", "n", "iv", "ct"].map((f): [string, unknown] => [`missing ${f}`, without(f)]),
    ["extra field", { ...good, from: ALICE }],
    ["extra __proto__", JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(good).slice(1)}`)],
    ["v as a string", { ...good, v: "1" }],
    ["v 2", { ...good, v: 2 }],
    ["v 0", { ...good, v: 0 }],
    ["n 0", { ...good, n: 0 }],
    ["n negative", { ...good, n: -1 }],
    ["n fractional", { ...good, n: 1.5 }],
    ["n as a string", { ...good, n: "1" }],
    ["n NaN", { ...good, n: NaN }],
    ["n Infinity", { ...good, n: Infinity }],
    ["n beyond safe integers", { ...good, n: 2 ** 53 }],
    ["n null", { ...good, n: null }],
    ["s a number", { ...good, s: 123 }],
    ["s short", { ...good, s: (good.s as string).slice(1) }],
    ["s long", { ...good, s: `${good.s}A` }],
    ["s not base64url", { ...good, s: "!!!!!!!!!!!!!!!!" }],
    ["s padded", { ...good, s: `${(good.s as string).slice(2)}==` }],
    ["iv an array", { ...good, iv: [1, 2, 3] }],
    ["iv short", { ...good, iv: (good.iv as string).slice(4) }],
    ["iv long", { ...good, iv: `${good.iv}AAAA` }],
    ["iv with +", { ...good, iv: `+${(good.iv as string).slice(1)}` }],
    ["ct empty", { ...good, ct: "" }],
    ["ct too short for a tag", { ...good, ct: "AAAAAAAAAAAAAAAAAAAAAA" }],
    ["ct huge (1 MB)", { ...good, ct: "A".repeat(1 << 20) }],
    ["ct just over the limit", { ...good, ct: "A".repeat(MAX_PAYLOAD_BYTES) }],
    ["ct of impossible length", { ...good, ct: `${good.ct}A`.repeat(1).slice(0, 25) }],
    ["ct with whitespace", { ...good, ct: ` ${good.ct}` }],
    ["ct padded", { ...good, ct: `${good.ct}=` }],
    ["ct an object", { ...good, ct: { toString: () => good.ct } }],
    ["huge string as s", { ...good, s: "x".repeat(10_000_000) }],
    ["a getter that throws", throwing],
    ["a proxy that throws", hostileProxy],
    ["plaintext signal of an old client", { type: "offer", sdp: SDP }],
  ];
  let count = 0;
  for (const [name, envelope] of cases) {
    const result = await bob.open(ALICE, envelope);
    refused(result, "malformed", name);
    count++;
  }
  assert.equal(bob.stats(ALICE).malformed, count);
  // After all that, Alice's genuine envelope opens.
  assert.ok((await bob.open(ALICE, good)).ok);
});

Deno.test("a sender that is not a peer id is malformed and counted against nobody", async () => {
  const { alice, bob } = await meeting();
  const envelope = viaServer(await alice.seal(BOB, 1));
  for (const from of ["", "short", `${ALICE}x`, "a".repeat(100_000), null, 42, {}]) {
    refused(await bob.open(from as string, envelope), "malformed");
  }
  assert.ok((await bob.open(ALICE, envelope)).ok);
});

Deno.test("an authentic envelope whose plaintext is not JSON is malformed", async () => {
  // Only a member with the key can make one: seal bytes that are not UTF-8 JSON with the
  // same derivation as Sealer (HKDF-SHA256 → AES-GCM, the documented salt, info and AAD).
  const base = await crypto.subtle.importKey("raw", KEY, "HKDF", false, ["deriveKey"]);
  const aes = await crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new TextEncoder().encode("mooz/seal/salt/v1"),
      info: new TextEncoder().encode(JSON.stringify(["mooz/seal/v1", ROOM])),
    },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt"],
  );
  const { bob } = await meeting();
  const s = encodeBase64url(crypto.getRandomValues(new Uint8Array(12)));
  for (const [n, plain] of [[1, "{not json"], [2, "\xff\xfe"]] as const) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const bytes = n === 2 ? new Uint8Array([0xff, 0xfe, 0x22]) : new TextEncoder().encode(plain);
    const ct = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv,
        additionalData: new TextEncoder().encode(
          JSON.stringify(["mooz/seal/v1", ROOM, ALICE, BOB, s, n]),
        ),
      },
      aes,
      bytes,
    );
    const envelope = {
      v: 1,
      s,
      n,
      iv: encodeBase64url(iv),
      ct: encodeBase64url(new Uint8Array(ct)),
    };
    refused(await bob.open(ALICE, envelope), "malformed");
  }
  // The same construction with JSON text opens: the test builds envelopes as Sealer does.
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    {
      name: "AES-GCM",
      iv,
      additionalData: new TextEncoder().encode(
        JSON.stringify(["mooz/seal/v1", ROOM, ALICE, BOB, s, 3]),
      ),
    },
    aes,
    new TextEncoder().encode('{"ok":true}'),
  );
  const envelope = {
    v: 1,
    s,
    n: 3,
    iv: encodeBase64url(iv),
    ct: encodeBase64url(new Uint8Array(ct)),
  };
  assert.deepEqual(await bob.open(ALICE, envelope), { ok: true, payload: { ok: true } });
});

// ---------------------------------------------------------------------------------------------
// Untrusted senders

Deno.test(`untrusted: ${UNTRUSTED_AFTER} failures and no success; never after a success`, async () => {
  const { bob } = await meeting();
  const { alice: impostor } = await meeting({ key: crypto.getRandomValues(new Uint8Array(16)) });
  assert.equal(UNTRUSTED_AFTER, 3);
  assert.ok(!bob.untrusted(ALICE), "nobody is untrusted before sending anything");
  for (let i = 1; i <= UNTRUSTED_AFTER; i++) {
    assert.ok(!bob.untrusted(ALICE), `untrusted after ${i - 1}`);
    refused(await bob.open(ALICE, viaServer(await impostor.seal(BOB, i))), "failed");
  }
  assert.ok(bob.untrusted(ALICE));
  assert.ok(!bob.verified(ALICE));
  // Only that sender.
  assert.ok(!bob.untrusted(CAROL));
});

Deno.test("untrusted: malformed envelopes count, replays and stale sessions do not", async () => {
  const { bob } = await meeting();
  // An old client sending plaintext signals: could not verify.
  for (let i = 0; i < 3; i++) {
    refused(await bob.open(CAROL, { type: "offer", sdp: "v=0" }), "malformed");
  }
  assert.ok(bob.untrusted(CAROL));
  // A mix of failures and malformed reaches the threshold too.
  const { alice: impostor } = await meeting({ key: crypto.getRandomValues(new Uint8Array(16)) });
  refused(await bob.open(MALLORY, viaServer(await impostor.seal(BOB, 1))), "failed");
  refused(await bob.open(MALLORY, null), "malformed");
  assert.ok(!bob.untrusted(MALLORY));
  refused(await bob.open(MALLORY, viaServer(await impostor.seal(BOB, 2))), "failed");
  assert.ok(bob.untrusted(MALLORY));
});

Deno.test("untrusted: forgeries in a verified peer's name do not make it untrusted", async () => {
  const { alice, bob } = await meeting();
  const envelope = await alice.seal(BOB, "hi");
  assert.ok((await bob.open(ALICE, viaServer(envelope))).ok);
  for (let i = 0; i < 10; i++) {
    refused(await bob.open(ALICE, altered(envelope, { ct: flipBit(envelope.ct, i) })), "failed");
    refused(await bob.open(ALICE, viaServer(envelope)), "replayed");
  }
  assert.ok(!bob.untrusted(ALICE));
  assert.ok(bob.verified(ALICE));
  assert.deepEqual(bob.stats(ALICE), {
    opened: 1,
    failed: 10,
    malformed: 0,
    replayed: 10,
    stale: 0,
  });
});

Deno.test("untrusted: a peer whose real signal opens after forgeries is cleared", async () => {
  const { alice, bob } = await meeting();
  const { alice: impostor } = await meeting({ key: crypto.getRandomValues(new Uint8Array(16)) });
  for (let i = 0; i < 5; i++) await bob.open(ALICE, viaServer(await impostor.seal(BOB, i)));
  assert.ok(bob.untrusted(ALICE));
  assert.ok((await bob.open(ALICE, viaServer(await alice.seal(BOB, "real")))).ok);
  assert.ok(!bob.untrusted(ALICE));
});

Deno.test("untrusted: the threshold is configurable, and must be at least 1", async () => {
  const { bob } = await meeting({ untrustedAfter: 1 });
  refused(await bob.open(ALICE, {}), "malformed");
  assert.ok(bob.untrusted(ALICE));
  for (const untrustedAfter of [0, -1, 1.5, NaN]) {
    await assert.rejects(Sealer.create({ key: KEY, room: ROOM, untrustedAfter }), TypeError);
  }
});

// ---------------------------------------------------------------------------------------------
// Bounded memory under floods

Deno.test("a flood of made-up senders is bounded and evicts no verified sender", async () => {
  const { alice, bob } = await meeting();
  const e1 = await alice.seal(BOB, 1);
  assert.ok((await bob.open(ALICE, viaServer(e1))).ok);
  const junk = viaServer(await alice.seal(CAROL, "not for bob"));
  const fakes = 5 * MAX_TRACKED_SENDERS;
  for (let i = 0; i < fakes; i++) {
    const fake = `fake${String(i).padStart(12, "0")}`;
    for (let j = 0; j < 3; j++) refused(await bob.open(fake, junk), "failed");
  }
  // The oldest made-up senders were dropped (bounded table), the newest are remembered...
  assert.ok(!bob.untrusted(`fake${"0".padStart(12, "0")}`));
  assert.ok(bob.untrusted(`fake${String(fakes - 1).padStart(12, "0")}`));
  // ...and Alice's state survived: her first envelope is still a replay, her next opens.
  refused(await bob.open(ALICE, viaServer(e1)), "replayed");
  assert.ok((await bob.open(ALICE, viaServer(await alice.seal(BOB, 2)))).ok);
});

Deno.test("beyond MAX_TRACKED_SENDERS verified senders, the evicted one stays refused", async () => {
  const { sealer, bob } = await meeting();
  const first = sealer.session("first___________");
  const firstEnvelope = await first.seal(BOB, "hi");
  assert.ok((await bob.open(first.self, viaServer(firstEnvelope))).ok);
  for (let i = 0; i < MAX_TRACKED_SENDERS; i++) {
    const peer = `peer${String(i).padStart(12, "0")}`;
    const envelope = await sealer.session(peer).seal(BOB, i);
    assert.ok((await bob.open(peer, viaServer(envelope))).ok);
  }
  // `first` was the least recently used and was pushed out: closed, not forgotten, so its
  // envelope cannot open as a new session.
  refused(await bob.open(first.self, viaServer(firstEnvelope)), "stale-session");
  refused(await bob.open(first.self, viaServer(await first.seal(BOB, "again"))), "stale-session");
});

Deno.test("with the table full of verified senders, made-up senders evict none", async () => {
  const { sealer, bob } = await meeting();
  const peers: { peer: string; first: unknown }[] = [];
  for (let i = 0; i < MAX_TRACKED_SENDERS; i++) {
    const peer = `peer${String(i).padStart(12, "0")}`;
    const first = viaServer(await sealer.session(peer).seal(BOB, i));
    assert.ok((await bob.open(peer, first)).ok);
    peers.push({ peer, first });
  }
  const junk = { v: 1, s: "A".repeat(16), n: 1, iv: "A".repeat(16), ct: "A".repeat(40) };
  for (let i = 0; i < 100; i++) await bob.open(`fake${String(i).padStart(12, "0")}`, junk);
  // Every verified sender kept its state: each first envelope is still a replay, not a new
  // session (which is what an evicted, closed sender's would be).
  for (const { peer, first } of peers) refused(await bob.open(peer, first), "replayed", peer);
});

// ---------------------------------------------------------------------------------------------
// Sizes

Deno.test("overhead: the documented numbers", () => {
  assert.equal(ENVELOPE_FRAME_BYTES, 83);
  assert.equal(MAX_SEALED_PAYLOAD_BYTES, 24_497);
});

Deno.test("the largest payload seals within MAX_PAYLOAD_BYTES, and the server takes it", async () => {
  const { alice, bob } = await meeting();
  // JSON text of exactly MAX_SEALED_PAYLOAD_BYTES: a string of n characters is n + 2 bytes.
  const largest = "x".repeat(MAX_SEALED_PAYLOAD_BYTES - 2);
  const envelope = await alice.seal(BOB, largest);
  const bytes = new TextEncoder().encode(JSON.stringify(envelope)).length;
  assert.ok(bytes <= MAX_PAYLOAD_BYTES, `${bytes} bytes`);
  assert.ok(bytes > MAX_PAYLOAD_BYTES - 4 - 16, "the bound is tight, not wasteful");
  // The real server-side validator accepts it as a signal payload.
  const parsed = parseClientMessage(JSON.stringify({ type: "signal", to: BOB, payload: envelope }));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  assert.deepEqual(await bob.open(ALICE, viaServer(envelope)), { ok: true, payload: largest });
});

Deno.test("one byte more is refused with a RangeError that says what to do", async () => {
  const { alice } = await meeting();
  await assert.rejects(alice.seal(BOB, "x".repeat(MAX_SEALED_PAYLOAD_BYTES - 1)), {
    name: "RangeError",
    message: /24498 bytes as JSON; at most 24497 .* Split it/,
  });
  // Counted in UTF-8 bytes, not characters: 8,200 emoji are 32,800 bytes.
  await assert.rejects(alice.seal(BOB, "😀".repeat(8_200)), RangeError);
  // A refused payload does not take a number.
  assert.equal((await alice.seal(BOB, "ok")).n, 1);
});

Deno.test("seal refuses what is not JSON or not addressed to a peer id", async () => {
  const { alice } = await meeting();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const payload of [undefined, () => 1, Symbol("x"), 1n, cyclic]) {
    await assert.rejects(alice.seal(BOB, payload), { name: "TypeError", message: /not JSON/ });
  }
  for (const to of ["", "bob", `${BOB}x`, null, 42]) {
    await assert.rejects(alice.seal(to as string, "hi"), {
      name: "TypeError",
      message: /not a peer id/,
    });
  }
});

Deno.test("Sealer.create and session refuse bad keys, rooms and peer ids", async () => {
  for (const key of [new Uint8Array(15), new Uint8Array(0), "AAECAwQFBgcICQoLDA0ODw", null]) {
    await assert.rejects(Sealer.create({ key: key as Uint8Array, room: ROOM }), {
      name: "TypeError",
      message: /at least 16 bytes/,
    });
  }
  for (const room of ["", "K3FQ-9XMP-2HDW-7RTC-A4ZE", "k3fq9xmp2hdw7rtca4ze", "../x"]) {
    await assert.rejects(Sealer.create({ key: KEY, room }), {
      name: "TypeError",
      message: /not a room id/,
    });
  }
  // A 32-byte key is accepted (longer keys only strengthen it).
  await Sealer.create({ key: new Uint8Array(32), room: ROOM });
  const { sealer } = await meeting();
  for (const self of ["", "x", `${ALICE}!`, "alice__________!"]) {
    assert.throws(() => sealer.session(self), { name: "TypeError", message: /welcome\.peer/ });
  }
  assert.ok(sealer.session(ALICE) instanceof SealSession);
});
