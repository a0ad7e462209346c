import assert from "node:assert/strict";
import { PEER_ID_PATTERN, TOKEN_PATTERN } from "./protocol.ts";
import { newToken, parseToken, randomBase64url, sha256Hex, timingSafeEqual } from "./tokens.ts";

Deno.test("newToken: a peer id and a 256-bit secret, joined by a dot; all unique", () => {
  const tokens = Array.from({ length: 1_000 }, newToken);
  for (const t of tokens) {
    assert.match(t.peer, PEER_ID_PATTERN);
    assert.match(t.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(t.text, `${t.peer}.${t.secret}`);
    // What the client sends back on resume must pass the protocol's check.
    assert.match(t.text, TOKEN_PATTERN);
    assert.deepEqual(parseToken(t.text), { peer: t.peer, secret: t.secret });
  }
  assert.equal(new Set(tokens.map((t) => t.peer)).size, tokens.length);
  assert.equal(new Set(tokens.map((t) => t.secret)).size, tokens.length);
});

Deno.test("parseToken refuses anything but {peer}.{secret}", () => {
  const { peer, secret } = newToken();
  for (
    const bad of [
      "",
      peer,
      `${peer}.`,
      `${peer}.${secret}x`,
      `${peer}.${secret}.x`,
      `${peer}x.${secret}`,
      `${peer.slice(1)}+.${secret}`,
      `.${secret}`,
    ]
  ) {
    assert.equal(parseToken(bad), null, bad);
  }
});

Deno.test("randomBase64url: unpadded base64url of the requested bytes", () => {
  assert.match(randomBase64url(9), /^[A-Za-z0-9_-]{12}$/);
  assert.match(randomBase64url(12), PEER_ID_PATTERN);
  assert.notEqual(randomBase64url(9), randomBase64url(9));
});

Deno.test("sha256Hex matches WebCrypto; timingSafeEqual compares whole strings", async () => {
  const text = "secret ü";
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  assert.equal(sha256Hex(text), [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""));
  assert.equal(
    sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.ok(timingSafeEqual("abc", "abc"));
  assert.ok(!timingSafeEqual("abc", "abd"));
  assert.ok(!timingSafeEqual("abc", "abcd"));
  assert.ok(timingSafeEqual("", ""));
});
