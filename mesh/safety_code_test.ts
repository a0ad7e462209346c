/**
 * Safety codes and fingerprints: a code is the same in both browsers of a pair and changes with
 * anything a man in the middle would have to change; its derivation matches an independent
 * implementation (OpenSSL's PBKDF2); fingerprints are read from SDP as browsers write it and
 * computed from a certificate as OpenSSL computes them.
 */
import assert from "node:assert/strict";
import {
  fingerprintFromSdp,
  fingerprintOfCertificate,
  normalizeFingerprint,
  SAFETY_CODE_ITERATIONS,
  SAFETY_CODE_LENGTH,
  SAFETY_EMOJI,
  safetyCode,
  type SafetyCodeOptions,
} from "./safety_code.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const KEY = new Uint8Array([...Array(16).keys()]);
const ALICE = "alice___________";
const BOB = "bob_____________";
const MALLORY = "mallory_________";

/**
 * A self-signed P-256 certificate made with `openssl req -x509 -newkey ec -pkeyopt
 * ec_paramgen_curve:prime256v1 -subj /CN=WebRTC`, in DER; `openssl x509 -fingerprint -sha256`
 * gives CERT_FINGERPRINT.
 */
const CERT_DER_BASE64 =
  "MIIBdzCCAR2gAwIBAgIUTmV2XeAcTy1K3zDQSUjdj2JjECkwCgYIKoZIzj0EAwIwETEPMA0GA1UEAwwGV2ViUlRDMB4XDTI2MTIwMjE1MjIwNloXDTI3MDEwMTE1MjIwNlowETEPMA0GA1UEAwwGV2ViUlRDMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4mxJ+UJ3de8DIk7xHAVaHm9LLdKtIPtxJ+n6lcRQOO5djbDUdoGi+8vAaiSnUqDFs32z2JRCRHg1LfQIe40bo6NTMFEwHQYDVR0OBBYEFPB4CarZ24miSKu7eybf6FTqm1qKMB8GA1UdIwQYMBaAFPB4CarZ24miSKu7eybf6FTqm1qKMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgWA/uF/SVYFARq8k1EkGp2MIHhqDSlKE+fcWx0WVsSXYCIQChVGiav5J2POq7/Hj/aeNP8g/zMzeBmoJzCG8lQbJdrw==";
const CERT_FINGERPRINT =
  "96:C3:10:C5:66:E7:13:C9:05:CD:2E:61:FB:F9:BA:CC:90:97:A7:FC:DC:0C:84:42:EB:54:81:2C:A6:DC:69:B2";
/** A second OpenSSL certificate's fingerprint. */
const OTHER_FINGERPRINT =
  "C7:F6:BD:C5:C7:CD:83:94:1A:3A:84:92:A3:97:06:7A:DC:31:02:01:4B:6E:69:C8:D0:6E:4A:F3:09:C7:87:14";
/** Two more, as a man in the middle's own certificates would be. */
const MITM_1 = Array.from({ length: 32 }, (_, i) => (i * 7 + 1).toString(16).padStart(2, "0"))
  .join(":").toUpperCase();
const MITM_2 = Array.from({ length: 32 }, (_, i) => (i * 5 + 3).toString(16).padStart(2, "0"))
  .join(":").toUpperCase();

const certDer = () => Uint8Array.from(atob(CERT_DER_BASE64), (c) => c.charCodeAt(0));

function options(changes: Partial<SafetyCodeOptions> = {}): SafetyCodeOptions {
  return {
    key: KEY,
    room: ROOM,
    a: { peer: ALICE, fingerprint: CERT_FINGERPRINT },
    b: { peer: BOB, fingerprint: OTHER_FINGERPRINT },
    ...changes,
  };
}

const text = (code: { emoji: string }[]) => code.map((c) => c.emoji).join(" ");

// ---------------------------------------------------------------------------------------------
// The code

Deno.test("known answer: matches OpenSSL's PBKDF2 over the documented salt", async () => {
  // openssl kdf -keylen 5 -kdfopt digest:SHA256
  //   -kdfopt hexpass:000102030405060708090a0b0c0d0e0f -kdfopt iter:100000
  //   -kdfopt 'salt:["mooz/safety-code/v1","k3fq-9xmp-2hdw-7rtc-a4ze","alice___________",
  //            "96:C3:…:69:B2","bob_____________","C7:F6:…:87:14"]' PBKDF2
  // → 52:15:3D:28:FB; low 6 bits: 18, 21, 61, 40, 59.
  assert.equal(SAFETY_CODE_ITERATIONS, 100_000);
  const code = await safetyCode(options());
  assert.deepEqual(code, [18, 21, 61, 40, 59].map((i) => SAFETY_EMOJI[i]));
  assert.deepEqual(code.map((c) => c.name), ["Mushroom", "Cloud", "Headphones", "Gift", "Bell"]);
});

Deno.test("both browsers of a pair show the same code (a, b and b, a)", async () => {
  const mine = await safetyCode(options());
  const theirs = await safetyCode(options({
    a: { peer: BOB, fingerprint: OTHER_FINGERPRINT },
    b: { peer: ALICE, fingerprint: CERT_FINGERPRINT },
  }));
  assert.deepEqual(theirs, mine);
  assert.equal(mine.length, SAFETY_CODE_LENGTH);
  for (const symbol of mine) assert.ok(SAFETY_EMOJI.includes(symbol));
});

Deno.test("fingerprints are read in any case and with their sha-256 label", async () => {
  const mine = await safetyCode(options());
  const written = await safetyCode(options({
    a: { peer: ALICE, fingerprint: `sha-256 ${CERT_FINGERPRINT.toLowerCase()}` },
    b: { peer: BOB, fingerprint: ` SHA-256 ${OTHER_FINGERPRINT} ` },
  }));
  assert.deepEqual(written, mine);
});

Deno.test("another key, room, peer or certificate gives another code", async () => {
  const base = text(await safetyCode(options()));
  const variants: [string, Partial<SafetyCodeOptions>][] = [
    ["key", { key: new Uint8Array(16).fill(1) }],
    ["one bit of the key", { key: KEY.map((b, i) => (i === 0 ? b ^ 1 : b)) }],
    ["room", { room: "m7vt-2hdw-k3fq-a4ze-9xmp" }],
    ["a's certificate", { a: { peer: ALICE, fingerprint: MITM_1 } }],
    ["b's certificate", { b: { peer: BOB, fingerprint: MITM_1 } }],
    ["a's peer id", { a: { peer: MALLORY, fingerprint: CERT_FINGERPRINT } }],
    // The same two certificates, but each claimed by the other person.
    ["swapped certificates", {
      a: { peer: ALICE, fingerprint: OTHER_FINGERPRINT },
      b: { peer: BOB, fingerprint: CERT_FINGERPRINT },
    }],
  ];
  for (const [name, change] of variants) {
    assert.notEqual(text(await safetyCode(options(change))), base, name);
  }
});

Deno.test("a man in the middle makes the two people's codes differ", async () => {
  // Mallory holds the key, rewrites the sealed offer and answer, and terminates DTLS with each
  // side herself: Alice sees Mallory's MITM_1 as Bob's certificate, Bob sees MITM_2 as Alice's.
  const alice = await safetyCode(options({
    a: { peer: ALICE, fingerprint: CERT_FINGERPRINT },
    b: { peer: BOB, fingerprint: MITM_1 },
  }));
  const bob = await safetyCode(options({
    a: { peer: BOB, fingerprint: OTHER_FINGERPRINT },
    b: { peer: ALICE, fingerprint: MITM_2 },
  }));
  assert.notEqual(text(alice), text(bob));
});

Deno.test("length: more symbols on request, the first ones unchanged", async () => {
  const five = await safetyCode(options());
  const eight = await safetyCode(options({ length: 8 }));
  assert.equal(eight.length, 8);
  assert.deepEqual(eight.slice(0, 5), five);
});

Deno.test("safetyCode refuses, saying why, what is not a pair of people in a room", async () => {
  const bad: [Partial<SafetyCodeOptions>, RegExp][] = [
    [{ key: new Uint8Array(15) }, /at least 16 bytes/],
    [{ key: "secret" as unknown as Uint8Array }, /at least 16 bytes/],
    [{ room: "lobby" }, /not a room id/],
    [{ length: 0 }, /length/],
    [{ length: 17 }, /length/],
    [{ length: 2.5 }, /length/],
    [{ a: { peer: "alice", fingerprint: CERT_FINGERPRINT } }, /not a peer id/],
    [{ b: undefined as unknown as SafetyCodeOptions["b"] }, /not a peer id/],
    [{ a: { peer: ALICE, fingerprint: "" } }, /not a SHA-256 fingerprint/],
    [{ a: { peer: ALICE, fingerprint: CERT_FINGERPRINT.slice(3) } }, /not a SHA-256/],
    [{ a: { peer: ALICE, fingerprint: `sha-1 ${CERT_FINGERPRINT}` } }, /not a SHA-256/],
    [{ b: { peer: ALICE, fingerprint: OTHER_FINGERPRINT } }, /same peer/],
  ];
  for (const [change, message] of bad) {
    await assert.rejects(safetyCode(options(change)), { name: "TypeError", message });
  }
});

Deno.test("SAFETY_EMOJI: 64 distinct single emoji with distinct names, frozen", () => {
  assert.equal(SAFETY_EMOJI.length, 64);
  assert.equal(new Set(SAFETY_EMOJI.map((e) => e.emoji)).size, 64);
  assert.equal(new Set(SAFETY_EMOJI.map((e) => e.name.toLowerCase())).size, 64);
  const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });
  for (const { emoji, name } of SAFETY_EMOJI) {
    assert.equal([...segmenter.segment(emoji)].length, 1, `${name} is one symbol`);
    assert.match(emoji, /\p{Extended_Pictographic}/u, name);
    assert.match(name, /^[A-Z][a-z]+( [a-z]+)?$/, name);
  }
  assert.ok(Object.isFrozen(SAFETY_EMOJI));
  assert.ok(Object.isFrozen(SAFETY_EMOJI[0]));
});

// ---------------------------------------------------------------------------------------------
// Fingerprints

Deno.test("fingerprintOfCertificate: SHA-256 of the DER as OpenSSL and SDP write it", async () => {
  const der = certDer();
  assert.equal(der.length, 379);
  assert.equal(await fingerprintOfCertificate(der), CERT_FINGERPRINT);
  assert.equal(await fingerprintOfCertificate(der.buffer), CERT_FINGERPRINT);
  // A view into a larger buffer (as a caller might hold it) hashes only its own bytes.
  const padded = new Uint8Array(der.length + 10);
  padded.set(der, 5);
  assert.equal(
    await fingerprintOfCertificate(padded.subarray(5, 5 + der.length)),
    CERT_FINGERPRINT,
  );
  // One byte changed anywhere is another certificate.
  der[200] ^= 1;
  assert.notEqual(await fingerprintOfCertificate(der), CERT_FINGERPRINT);
});

/** An offer as Chromium writes it: the fingerprint in every media section. */
function chromiumOffer(fingerprint: string, eol = "\r\n"): string {
  const media = (kind: string, mid: number) =>
    [
      `m=${kind} 9 UDP/TLS/RTP/SAVPF 111`,
      "c=IN IP4 0.0.0.0",
      "a=ice-ufrag:Xq3v",
      "a=ice-pwd:m1K8bq2V9tLw3sYcNf0pRz7H",
      `a=fingerprint:sha-256 ${fingerprint}`,
      "a=setup:actpass",
      `a=mid:${mid}`,
    ].join(eol);
  return ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1"]
    .concat(media("audio", 0), media("video", 1)).join(eol) + eol;
}

Deno.test("fingerprintFromSdp reads Chromium's and Firefox's offers", async () => {
  assert.equal(fingerprintFromSdp(chromiumOffer(CERT_FINGERPRINT)), CERT_FINGERPRINT);
  assert.equal(fingerprintFromSdp(chromiumOffer(CERT_FINGERPRINT, "\n")), CERT_FINGERPRINT);
  // Firefox: at session level, with sha-1 listed too.
  const firefox = [
    "v=0",
    "o=mozilla...THIS_IS_SDPARTA-99.0 1 0 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    "a=fingerprint:sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD",
    `a=fingerprint:sha-256 ${OTHER_FINGERPRINT}`,
    "m=audio 9 UDP/TLS/RTP/SAVPF 109",
    "",
  ].join("\r\n");
  assert.equal(fingerprintFromSdp(firefox), OTHER_FINGERPRINT);
  // The certificate's own fingerprint, written into an SDP, reads back equal.
  const computed = await fingerprintOfCertificate(certDer());
  assert.equal(fingerprintFromSdp(chromiumOffer(computed)), computed);
});

Deno.test("fingerprintFromSdp normalises case and the algorithm's spelling", () => {
  const sdp = chromiumOffer(CERT_FINGERPRINT.toLowerCase()).replaceAll("sha-256", "SHA-256");
  assert.equal(fingerprintFromSdp(sdp), CERT_FINGERPRINT);
});

Deno.test("fingerprintFromSdp: none, damaged, or two different is null", () => {
  const twoDifferent = chromiumOffer(CERT_FINGERPRINT).replace(
    `a=fingerprint:sha-256 ${CERT_FINGERPRINT}\r\na=setup:actpass\r\na=mid:1`,
    `a=fingerprint:sha-256 ${OTHER_FINGERPRINT}\r\na=setup:actpass\r\na=mid:1`,
  );
  assert.notEqual(twoDifferent, chromiumOffer(CERT_FINGERPRINT), "the fixture changed");
  const cases: [string, unknown][] = [
    ["empty", ""],
    ["no fingerprint", "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"],
    [
      "sha-1 only",
      "a=fingerprint:sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD",
    ],
    ["two different certificates", twoDifferent],
    ["cut short", chromiumOffer(CERT_FINGERPRINT.slice(0, -3))],
    ["not hex", chromiumOffer(CERT_FINGERPRINT.replace("96", "ZZ"))],
    ["without colons", chromiumOffer(CERT_FINGERPRINT.replaceAll(":", ""))],
    ["too long", chromiumOffer(`${CERT_FINGERPRINT}:00`)],
    ["not a string", { sdp: chromiumOffer(CERT_FINGERPRINT) }],
    ["null", null],
  ];
  for (const [name, sdp] of cases) assert.equal(fingerprintFromSdp(sdp as string), null, name);
});

Deno.test("normalizeFingerprint", () => {
  assert.equal(normalizeFingerprint(CERT_FINGERPRINT.toLowerCase()), CERT_FINGERPRINT);
  assert.equal(normalizeFingerprint(`sha-256 ${CERT_FINGERPRINT}`), CERT_FINGERPRINT);
  for (const bad of ["", "96:C3", `sha-512 ${CERT_FINGERPRINT}`, `${CERT_FINGERPRINT}\n00`]) {
    assert.equal(normalizeFingerprint(bad), null, bad);
  }
  assert.equal(normalizeFingerprint("A".repeat(100_000)), null);
});
