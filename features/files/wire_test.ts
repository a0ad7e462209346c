/**
 * What file sharing accepts from the network: offers, answers and frames, with a seeded fuzz
 * that none of the parsers ever throws or passes something malformed.
 */
import assert from "node:assert/strict";
import { encodeBase64url } from "../../mesh/base64url.ts";
import {
  checkFileName,
  cleanFileName,
  DATA_HEADER,
  dataFrame,
  ID_BYTES,
  manifestFrame,
  manifestRequestFrame,
  MAX_FILE_BYTES,
  MAX_PIECE,
  MAX_PIECES,
  MIN_PIECE,
  newOfferId,
  offerIdBytes,
  parseFrame,
  parseOffer,
  parseOfferRef,
  parseStop,
  pieceCount,
  pieceLength,
  pieceRequestFrame,
  pieceSizeFor,
  pieceStoredFrame,
  refusedFrame,
  STATUS_ONLY,
} from "./wire.ts";

const MiB = 1024 * 1024;
const good = () => ({
  id: newOfferId(),
  name: "report.pdf",
  size: 10 * MiB,
  type: "application/pdf",
  pieceSize: 4 * MiB,
  root: "ab".repeat(32),
});

Deno.test("pieceSizeFor: 4 MiB up to 16 GiB, then doubling so there are at most 4096", () => {
  assert.equal(pieceSizeFor(0), 4 * MiB);
  assert.equal(pieceSizeFor(300 * MiB), 4 * MiB);
  assert.equal(pieceSizeFor(16 * 1024 * MiB), 4 * MiB);
  assert.equal(pieceSizeFor(16 * 1024 * MiB + 1), 8 * MiB);
  assert.equal(pieceSizeFor(MAX_FILE_BYTES), MAX_PIECE);
  assert.equal(pieceCount(MAX_FILE_BYTES, MAX_PIECE), 4096);
  assert.equal(pieceCount(10 * MiB, 4 * MiB), 3);
  assert.equal(pieceLength(10 * MiB, 4 * MiB, 2), 2 * MiB);
  assert.equal(pieceLength(10 * MiB, 4 * MiB, 3), 0);
});

Deno.test("parseOffer: a fresh offer from the checked fields", () => {
  const offer = { ...good(), from: "mallory", extra: { deep: 1 } };
  const parsed = parseOffer(offer);
  assert.ok(parsed);
  assert.deepEqual(Object.keys(parsed).sort(), ["id", "name", "pieceSize", "root", "size", "type"]);
  assert.equal(parseOffer({ ...good(), type: "" })?.type, "");
  assert.equal(parseOffer({ ...good(), size: 0 })?.size, 0);
  assert.equal(parseOffer({ ...good(), name: "  spaced.txt " })?.name, "spaced.txt");
});

Deno.test("parseOffer refuses lies and tricks about sizes, names and ids", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["negative size", { size: -1 }],
    ["fractional size", { size: 1.5 }],
    ["size as text", { size: "10" }],
    ["size over the limit", { size: MAX_FILE_BYTES + 1 }],
    ["unsafe integer size", { size: 2 ** 60 }],
    ["piece size not a power of two", { pieceSize: 3 * MiB }],
    ["piece size too small", { pieceSize: MIN_PIECE / 2 }],
    ["piece size too large", { pieceSize: MAX_PIECE * 2 }],
    ["too many pieces", { size: (MAX_PIECES + 1) * MIN_PIECE, pieceSize: MIN_PIECE }],
    ["short id", { id: "abc" }],
    ["id with padding", { id: encodeBase64url(new Uint8Array(15)) + "==" }],
    ["id of other length", { id: encodeBase64url(new Uint8Array(17)) }],
    ["no name", { name: "" }],
    ["name with a slash", { name: "../../etc/passwd" }],
    ["name with a backslash", { name: "..\\boot.ini" }],
    ["dot dot", { name: ".." }],
    ["name with a control", { name: "a\u0007b" }],
    ["name with a newline", { name: "a\nb.txt" }],
    ["name reversed by a bidi override", { name: "invoice\u202Efdp.exe" }],
    ["name with an isolate", { name: "a\u2066b" }],
    ["name with a zero-width space", { name: "a\u200Bb" }],
    ["name too long", { name: "x".repeat(256) }],
    ["name not text", { name: ["a"] }],
    ["type with parameters", { type: "text/plain; charset=utf-8" }],
    ["type in capitals", { type: "Text/Plain" }],
    ["type too long", { type: `a/${"b".repeat(200)}` }],
    ["root not hex", { root: "zz".repeat(32) }],
    ["root in capitals", { root: "AB".repeat(32) }],
    ["short root", { root: "ab" }],
  ];
  for (const [what, change] of cases) {
    assert.equal(parseOffer({ ...good(), ...change }), null, what);
  }
  for (const value of [null, undefined, 1, "offer", [], [good()]]) {
    assert.equal(parseOffer(value), null);
  }
});

Deno.test("file names: what a sender announces always passes the receiver's check", () => {
  for (
    const name of [
      "a/b.txt",
      "..",
      "   ",
      "x\u202Eexe.pdf",
      "😀".repeat(300),
      "C:\\Users\\me\\file",
      "\u0000",
    ]
  ) {
    const cleaned = cleanFileName(name);
    assert.equal(checkFileName(cleaned), cleaned, JSON.stringify(name));
  }
  assert.equal(cleanFileName("report.pdf"), "report.pdf");
  assert.equal(cleanFileName("a/b.txt"), "a_b.txt");
  assert.equal(cleanFileName(".."), "file");
  assert.equal([...cleanFileName("😀".repeat(300))].length, 255);
});

Deno.test("parseStop and parseOfferRef", () => {
  const id = newOfferId();
  assert.deepEqual(parseStop({ id, why: "declined", x: 1 }), { id, why: "declined" });
  assert.deepEqual(parseStop({ id, why: "failed" }), { id, why: "failed" });
  assert.equal(parseStop({ id, why: "hacked" }), null);
  assert.equal(parseStop({ id: "x", why: "declined" }), null);
  assert.deepEqual(parseOfferRef({ id, peer: "bob" }), { id });
  assert.equal(parseOfferRef({ id: 5 }), null);
  assert.equal(parseOfferRef(null), null);
});

Deno.test("frames: each kind reads back as written, with exact lengths", () => {
  const id = offerIdBytes(newOfferId())!;
  const key = encodeBase64url(id);
  const buf = (frame: Uint8Array) => frame.slice().buffer;
  assert.deepEqual(parseFrame(buf(manifestRequestFrame(id)), 1e6), {
    type: "manifest-request",
    id: key,
  });
  assert.deepEqual(parseFrame(buf(pieceRequestFrame(id, 7, 1024, 4096)), 1e6), {
    type: "piece-request",
    id: key,
    index: 7,
    offset: 1024,
    length: 4096,
  });
  assert.deepEqual(parseFrame(buf(pieceStoredFrame(id, STATUS_ONLY, 3)), 1e6), {
    type: "piece-stored",
    id: key,
    index: STATUS_ONLY,
    held: 3,
  });
  assert.deepEqual(parseFrame(buf(refusedFrame(id)), 1e6), { type: "refused", id: key });
  const hashes = new Uint8Array(64).map((_, i) => i);
  const manifest = parseFrame(buf(manifestFrame(id, 5, hashes)), 1e6);
  assert.equal(manifest?.type, "manifest");
  if (manifest?.type === "manifest") {
    assert.equal(manifest.first, 5);
    assert.deepEqual([...manifest.hashes], [...hashes]);
  }
  const bytes = new Uint8Array(1000).fill(9);
  const data = parseFrame(buf(dataFrame(id, 2, 4096, bytes)), 1e6);
  assert.equal(data?.type, "data");
  if (data?.type === "data") {
    assert.equal(data.index, 2);
    assert.equal(data.offset, 4096);
    assert.equal(data.bytes.length, 1000);
  }
  assert.equal(dataFrame(id, 0, 0, bytes).length, DATA_HEADER + 1000);

  // Wrong lengths, text, unknown types, too big.
  const extra = (frame: Uint8Array) => {
    const out = new Uint8Array(frame.length + 1);
    out.set(frame);
    return out.buffer;
  };
  assert.equal(parseFrame(extra(pieceRequestFrame(id, 1, 0, 1)), 1e6), null);
  assert.equal(parseFrame(extra(manifestRequestFrame(id)), 1e6), null);
  assert.equal(parseFrame(buf(manifestFrame(id, 0, new Uint8Array(31))), 1e6), null);
  assert.equal(parseFrame(buf(dataFrame(id, 0, 0, new Uint8Array(0))), 1e6), null);
  assert.equal(parseFrame("text", 1e6), null);
  assert.equal(parseFrame(new Uint8Array([0x7f, ...id]).buffer, 1e6), null);
  assert.equal(parseFrame(new ArrayBuffer(ID_BYTES), 1e6), null);
  assert.equal(parseFrame(buf(dataFrame(id, 0, 0, new Uint8Array(2000))), 1000), null);
});

/** A small seeded generator (mulberry32), so a failing fuzz case can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("fuzz: 20,000 mutated frames and offers never throw, and what passes is well formed", () => {
  const next = random(1313);
  const id = offerIdBytes(newOfferId())!;
  const seeds = [
    manifestRequestFrame(id),
    pieceRequestFrame(id, 3, 0, 1024),
    pieceStoredFrame(id, 2, 5),
    refusedFrame(id),
    manifestFrame(id, 0, new Uint8Array(96)),
    dataFrame(id, 1, 0, new Uint8Array(300)),
  ];
  let passed = 0;
  for (let i = 0; i < 10_000; i++) {
    const seed = seeds[Math.floor(next() * seeds.length)];
    const length = next() < 0.2 ? Math.floor(next() * 400) : seed.length;
    const frame = new Uint8Array(length);
    frame.set(seed.subarray(0, length));
    for (let j = Math.floor(next() * 4); j > 0 && length > 0; j--) {
      frame[Math.floor(next() * length)] = Math.floor(next() * 256);
    }
    const parsed = parseFrame(frame.buffer, 4096);
    if (!parsed) continue;
    passed++;
    assert.equal(offerIdBytes(parsed.id)?.length, ID_BYTES);
    if (parsed.type === "manifest") assert.equal(parsed.hashes.length % 32, 0);
    if (parsed.type === "data") assert.ok(parsed.bytes.length > 0);
  }
  assert.ok(passed > 100, `some mutated frames are still frames (${passed})`);

  const values = [
    null,
    -1,
    0.5,
    2 ** 53,
    "",
    "x",
    "a/b",
    [],
    {},
    true,
    "\u202E",
    MAX_PIECE,
    MIN_PIECE,
    newOfferId(),
  ];
  const keys = ["id", "name", "size", "type", "pieceSize", "root", "why"];
  let offers = 0;
  for (let i = 0; i < 10_000; i++) {
    const body: Record<string, unknown> = { ...good() };
    for (let j = Math.floor(next() * 3); j >= 0; j--) {
      body[keys[Math.floor(next() * keys.length)]] = values[Math.floor(next() * values.length)];
    }
    const offer = parseOffer(body);
    parseStop(body);
    parseOfferRef(body);
    if (!offer) continue;
    offers++;
    assert.ok(Number.isSafeInteger(offer.size) && offer.size >= 0 && offer.size <= MAX_FILE_BYTES);
    assert.ok(pieceCount(offer.size, offer.pieceSize) <= MAX_PIECES);
    assert.equal(checkFileName(offer.name), offer.name);
  }
  assert.ok(offers > 100, `some mutated offers still pass (${offers})`);
});
