import assert from "node:assert/strict";
import {
  type ChatMessage,
  MAX_CHAT_LENGTH,
  MAX_HISTORY,
  MAX_PEER_MESSAGE_BYTES,
  type PeerMessage,
  type PeerStatus,
} from "./types.ts";
import {
  checkChatText,
  encodePeerMessage,
  MAX_ID_LENGTH,
  MAX_NAME_LENGTH,
  MAX_STREAM_ID_LENGTH,
  parsePeerMessage,
  stripForbiddenText,
} from "./wire.ts";
import { MAX_NAME_LENGTH as SERVER_MAX_NAME_LENGTH } from "../signaling/protocol.ts";

const A = "AAAAAAAAAAAAAAAA";

const status: PeerStatus = {
  name: "Ada",
  audioMuted: false,
  videoOff: true,
  handRaised: false,
  cameraStream: "{0f8c6a1e-3b7d-4c55-9a2e-6d1f0b9e7c21}",
  screenStream: null,
};

function chat(seq: number, text = `message ${seq}`): ChatMessage {
  return { id: `${A}:${seq}`, from: A, name: "Ada", text, sentAt: 1_700_000_000_000 + seq };
}

/** JSON of a message with one field of `status` or of a chat message replaced. */
const stateWith = (patch: Record<string, unknown>) =>
  JSON.stringify({ t: "state", status: { ...status, ...patch } });
const chatWith = (patch: Record<string, unknown>) =>
  JSON.stringify({ t: "chat", message: { ...chat(1), ...patch } });

Deno.test("every message type survives encode then parse unchanged", () => {
  const messages: PeerMessage[] = [
    { t: "state", status },
    {
      t: "state",
      status: { ...status, cameraStream: null, screenStream: "s-1", handRaised: true },
    },
    { t: "chat", message: chat(1, "hello\nworld\t!") },
    { t: "history-request" },
    { t: "history", messages: [] },
    { t: "history", messages: [chat(1), chat(2), chat(3, "😀 ünïcødé")] },
  ];
  for (const m of messages) assert.deepEqual(parsePeerMessage(encodePeerMessage(m)), m);
});

Deno.test("encoding sends only the declared fields", () => {
  const extra = { ...chat(1), html: "<b>", secret: 1 } as ChatMessage;
  const sent = JSON.parse(encodePeerMessage({ t: "chat", message: extra }));
  assert.deepEqual(Object.keys(sent.message).sort(), ["from", "id", "name", "sentAt", "text"]);
  const extraStatus = { ...status, token: "x" } as PeerStatus;
  const sentStatus = JSON.parse(encodePeerMessage({ t: "state", status: extraStatus }));
  assert.equal("token" in sentStatus.status, false);
});

Deno.test("parsing trims names and chat text, and ignores unknown fields", () => {
  const m = parsePeerMessage(chatWith({ name: "  Ada ", text: "  hi  ", extra: true }));
  assert.deepEqual(m, { t: "chat", message: { ...chat(1), text: "hi" } });
  assert.deepEqual(parsePeerMessage('{"t":"history-request","x":1}'), { t: "history-request" });
});

Deno.test("non-strings, bad JSON, non-objects and unknown types are refused", () => {
  for (
    const data of [
      undefined,
      null,
      42,
      {},
      { t: "history-request" }, // an object rather than its JSON
      new Uint8Array([123, 125]),
      "",
      "{",
      "null",
      "[]",
      '"history-request"',
      '[{"t":"history-request"}]',
      "{}",
      '{"t":"hello"}',
      '{"t":"HISTORY-REQUEST"}',
      '{"t":null}',
      '{"type":"chat"}',
    ]
  ) {
    assert.equal(parsePeerMessage(data), null, `accepted ${JSON.stringify(data)}`);
  }
});

Deno.test("state: every field is type-checked", () => {
  assert.ok(parsePeerMessage(stateWith({})));
  for (
    const patch of [
      { name: "" },
      { name: "   " },
      { name: 7 },
      { name: "x".repeat(MAX_NAME_LENGTH + 1) },
      { name: "Ad\u0000a" },
      { name: "Ada\u202Emalloy" }, // bidi override
      { name: "\uD800" }, // lone surrogate
      { audioMuted: "false" },
      { videoOff: 0 },
      { handRaised: null },
      { handRaised: undefined },
      { cameraStream: "" },
      { cameraStream: 5 },
      { cameraStream: "s".repeat(MAX_STREAM_ID_LENGTH + 1) },
      { screenStream: {} },
      { screenStream: undefined },
    ]
  ) {
    assert.equal(parsePeerMessage(stateWith(patch)), null, `accepted ${JSON.stringify(patch)}`);
  }
  assert.equal(parsePeerMessage('{"t":"state"}'), null);
  assert.equal(parsePeerMessage('{"t":"state","status":[]}'), null);
});

Deno.test("state: limits are inclusive", () => {
  const name = "😀".repeat(MAX_NAME_LENGTH); // 64 code points, 128 UTF-16 units
  assert.equal(
    (parsePeerMessage(stateWith({ name })) as { status: PeerStatus }).status.name,
    name,
  );
  const stream = "s".repeat(MAX_STREAM_ID_LENGTH);
  assert.ok(parsePeerMessage(stateWith({ cameraStream: stream, screenStream: stream })));
});

Deno.test("name limit matches the signaling server's", () => {
  assert.equal(MAX_NAME_LENGTH, SERVER_MAX_NAME_LENGTH);
});

Deno.test("chat: every field is checked", () => {
  for (
    const patch of [
      { id: "" },
      { id: 1 },
      { id: "i".repeat(MAX_ID_LENGTH + 1) },
      { from: "" },
      { from: null },
      { from: "f".repeat(MAX_ID_LENGTH + 1) },
      { name: "" },
      { text: "" },
      { text: " \n\t " },
      { text: "x".repeat(MAX_CHAT_LENGTH + 1) },
      { text: "bell\u0007" },
      { text: "lone \uDC00" },
      { text: ["hi"] },
      { sentAt: "1" },
      { sentAt: -1 },
      { sentAt: null },
    ]
  ) {
    assert.equal(parsePeerMessage(chatWith(patch)), null, `accepted ${JSON.stringify(patch)}`);
  }
  // JSON has no Infinity, but 1e999 parses to it.
  assert.equal(
    parsePeerMessage(chatWith({ sentAt: 1 }).replace('"sentAt":1', '"sentAt":1e999')),
    null,
  );
  assert.equal(parsePeerMessage('{"t":"chat"}'), null);
});

Deno.test("chat: limits are inclusive and count code points", () => {
  const text = "😀".repeat(MAX_CHAT_LENGTH);
  const ok = parsePeerMessage(chatWith({ text, id: "i".repeat(MAX_ID_LENGTH) }));
  assert.equal((ok as { message: ChatMessage }).message.text, text);
  assert.ok(parsePeerMessage(chatWith({ from: "f".repeat(MAX_ID_LENGTH), sentAt: 0 })));
});

Deno.test("history: bounded, and one bad entry refuses the whole message", () => {
  const full = Array.from({ length: MAX_HISTORY }, (_, i) => chat(i));
  assert.equal(
    (parsePeerMessage(JSON.stringify({ t: "history", messages: full })) as {
      messages: ChatMessage[];
    }).messages.length,
    MAX_HISTORY,
  );
  const tooMany = [...full, chat(MAX_HISTORY)];
  assert.equal(parsePeerMessage(JSON.stringify({ t: "history", messages: tooMany })), null);
  const oneBad = [chat(1), { ...chat(2), text: "" }, chat(3)];
  assert.equal(parsePeerMessage(JSON.stringify({ t: "history", messages: oneBad })), null);
  assert.equal(parsePeerMessage('{"t":"history","messages":{"0":{}}}'), null);
  assert.equal(parsePeerMessage('{"t":"history"}'), null);
});

Deno.test("messages over MAX_PEER_MESSAGE_BYTES are refused, counting UTF-8 bytes", () => {
  const base = '{"t":"history-request","pad":""}';
  const pad = (n: number, ch: string) => base.replace('""', `"${ch.repeat(n)}"`);
  const ascii = pad(MAX_PEER_MESSAGE_BYTES - base.length, "x");
  assert.equal(new TextEncoder().encode(ascii).length, MAX_PEER_MESSAGE_BYTES);
  assert.ok(parsePeerMessage(ascii));
  assert.equal(parsePeerMessage(pad(MAX_PEER_MESSAGE_BYTES - base.length + 1, "x")), null);
  // "é" is one UTF-16 unit but two bytes: short enough by length, too long in bytes.
  const accents = pad((MAX_PEER_MESSAGE_BYTES - base.length) / 2 + 1, "é");
  assert.ok(accents.length < MAX_PEER_MESSAGE_BYTES);
  assert.equal(parsePeerMessage(accents), null);
});

Deno.test("__proto__ keys neither pollute prototypes nor reach the result", () => {
  const hostile = [
    '{"t":"history-request","__proto__":{"polluted":true}}',
    `{"t":"state","status":${
      JSON.stringify(status).replace("{", '{"__proto__":{"polluted":true},')
    }}`,
    `{"t":"history","messages":[${
      JSON.stringify(chat(1)).replace("{", '{"__proto__":{"polluted":true},')
    }]}`,
    '{"t":"chat","message":{"__proto__":{"id":"x","from":"y","name":"n","text":"t","sentAt":1}}}',
  ];
  const results = hostile.map(parsePeerMessage);
  assert.equal(results[3], null, "fields inherited through __proto__ must not count");
  for (const result of results.slice(0, 3)) {
    assert.ok(result);
    const objects = [result, ...Object.values(result).flat()].filter((x) => typeof x === "object");
    for (const o of objects) {
      assert.equal(Object.getPrototypeOf(o), Object.getPrototypeOf({}));
      assert.equal(Object.hasOwn(o as object, "__proto__"), false);
      assert.equal((o as Record<string, unknown>).polluted, undefined);
    }
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("history encoding keeps the newest messages that fit", () => {
  const long = Array.from({ length: MAX_HISTORY }, (_, i) => chat(i, "é".repeat(MAX_CHAT_LENGTH)));
  const json = encodePeerMessage({ t: "history", messages: long });
  assert.ok(new TextEncoder().encode(json).length <= MAX_PEER_MESSAGE_BYTES);
  const kept = (parsePeerMessage(json) as { messages: ChatMessage[] }).messages;
  assert.ok(kept.length > 50 && kept.length < MAX_HISTORY, `kept ${kept.length}`);
  assert.deepEqual(kept, long.slice(-kept.length));
  // Exactly at a smaller limit (e.g. a peer's SCTP maxMessageSize): fills it to the last byte.
  const three = encodePeerMessage({ t: "history", messages: long.slice(-3) });
  const size = new TextEncoder().encode(three).length;
  assert.equal(encodePeerMessage({ t: "history", messages: long }, size), three);
  const two = encodePeerMessage({ t: "history", messages: long }, size - 1);
  assert.equal((parsePeerMessage(two) as { messages: ChatMessage[] }).messages.length, 2);
  assert.equal(
    encodePeerMessage({ t: "history", messages: long }, 10),
    '{"t":"history","messages":[]}',
  );
  // Never more than MAX_HISTORY entries, even when they would fit.
  const many = Array.from({ length: MAX_HISTORY + 5 }, (_, i) => chat(i, "x"));
  const sent = parsePeerMessage(encodePeerMessage({ t: "history", messages: many }));
  assert.deepEqual((sent as { messages: ChatMessage[] }).messages, many.slice(5));
});

Deno.test("checkChatText and stripForbiddenText agree", () => {
  assert.equal(checkChatText("  a\nb\tc\r\n "), "a\nb\tc");
  assert.equal(checkChatText("a\u0000b"), null);
  assert.equal(checkChatText(stripForbiddenText("a\u0000b\u009F\uD800c")), "abc");
  assert.equal(stripForbiddenText("keep\nlines\tand 😀"), "keep\nlines\tand 😀");
});

// ---------------------------------------------------------------------------------------------
// Fuzz: random and mutated messages must never throw, and whatever is accepted must be a valid
// message that encodes back to itself.

/** Seeded, so a failure reproduces. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(20240611);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const ALPHABET = ["a", "Z", " ", "\n", "\u0000", "\u202E", "\uD800", "😀", "é", '"', "\\", "{"];

function randomString(): string {
  const length = pick([0, 1, 2, 16, 64, 65, 129, 2001]);
  let s = "";
  for (let i = 0; i < length; i++) s += random() < 0.8 ? "x" : pick(ALPHABET);
  return s;
}

function randomValue(depth = 0): unknown {
  switch (Math.floor(random() * (depth > 2 ? 5 : 7))) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return pick([0, -1, 1.5, 1e308, -0, 2 ** 53, Number.MAX_SAFE_INTEGER]);
    case 3:
      return randomString();
    case 4:
      return pick(["state", "chat", "history", "history-request", "__proto__", "constructor"]);
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 4); i > 0; i--) {
        o[pick(["t", "status", "message", "messages", "name", "text", "id", "__proto__"])] =
          randomValue(depth + 1);
      }
      return o;
    }
  }
}

function validMessage(): PeerMessage {
  switch (Math.floor(random() * 4)) {
    case 0:
      return { t: "state", status: { ...status, handRaised: random() < 0.5 } };
    case 1:
      return { t: "chat", message: chat(Math.floor(random() * 1000)) };
    case 2:
      return { t: "history-request" };
    default:
      return {
        t: "history",
        messages: Array.from({ length: Math.floor(random() * 5) }, (_, i) => chat(i)),
      };
  }
}

/** Replace, delete or add one field somewhere in the message. */
function mutate(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return randomValue();
  const copy: Record<string, unknown> = Array.isArray(value)
    ? { ...value }
    : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const key = keys.length > 0 && random() < 0.8 ? pick(keys) : pick(["t", "x", "name", "text"]);
  const r = random();
  if (r < 0.2) delete copy[key];
  else if (r < 0.6) copy[key] = randomValue();
  else copy[key] = mutate(copy[key]);
  return Array.isArray(value) ? Object.values(copy) : copy;
}

function assertValid(m: PeerMessage): void {
  const chats = m.t === "chat" ? [m.message] : m.t === "history" ? m.messages : [];
  assert.ok(chats.length <= MAX_HISTORY);
  for (const c of chats) {
    assert.ok(c.id.length >= 1 && c.id.length <= MAX_ID_LENGTH);
    assert.ok(c.from.length >= 1 && c.from.length <= MAX_ID_LENGTH);
    assert.equal(checkChatText(c.text), c.text);
    assert.ok(Number.isFinite(c.sentAt) && c.sentAt >= 0);
    assert.deepEqual(Object.keys(c), ["id", "from", "name", "text", "sentAt"]);
  }
  if (m.t === "state") {
    assert.deepEqual(Object.keys(m.status), [
      "name",
      "audioMuted",
      "videoOff",
      "handRaised",
      "cameraStream",
      "screenStream",
    ]);
  }
}

Deno.test("fuzz: 10,000 random and mutated messages never throw; accepted ones round-trip", () => {
  let accepted = 0;
  for (let i = 0; i < 10_000; i++) {
    const kind = i % 4;
    let data: unknown;
    if (kind === 0) data = JSON.stringify(randomValue());
    else if (kind === 1) data = JSON.stringify(mutate(validMessage()));
    else if (kind === 2) {
      // Byte-level damage to valid JSON: truncation or a changed character.
      const json = encodePeerMessage(validMessage());
      const at = Math.floor(random() * json.length);
      data = random() < 0.5 ? json.slice(0, at) : json.slice(0, at) + pick(ALPHABET) +
        json.slice(at + 1);
    } else data = random() < 0.5 ? encodePeerMessage(validMessage()) : randomValue();
    let result: PeerMessage | null;
    try {
      result = parsePeerMessage(data);
    } catch (error) {
      assert.fail(`threw on case ${i} ${JSON.stringify(data)?.slice(0, 200)}: ${error}`);
    }
    if (result === null) continue;
    accepted++;
    assertValid(result);
    assert.deepEqual(parsePeerMessage(encodePeerMessage(result)), result, `case ${i}`);
  }
  // Neither vacuous (all refused) nor lax (all accepted).
  assert.ok(accepted > 1_000 && accepted < 9_000, `accepted ${accepted}`);
});
