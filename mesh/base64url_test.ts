/**
 * base64url: round trips at every length, RFC 4648's test vectors, and refusal (null, never a
 * throw) of every other spelling: padding, the standard alphabet, whitespace, impossible lengths,
 * non-zero unused bits.
 */
import assert from "node:assert/strict";
import { base64urlLength, decodeBase64url, encodeBase64url } from "./base64url.ts";

const bytesOf = (text: string) => new TextEncoder().encode(text);

Deno.test("RFC 4648 test vectors, unpadded", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg"],
    ["fo", "Zm8"],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg"],
    ["fooba", "Zm9vYmE"],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [plain, encoded] of vectors) {
    assert.equal(encodeBase64url(bytesOf(plain)), encoded);
    assert.deepEqual(decodeBase64url(encoded), bytesOf(plain));
  }
});

Deno.test("uses - and _ where base64 has + and /", () => {
  assert.equal(encodeBase64url(new Uint8Array([0xfb, 0xff])), "-_8");
  assert.equal(encodeBase64url(new Uint8Array([0xfb, 0xef, 0xbe])), "----");
  assert.equal(encodeBase64url(new Uint8Array([0xff, 0xff, 0xff])), "____");
  assert.deepEqual(decodeBase64url("-_8"), new Uint8Array([0xfb, 0xff]));
});

Deno.test("round trips random bytes of every length up to 100, and 40 KiB", () => {
  for (let length = 0; length <= 100; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    const text = encodeBase64url(bytes);
    assert.equal(text.length, base64urlLength(length));
    assert.match(text, /^[A-Za-z0-9_-]*$/);
    assert.deepEqual(decodeBase64url(text), bytes);
  }
  const big = crypto.getRandomValues(new Uint8Array(40 * 1024));
  assert.deepEqual(decodeBase64url(encodeBase64url(big)), big);
});

Deno.test("every other spelling is null, not an exception", () => {
  const refused = [
    "Zg==", // padding
    "Zm8=",
    "+/8", // standard alphabet
    "Zm9v\n", // whitespace
    " Zm9v",
    "Zm 9v",
    "Z", // a length no byte string has
    "Zm9vY",
    "Zh", // "f" with a non-zero unused bit
    "Zm9", // "fo" with non-zero unused bits
    "-_9",
    "Zm9v%",
    "Zm9v.",
    "é",
  ];
  for (const text of refused) assert.equal(decodeBase64url(text), null, JSON.stringify(text));
  for (const value of [null, undefined, 42, {}, ["Zg"]]) {
    assert.equal(decodeBase64url(value as unknown as string), null);
  }
});
