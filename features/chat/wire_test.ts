/**
 * Chat's wire validators against what a modified client could send: every field of a live
 * message and of a relayed history entry is checked, limits are inclusive and counted as peers
 * count them, prototypes cannot be polluted, and a seeded fuzz never makes a validator throw or
 * accept something unclean. Also the history trimming a member does for a newcomer.
 */
import assert from "node:assert/strict";
import { byteLength } from "../../mesh/envelope.ts";
import { MAX_NAME_LENGTH, stripForbiddenText } from "../../mesh/checks.ts";
import {
  type ChatMessage,
  checkChatText,
  historyWithin,
  type LiveMessage,
  MAX_CHAT_LENGTH,
  MAX_HISTORY,
  MAX_ID_LENGTH,
  parseChatMessage,
  parseHistory,
  parseLiveMessage,
} from "./wire.ts";

const A = "AAAAAAAAAAAAAAAA";
const LIVE_KEYS = ["seq", "text", "sentAt"];
const CHAT_KEYS = ["id", "from", "name", "text", "sentAt"];

function chat(seq: number, text = `message ${seq}`): ChatMessage {
  return { id: `${A}:${seq}`, from: A, name: "Ada", text, sentAt: 1_700_000_000_000 + seq };
}

const live: LiveMessage = { seq: 1, text: "hello", sentAt: 1_700_000_000_000 };

/** What a validator sees: the JSON value a peer's text decodes to. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const liveWith = (patch: Record<string, unknown>) => wire({ ...live, ...patch });
const chatWith = (patch: Record<string, unknown>) => wire({ ...chat(1), ...patch });
/** JSON with a field removed (JSON has no `undefined`, so a patch cannot express "missing"). */
const without = (value: object, key: string) =>
  wire(Object.fromEntries(Object.entries(value).filter(([k]) => k !== key)));

// ---------------------------------------------------------------------------------------------
// Live messages

Deno.test("parseLiveMessage: a valid message comes back as a fresh object of its three fields", () => {
  const body = liveWith({ text: "  hello\nworld\t!\r\n ", extra: "<b>", from: "someone-else" });
  const parsed = parseLiveMessage(body);
  assert.deepEqual(parsed, { seq: 1, text: "hello\nworld\t!", sentAt: live.sentAt });
  assert.deepEqual(Object.keys(parsed!), LIVE_KEYS);
  assert.notEqual(parsed, body);
});

Deno.test("parseLiveMessage: every field is checked", () => {
  assert.ok(parseLiveMessage(liveWith({})));
  for (
    const patch of [
      { seq: -1 },
      { seq: 1.5 },
      { seq: "1" },
      { seq: null },
      { seq: true },
      { seq: 2 ** 53 }, // not a safe integer
      { seq: [1] },
      { text: "" },
      { text: " \n\t\r " },
      { text: "x".repeat(MAX_CHAT_LENGTH + 1) },
      { text: "😀".repeat(MAX_CHAT_LENGTH + 1) },
      { text: "bell\u0007" },
      { text: "nul\u0000" },
      { text: "del\u007F" },
      { text: "c1\u0085" },
      { text: "lone \uDC00" },
      { text: "lone \uD800 high" },
      { text: ["hi"] },
      { text: 7 },
      { text: null },
      { sentAt: "1" },
      { sentAt: -1 },
      { sentAt: -0.5 },
      { sentAt: null },
      { sentAt: false },
    ]
  ) {
    assert.equal(parseLiveMessage(liveWith(patch)), null, `accepted ${JSON.stringify(patch)}`);
  }
  for (const key of LIVE_KEYS) {
    assert.equal(parseLiveMessage(without(live, key)), null, `accepted without ${key}`);
  }
  // JSON has no Infinity, but 1e999 parses to it.
  const infinite = JSON.stringify(live).replace(`"sentAt":${live.sentAt}`, '"sentAt":1e999');
  assert.notEqual(infinite, JSON.stringify(live));
  assert.equal(parseLiveMessage(JSON.parse(infinite)), null);
  // And values no JSON carries, in case a caller passes them anyway.
  for (const sentAt of [NaN, Infinity, -Infinity]) {
    assert.equal(parseLiveMessage({ ...live, sentAt }), null, `accepted sentAt ${sentAt}`);
  }
  assert.equal(parseLiveMessage({ ...live, seq: NaN }), null);
});

Deno.test("parseLiveMessage: limits are inclusive; text counts code points", () => {
  const text = "😀".repeat(MAX_CHAT_LENGTH); // 2,000 code points, 4,000 UTF-16 units
  assert.equal(parseLiveMessage(liveWith({ text }))?.text, text);
  assert.equal(
    parseLiveMessage(liveWith({ text: "x".repeat(MAX_CHAT_LENGTH) }))?.text.length,
    2000,
  );
  assert.equal(parseLiveMessage(liveWith({ text: "x" }))?.text, "x");
  assert.equal(parseLiveMessage(liveWith({ seq: 0 }))?.seq, 0);
  assert.equal(
    parseLiveMessage(liveWith({ seq: Number.MAX_SAFE_INTEGER }))?.seq,
    Number.MAX_SAFE_INTEGER,
  );
  assert.equal(parseLiveMessage(liveWith({ sentAt: 0 }))?.sentAt, 0);
  assert.equal(parseLiveMessage(liveWith({ sentAt: 1.5 }))?.sentAt, 1.5);
  // Trimming happens before counting: padding does not push valid text over the limit.
  assert.equal(parseLiveMessage(liveWith({ text: `  ${text}\n` }))?.text, text);
});

Deno.test("parseLiveMessage: non-objects are refused", () => {
  for (const body of [undefined, null, 0, 1, "hello", true, [], [live], [1, "hi", 0]]) {
    assert.equal(parseLiveMessage(body), null, `accepted ${JSON.stringify(body)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// History entries and histories

Deno.test("parseChatMessage: a valid entry comes back trimmed, with only its five fields", () => {
  const parsed = parseChatMessage(
    chatWith({ name: "  Ada ", text: "  hi  ", extra: true, html: "<b>x</b>" }),
  );
  assert.deepEqual(parsed, { ...chat(1), text: "hi" });
  assert.deepEqual(Object.keys(parsed!), CHAT_KEYS);
});

Deno.test("parseChatMessage: every field is checked", () => {
  for (
    const patch of [
      { id: "" },
      { id: 1 },
      { id: null },
      { id: "i".repeat(MAX_ID_LENGTH + 1) },
      { from: "" },
      { from: null },
      { from: 5 },
      { from: "f".repeat(MAX_ID_LENGTH + 1) },
      { name: "" },
      { name: "   " },
      { name: 7 },
      { name: "x".repeat(MAX_NAME_LENGTH + 1) },
      { name: "Ad\u0000a" },
      { name: "Ada\u202Emalloy" },
      { name: "\uD800" },
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
    assert.equal(parseChatMessage(chatWith(patch)), null, `accepted ${JSON.stringify(patch)}`);
  }
  for (const key of CHAT_KEYS) {
    assert.equal(parseChatMessage(without(chat(1), key)), null, `accepted without ${key}`);
  }
  const infinite = JSON.stringify(chat(1)).replace(/"sentAt":\d+/, '"sentAt":1e999');
  assert.equal(parseChatMessage(JSON.parse(infinite)), null);
  for (const value of [null, "x", 3, [], [chat(1)]]) assert.equal(parseChatMessage(value), null);
});

Deno.test("parseChatMessage: limits are inclusive; names and text count code points", () => {
  const text = "😀".repeat(MAX_CHAT_LENGTH);
  const name = "😀".repeat(MAX_NAME_LENGTH); // 64 code points, 128 UTF-16 units
  const id = "i".repeat(MAX_ID_LENGTH);
  const from = "f".repeat(MAX_ID_LENGTH);
  assert.deepEqual(
    parseChatMessage(chatWith({ text, name, id, from, sentAt: 0 })),
    { id, from, name, text, sentAt: 0 },
  );
  assert.ok(parseChatMessage(chatWith({ id: "i", from: "f", name: "N", text: "t" })));
});

Deno.test("parseHistory: bounded by MAX_HISTORY, and one bad entry refuses the whole history", () => {
  const full = Array.from({ length: MAX_HISTORY }, (_, i) => chat(i));
  assert.deepEqual(parseHistory(wire(full)), full);
  assert.deepEqual(parseHistory([]), []);
  assert.equal(parseHistory(wire([...full, chat(MAX_HISTORY)])), null);
  for (const bad of [{ ...chat(2), text: "" }, null, "x", [chat(2)], { ...chat(2), sentAt: -1 }]) {
    assert.equal(parseHistory(wire([chat(1), bad, chat(3)])), null, JSON.stringify(bad));
  }
  // The bad entry may be the last one.
  assert.equal(parseHistory(wire([...full.slice(1), { ...chat(0), id: "" }])), null);
});

Deno.test("parseHistory: non-arrays are refused", () => {
  for (
    const body of [undefined, null, 0, "[]", true, {}, { 0: chat(1), length: 1 }, { "0": {} }]
  ) {
    assert.equal(parseHistory(body), null, `accepted ${JSON.stringify(body)}`);
  }
});

Deno.test("parseHistory: entries come back clean, without extra fields", () => {
  const parsed = parseHistory(wire([{ ...chat(1), token: "x" }, { ...chat(2), text: " two " }]));
  assert.deepEqual(parsed, [chat(1), { ...chat(2), text: "two" }]);
  for (const m of parsed!) assert.deepEqual(Object.keys(m), CHAT_KEYS);
});

// ---------------------------------------------------------------------------------------------
// Prototype pollution

Deno.test("__proto__ keys neither pollute prototypes nor reach the result", () => {
  const proto = '"__proto__":{"polluted":true,"seq":1,"text":"t","sentAt":1,"id":"x","from":"y"}';
  const inject = (json: string) => JSON.parse(json.replace("{", `{${proto},`));
  const results: object[] = [
    parseLiveMessage(inject(JSON.stringify(live)))!,
    parseChatMessage(inject(JSON.stringify(chat(1))))!,
    ...parseHistory(JSON.parse(`[${JSON.stringify(chat(1)).replace("{", `{${proto},`)}]`))!,
  ];
  assert.equal(results.length, 3);
  for (const result of results) {
    assert.ok(result);
    assert.equal(Object.getPrototypeOf(result), Object.prototype);
    assert.equal(Object.hasOwn(result, "__proto__"), false);
    assert.equal((result as Record<string, unknown>).polluted, undefined);
  }
  // Fields reachable only through a JSON `__proto__` key must not count.
  assert.equal(parseLiveMessage(JSON.parse(`{${proto}}`)), null);
  assert.equal(
    parseChatMessage(JSON.parse('{"__proto__":' + JSON.stringify(chat(1)) + "}")),
    null,
  );
  assert.equal(parseHistory(JSON.parse('{"__proto__":[]}')), null);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

// ---------------------------------------------------------------------------------------------
// History for a newcomer

Deno.test("historyWithin: keeps the newest messages whose JSON fits the byte budget", () => {
  // "é" is 2 bytes in UTF-8: each message is about 4 KB.
  const long = Array.from({ length: MAX_HISTORY }, (_, i) => chat(i, "é".repeat(MAX_CHAT_LENGTH)));
  const budget = 256 * 1024 - 256;
  const kept = historyWithin(long, budget);
  assert.ok(byteLength(JSON.stringify(kept)) <= budget);
  assert.ok(kept.length > 50 && kept.length < MAX_HISTORY, `kept ${kept.length}`);
  assert.deepEqual(kept, long.slice(-kept.length));
  // One more would not have fit: it keeps as many as it can, not merely few enough.
  assert.ok(byteLength(JSON.stringify(long.slice(-kept.length - 1))) > budget);
  assert.deepEqual(parseHistory(JSON.parse(JSON.stringify(kept))), kept);
});

Deno.test("historyWithin: a budget exactly at a history's size fills it to the last byte", () => {
  const long = Array.from({ length: 20 }, (_, i) => chat(i, "é€😀".repeat(100 + i)));
  for (const n of [1, 2, 3, 10]) {
    const size = byteLength(JSON.stringify(long.slice(-n)));
    assert.deepEqual(historyWithin(long, size), long.slice(-n), `${n} at ${size} bytes`);
    assert.deepEqual(
      historyWithin(long, size - 1),
      long.slice(long.length - (n - 1)),
      `${n} at ${size - 1}`,
    );
  }
  assert.deepEqual(historyWithin(long, 10), []);
  assert.deepEqual(historyWithin(long, 2), []);
  assert.deepEqual(historyWithin(long, 0), []);
  assert.deepEqual(historyWithin([], 1_000), []);
});

Deno.test("historyWithin: never more than MAX_HISTORY entries, even when more would fit", () => {
  const many = Array.from({ length: MAX_HISTORY + 5 }, (_, i) => chat(i, "x"));
  assert.deepEqual(historyWithin(many, 10_000_000), many.slice(5));
  assert.equal(historyWithin(many.slice(0, 7), 10_000_000).length, 7);
});

Deno.test("historyWithin: only the declared fields, in fresh objects, input untouched", () => {
  const extra = [1, 2, 3].map((i) => ({ ...chat(i), html: "<b>", secret: i }));
  const before = structuredClone(extra);
  const kept = historyWithin(extra, 10_000);
  assert.deepEqual(kept, [chat(1), chat(2), chat(3)]);
  for (const [i, m] of kept.entries()) {
    assert.deepEqual(Object.keys(m), CHAT_KEYS);
    assert.notEqual(m, extra[i]);
  }
  assert.deepEqual(extra, before);
  // The budget is counted on what is sent, not on the extra fields.
  const exact = byteLength(JSON.stringify([chat(1), chat(2), chat(3)]));
  assert.equal(historyWithin(extra, exact).length, 3);
});

// ---------------------------------------------------------------------------------------------
// Text the user typed

Deno.test("checkChatText and stripForbiddenText agree", () => {
  assert.equal(checkChatText("  a\nb\tc\r\n "), "a\nb\tc");
  assert.equal(checkChatText("a\u0000b"), null);
  assert.equal(checkChatText(stripForbiddenText("a\u0000b\u009F\uD800c")), "abc");
  assert.equal(stripForbiddenText("keep\nlines\r\tand 😀"), "keep\nlines\r\tand 😀");
  assert.equal(checkChatText(stripForbiddenText("\u0000\u0001")), null); // nothing left
  // For any text, what is left after stripping is refused only for its length.
  const random = mulberry32(7);
  const chars = ["a", " ", "\n", "\t", "\r", "\u0000", "\u001B", "\u007F", "\u0085", "\uD800"];
  chars.push("\uDFFF", "😀", "\u202E", "é", "\u000B", "\u000C"); // VT and FF: controls and spaces
  for (let i = 0; i < 2_000; i++) {
    let s = "";
    for (let n = Math.floor(random() * 12); n > 0; n--) {
      s += chars[Math.floor(random() * chars.length)];
    }
    const clean = stripForbiddenText(s);
    const checked = checkChatText(clean);
    const length = [...clean.trim()].length;
    assert.equal(checked === null, length === 0, JSON.stringify(s));
    if (checked !== null) assert.equal(checkChatText(checked), checked);
    // Stripping never changes what text that passes comes out as.
    if (checkChatText(s) !== null) assert.equal(checked, checkChatText(s), JSON.stringify(s));
  }
});

// ---------------------------------------------------------------------------------------------
// Fuzz: random and mutated bodies must never make a validator throw, and whatever is accepted
// must be clean and validate again, after a trip through JSON, to itself.

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
const KEYS = ["seq", "text", "sentAt", "id", "from", "name", "__proto__", "x"];

function randomString(): string {
  const length = pick([0, 1, 2, 16, 64, 65, 129, 2000, 2001]);
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
      return pick([0, -1, 1.5, 1e308, 2 ** 53, Number.MAX_SAFE_INTEGER, 7]);
    case 3:
      return randomString();
    case 4:
      return pick(["__proto__", "constructor", "toString", "hi", ""]);
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 4); i > 0; i--) o[pick(KEYS)] = randomValue(depth + 1);
      return o;
    }
  }
}

type Kind = "live" | "history";

function validBody(kind: Kind): unknown {
  if (kind === "live") {
    return { seq: Math.floor(random() * 1000), text: pick(["hi", " a\nb ", "😀é"]), sentAt: 5 };
  }
  return Array.from({ length: Math.floor(random() * 5) }, (_, i) => chat(i, pick(["x", "é 😀"])));
}

/** Replace, delete or add one field somewhere in the value. */
function mutate(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return randomValue();
  const copy: Record<string, unknown> = Array.isArray(value)
    ? { ...value }
    : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const key = keys.length > 0 && random() < 0.8 ? pick(keys) : pick(KEYS);
  const r = random();
  if (r < 0.2) delete copy[key];
  else if (r < 0.6) copy[key] = randomValue();
  else copy[key] = mutate(copy[key]);
  return Array.isArray(value) ? Object.values(copy) : copy;
}

function assertCleanChat(c: ChatMessage): void {
  assert.deepEqual(Object.keys(c), CHAT_KEYS);
  assert.ok(c.id.length >= 1 && c.id.length <= MAX_ID_LENGTH);
  assert.ok(c.from.length >= 1 && c.from.length <= MAX_ID_LENGTH);
  assert.equal(c.name, c.name.trim());
  assert.ok([...c.name].length >= 1 && [...c.name].length <= MAX_NAME_LENGTH);
  assert.equal(checkChatText(c.text), c.text);
  assert.ok(Number.isFinite(c.sentAt) && c.sentAt >= 0);
}

function assertCleanLive(m: LiveMessage): void {
  assert.deepEqual(Object.keys(m), LIVE_KEYS);
  assert.ok(Number.isSafeInteger(m.seq) && m.seq >= 0);
  assert.equal(checkChatText(m.text), m.text);
  assert.ok(Number.isFinite(m.sentAt) && m.sentAt >= 0);
}

/** Runs a validator; a throw fails the test with the case that caused it. */
function run<T>(validate: (body: unknown) => T, body: unknown, label: string): T {
  try {
    return validate(body);
  } catch (error) {
    assert.fail(`${validate.name} threw on ${label}: ${error}`);
  }
}

Deno.test("fuzz: 10,000 random and mutated bodies never throw; accepted ones are clean and stable", () => {
  const accepted = { live: 0, history: 0 };
  for (let i = 0; i < 10_000; i++) {
    const kind: Kind = i % 2 === 0 ? "live" : "history";
    const how = Math.floor(i / 2) % 4;
    let text: string | undefined;
    let body: unknown;
    if (how === 0) text = JSON.stringify(randomValue());
    else if (how === 1) text = JSON.stringify(mutate(validBody(kind)));
    else if (how === 2) {
      // Byte-level damage to valid JSON: truncation or a changed character.
      const json = JSON.stringify(validBody(kind));
      const at = Math.floor(random() * json.length);
      text = random() < 0.5
        ? json.slice(0, at)
        : json.slice(0, at) + pick(ALPHABET) + json.slice(at + 1);
    } else body = random() < 0.5 ? validBody(kind) : randomValue();
    if (text !== undefined) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text; // the envelope would refuse it; the validator must still cope
      }
    }
    const label = `case ${i}: ${JSON.stringify(body)?.slice(0, 200)}`;

    const liveResult = run(parseLiveMessage, body, label);
    const entryResult = run(parseChatMessage, body, label);
    const historyResult = run(parseHistory, body, label);

    if (liveResult !== null) {
      if (kind === "live") accepted.live++;
      assertCleanLive(liveResult);
      assert.deepEqual(parseLiveMessage(wire(liveResult)), liveResult, label);
    }
    if (entryResult !== null) {
      assertCleanChat(entryResult);
      assert.deepEqual(parseChatMessage(wire(entryResult)), entryResult, label);
    }
    if (historyResult !== null) {
      if (kind === "history") accepted.history++;
      assert.ok(historyResult.length <= MAX_HISTORY);
      historyResult.forEach(assertCleanChat);
      assert.deepEqual(parseHistory(wire(historyResult)), historyResult, label);
      assert.deepEqual(historyWithin(historyResult, 10_000_000), historyResult, label);
    }
  }
  // Neither vacuous (all refused) nor lax (all accepted), for each validator.
  for (const [kind, n] of Object.entries(accepted)) {
    assert.ok(n > 500 && n < 4_500, `${kind}: accepted ${n} of 5,000`);
  }
});
