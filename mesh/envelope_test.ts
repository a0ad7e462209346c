/**
 * The core data channel's framing: `openEnvelope` reads only well-formed `{"t","b"}` frames within
 * the size limit counted in UTF-8 bytes, says why it refuses the rest, and never throws.
 */
import assert from "node:assert/strict";
import {
  byteLength,
  fitsBytes,
  MAX_MESSAGE_BYTES,
  openEnvelope,
  sealEnvelope,
  TOPIC_PATTERN,
} from "./envelope.ts";

const utf8 = (text: string) => new TextEncoder().encode(text).length;

Deno.test("MAX_MESSAGE_BYTES is Chromium's SCTP limit, 256 KiB", () => {
  assert.equal(MAX_MESSAGE_BYTES, 262_144);
});

Deno.test("sealEnvelope then openEnvelope gives back the topic and body", () => {
  const bodies: unknown[] = [
    null,
    0,
    -1.5,
    true,
    "",
    "hello 😀 é \n \u0000 \uD800",
    [],
    [1, "two", { three: [3] }],
    { text: "hi", seq: 1, nested: { deep: [null, false] } },
  ];
  for (const body of bodies) {
    const text = sealEnvelope("chat/message", body);
    const opened = openEnvelope(text);
    assert.ok(opened.ok, `refused ${text}`);
    assert.equal(opened.topic, "chat/message");
    // A lone surrogate is written as an escape and read back as the same code unit.
    assert.deepEqual(opened.body, body);
    assert.equal(opened.text, text);
  }
});

Deno.test("sealEnvelope writes {t, b} and nothing else", () => {
  assert.equal(
    sealEnvelope("hand/state", { raised: true }),
    '{"t":"hand/state","b":{"raised":true}}',
  );
  // No body: the frame still opens, and the topic's validator sees undefined.
  assert.equal(sealEnvelope("a/b", undefined), '{"t":"a/b"}');
  assert.deepEqual(openEnvelope('{"t":"a/b"}'), {
    ok: true,
    topic: "a/b",
    body: undefined,
    text: '{"t":"a/b"}',
  });
});

Deno.test("openEnvelope: anything but a string is not-text", () => {
  const values: unknown[] = [
    new ArrayBuffer(8),
    new TextEncoder().encode('{"t":"a/b","b":1}'),
    new TextEncoder().encode('{"t":"a/b","b":1}').buffer,
    new Blob(['{"t":"a/b","b":1}']),
    { t: "a/b", b: 1 }, // an object rather than its JSON
    ["a/b"],
    42,
    0,
    null,
    undefined,
    true,
    1n,
  ];
  for (const value of values) {
    assert.deepEqual(openEnvelope(value), { ok: false, reason: "not-text" }, String(value));
  }
});

Deno.test("openEnvelope: bad JSON, non-objects and arrays are malformed", () => {
  for (
    const data of [
      "",
      " ",
      "{",
      '{"t":"a/b","b":',
      "{'t':'a/b'}",
      '{"t":"a/b","b":1}x',
      "undefined",
      "NaN",
      "null",
      "0",
      "true",
      '"a/b"',
      "[]",
      '[{"t":"a/b","b":1}]',
      '["a/b",1]',
      "{}",
      '{"b":1}',
    ]
  ) {
    assert.deepEqual(openEnvelope(data), { ok: false, reason: "malformed" }, data);
  }
});

Deno.test("openEnvelope: a topic must match TOPIC_PATTERN", () => {
  const ok = (t: string) => openEnvelope(JSON.stringify({ t, b: 1 })).ok;
  for (
    const t of ["a/b", "chat/message", "core/snapshot-request", "a1-/b2-", `${"a".repeat(32)}/b`]
  ) {
    assert.equal(ok(t), true, t);
    assert.equal(TOPIC_PATTERN.test(t), true, t);
  }
  assert.equal(ok(`${"a".repeat(32)}/${"b".repeat(32)}`), true, "32 + 32 is inclusive");
  for (
    const t of [
      "Chat/message", // uppercase
      "chat/Message",
      "chat", // missing slash
      "chatmessage",
      "chat/message/extra", // extra slashes
      "chat//message",
      "/message",
      "chat/",
      "/",
      "",
      `${"a".repeat(33)}/b`, // a part too long
      `a/${"b".repeat(33)}`,
      "1chat/message", // must start with a letter
      "chat/-message",
      "chat_x/message",
      "chat/mes sage",
      " chat/message",
      "chat/message\n", // `$` must not accept a trailing newline
      "chat/méssage",
      "__proto__/x",
    ]
  ) {
    assert.deepEqual(
      openEnvelope(JSON.stringify({ t, b: 1 })),
      { ok: false, reason: "malformed" },
      JSON.stringify(t),
    );
    assert.equal(TOPIC_PATTERN.test(t), false, JSON.stringify(t));
  }
  for (const t of [null, 1, true, ["a/b"], { x: "a/b" }]) {
    assert.deepEqual(openEnvelope(JSON.stringify({ t, b: 1 })), {
      ok: false,
      reason: "malformed",
    });
  }
});

Deno.test("openEnvelope: a topic only through __proto__ does not count", () => {
  assert.deepEqual(openEnvelope('{"__proto__":{"t":"a/b"},"b":1}'), {
    ok: false,
    reason: "malformed",
  });
  // A __proto__ key in the body is left for the validator, and pollutes nothing.
  const opened = openEnvelope('{"t":"a/b","b":{"__proto__":{"polluted":true}}}');
  assert.ok(opened.ok);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("openEnvelope: limited to MAX_MESSAGE_BYTES counted in UTF-8 bytes, inclusive", () => {
  const base = '{"t":"a/b","b":""}';
  const pad = (n: number, ch: string) => base.replace('""', `"${ch.repeat(n)}"`);
  const ascii = pad(MAX_MESSAGE_BYTES - base.length, "x");
  assert.equal(utf8(ascii), MAX_MESSAGE_BYTES);
  assert.ok(openEnvelope(ascii).ok);
  const over = pad(MAX_MESSAGE_BYTES - base.length + 1, "x");
  assert.deepEqual(openEnvelope(over), { ok: false, reason: "too-big" });
  // "é" is one UTF-16 unit but two bytes: short enough by length, too long in bytes.
  const accents = pad((MAX_MESSAGE_BYTES - base.length) / 2 + 1, "é");
  assert.ok(accents.length < MAX_MESSAGE_BYTES);
  assert.ok(utf8(accents) > MAX_MESSAGE_BYTES);
  assert.deepEqual(openEnvelope(accents), { ok: false, reason: "too-big" });
  // ...and exactly at the limit in bytes, accepted.
  const exactAccents = pad((MAX_MESSAGE_BYTES - base.length) / 2, "é");
  assert.equal(utf8(exactAccents), MAX_MESSAGE_BYTES);
  assert.ok(openEnvelope(exactAccents).ok);
  // Size is checked before parsing: an oversized string is too-big even if it is not JSON.
  assert.deepEqual(openEnvelope("{".repeat(MAX_MESSAGE_BYTES + 1)), {
    ok: false,
    reason: "too-big",
  });
});

Deno.test("byteLength is the UTF-8 length", () => {
  assert.equal(byteLength(""), 0);
  assert.equal(byteLength("abc"), 3);
  assert.equal(byteLength("é"), 2);
  assert.equal(byteLength("€"), 3);
  assert.equal(byteLength("😀"), 4);
  assert.equal(byteLength("\uD800"), 3); // encoded as U+FFFD, as a data channel would
  assert.equal(byteLength("a😀é€"), 10);
});

Deno.test("fitsBytes: inclusive, in UTF-8 bytes, for 1- to 4-byte characters", () => {
  for (const [ch, size] of [["x", 1], ["é", 2], ["€", 3], ["😀", 4]] as const) {
    for (const n of [0, 1, 2, 10, 1000]) {
      const text = ch.repeat(n);
      assert.equal(fitsBytes(text, n * size), true, `${n} × ${ch} in ${n * size}`);
      if (n > 0) assert.equal(fitsBytes(text, n * size - 1), false, `${n} × ${ch} in less`);
    }
  }
  assert.equal(fitsBytes("", 0), true);
  assert.equal(fitsBytes("x", 0), false);
});

Deno.test("fitsBytes agrees with byteLength on random text and limits", () => {
  let seed = 1;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const chars = ["a", "é", "€", "😀", "\uD800", "\n"];
  for (let i = 0; i < 5_000; i++) {
    let text = "";
    for (let n = Math.floor(random() * 40); n > 0; n--) {
      text += chars[Math.floor(random() * chars.length)];
    }
    const max = Math.floor(random() * 160);
    assert.equal(fitsBytes(text, max), byteLength(text) <= max, `${JSON.stringify(text)} ${max}`);
  }
});
