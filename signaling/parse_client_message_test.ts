/** Validation of client frames: every accepted shape, every refusal, exact limits, a fuzz. */
import assert from "node:assert/strict";
import { MAX_CAPACITY } from "./limits.ts";
import { parseClientMessage, type ParseResult } from "./parse_client_message.ts";
import {
  clientMessage,
  ERROR_CODES,
  type ErrorCode,
  MAX_FRAME_BYTES,
  MAX_KNOCK_BYTES,
  MAX_LINKS,
  MAX_NAME_LENGTH,
  MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
} from "./protocol.ts";

const A = "AAAAAAAAAAAAAAAA";
const B = "bbbbbbbbbbbbbbb_";
const C = "cccccccccccccc-9";

function parsed(frame: string): ParseResult & { ok: true } {
  const result = parseClientMessage(frame);
  assert.ok(result.ok, `expected ok for ${frame.slice(0, 80)}: ${JSON.stringify(result)}`);
  return result;
}

function rejected(frame: string | ArrayBuffer | Blob | Uint8Array): ParseResult & { ok: false } {
  const result = parseClientMessage(frame);
  assert.ok(!result.ok, `expected a rejection, got ${JSON.stringify(result).slice(0, 200)}`);
  return result;
}

const SECRET = "s3cr3t_-s3cr3t_-s3cr3t_-s3cr3t_-s3cr3t_-abc";

/** A knock frame whose payload is a string that encodes to exactly `bytes` as JSON. */
function knockWithPayloadBytes(bytes: number): string {
  return JSON.stringify({ type: "knock", payload: "k".repeat(bytes - 2) });
}

/** A signal frame whose payload is a string that encodes to exactly `bytes` as JSON. */
function signalWithPayloadBytes(bytes: number): string {
  return JSON.stringify({ type: "signal", to: A, payload: "x".repeat(bytes - 2) });
}

Deno.test("valid messages of each type parse to exactly their fields", () => {
  assert.deepEqual(parsed('{"type":"join","v":1,"name":"Ada"}').message, {
    type: "join",
    v: 1,
    name: "Ada",
  });
  // Without a name: the browser seals names end to end and tells the server none.
  assert.deepEqual(parsed('{"type":"join","v":1}').message, { type: "join", v: 1, name: "" });
  assert.deepEqual(
    parsed('{"type":"join","v":1,"name":"Ada","resume":"tok.EN_1-x"}').message,
    { type: "join", v: 1, name: "Ada", resume: "tok.EN_1-x" },
  );
  assert.deepEqual(
    parsed(JSON.stringify({ type: "signal", to: A, payload: { sdp: "v=0", type: "offer" } }))
      .message,
    { type: "signal", to: A, payload: { sdp: "v=0", type: "offer" } },
  );
  // Any JSON value is an acceptable payload, null included.
  for (const payload of [null, 0, "s", true, [1, [2]], {}]) {
    assert.deepEqual(parsed(JSON.stringify({ type: "signal", to: B, payload })).message, {
      type: "signal",
      to: B,
      payload,
    });
  }
  assert.deepEqual(
    parsed(JSON.stringify({ type: "links", links: { [A]: "connected", [B]: "failed" } })).message,
    { type: "links", links: { [A]: "connected", [B]: "failed" } },
  );
  assert.deepEqual(parsed('{"type":"links","links":{}}').message, { type: "links", links: {} });
  assert.deepEqual(parsed('{"type":"ping"}').message, { type: "ping" });
  assert.deepEqual(parsed('{"type":"ping","t":1234.5}').message, { type: "ping", t: 1234.5 });
  assert.deepEqual(parsed('{"type":"ping","t":1e308}').message, { type: "ping", t: 1e308 });
  assert.deepEqual(parsed('{"type":"leave"}').message, { type: "leave" });
  // Whitespace around and inside the JSON is fine.
  assert.deepEqual(parsed(' \n{ "type" : "leave" }\t').message, { type: "leave" });
});

Deno.test("join carries the meeting secret; the host controls and knock parse to their fields", () => {
  assert.deepEqual(parsed(JSON.stringify({ type: "join", v: 1, secret: SECRET })).message, {
    type: "join",
    v: 1,
    name: "",
    secret: SECRET,
  });
  // Also on a resume (harmless), and at both ends of SECRET_PATTERN's length.
  for (const secret of ["a".repeat(22), "Z".repeat(64)]) {
    assert.deepEqual(
      parsed(JSON.stringify({ type: "join", v: 1, resume: "tok.EN", secret })).message,
      { type: "join", v: 1, name: "", resume: "tok.EN", secret },
    );
  }
  const sealed = { v: 1, iv: "aXY", ct: "Y2lwaGVy" };
  const cases: Record<string, unknown>[] = [
    { type: "knock", payload: sealed },
    { type: "knock", payload: null },
    { type: "knock", payload: [[["deep 3"]]] },
    { type: "lock", locked: true },
    { type: "lock", locked: false },
    { type: "lobby", on: true },
    { type: "lobby", on: false },
    { type: "admit", knock: A, allow: true },
    { type: "admit", knock: B, allow: false },
    { type: "remove", peer: C },
    { type: "role", peer: A, host: true },
    { type: "role", peer: B, host: false },
    { type: "mute", peer: A, what: "audio" },
    { type: "mute", peer: "all", what: "video" },
    { type: "mute", peer: B, what: "screen" },
    { type: "end" },
  ];
  for (const message of cases) assert.deepEqual(parsed(JSON.stringify(message)).message, message);
});

Deno.test("the knock payload limit is exactly MAX_KNOCK_BYTES of JSON and 4 levels", () => {
  assert.ok(parseClientMessage(knockWithPayloadBytes(MAX_KNOCK_BYTES)).ok);
  assert.equal(rejected(knockWithPayloadBytes(MAX_KNOCK_BYTES + 1)).code, "too-large");
  // Measured in UTF-8: 700 "€" are 2,102 bytes as JSON though only 702 UTF-16 units.
  assert.equal(
    rejected(JSON.stringify({ type: "knock", payload: "€".repeat(700) })).code,
    "too-large",
  );
  assert.ok(parseClientMessage('{"type":"knock","payload":[[[[1]]]]}').ok);
  const deep = rejected('{"type":"knock","payload":[[[[[1]]]]]}');
  assert.equal(deep.code, "bad-message");
  assert.match(deep.message, /deeper than 4 levels; flatten it/);
});

Deno.test("links: a member of any room up to MAX_CAPACITY can report every other member", () => {
  const report = (entries: number) =>
    JSON.stringify({
      type: "links",
      links: Object.fromEntries(
        Array.from({ length: entries }, (_, i) => [`peer${String(i).padStart(12, "0")}`, "failed"]),
      ),
    });
  // 18: the room that showed the old bound (16 whatever the capacity) was wrong.
  for (const capacity of [2, 8, 17, 18, MAX_CAPACITY]) {
    const message = parsed(report(capacity - 1)).message;
    assert.equal(message.type === "links" && Object.keys(message.links).length, capacity - 1);
  }
  assert.equal(MAX_LINKS, MAX_CAPACITY - 1);
  assert.equal(rejected(report(MAX_CAPACITY)).code, "bad-message");
});

Deno.test("names are trimmed, NFC-normalized and counted in code points", () => {
  const name = (raw: string) => {
    const message = parsed(JSON.stringify({ type: "join", v: 1, name: raw })).message;
    assert.equal(message.type, "join");
    return message.type === "join" ? message.name : "";
  };
  assert.equal(name("  Ada Lovelace \n\t"), "Ada Lovelace");
  // "e" + combining acute becomes the single precomposed "é".
  assert.equal(name("Jose\u0301"), "Jos\u00e9");
  assert.equal(name("Jose\u0301").length, 4);
  assert.equal(name("x".repeat(MAX_NAME_LENGTH)), "x".repeat(MAX_NAME_LENGTH));
  // 64 emoji are 128 UTF-16 units but 64 characters.
  assert.equal(name("😀".repeat(MAX_NAME_LENGTH)), "😀".repeat(MAX_NAME_LENGTH));
  // Padding beyond the limit is fine as long as the trimmed name fits.
  assert.equal(name(" ".repeat(500) + "Bo" + " ".repeat(500)), "Bo");
  // 64 decomposed characters (128 code points) fit once composed.
  assert.equal(name("e\u0301".repeat(MAX_NAME_LENGTH)), "\u00e9".repeat(MAX_NAME_LENGTH));
  assert.equal(name("Zoë 李 محمد"), "Zoë 李 محمد");
});

/** [description, frame, expected code] */
const INVALID: [string, string, ErrorCode][] = [
  ["empty frame", "", "bad-json"],
  ["not JSON", "hello", "bad-json"],
  ["truncated object", '{"type":"ping"', "bad-json"],
  ["trailing garbage", '{"type":"ping"}x', "bad-json"],
  ["single quotes", "{'type':'ping'}", "bad-json"],
  ["NaN literal", '{"type":"ping","t":NaN}', "bad-json"],
  ["two objects", '{"type":"ping"}{"type":"ping"}', "bad-json"],
  ["array", '[{"type":"ping"}]', "bad-message"],
  ["null", "null", "bad-message"],
  ["number", "42", "bad-message"],
  ["string", '"ping"', "bad-message"],
  ["boolean", "true", "bad-message"],
  ["missing type", "{}", "bad-message"],
  ["type null", '{"type":null}', "bad-message"],
  ["type number", '{"type":1}', "bad-message"],
  ["type array", '{"type":["ping"]}', "bad-message"],
  ["unknown type", '{"type":"hello"}', "unknown-type"],
  ["type with other case", '{"type":"PING"}', "unknown-type"],
  ["prototype member as type", '{"type":"constructor"}', "unknown-type"],
  ["__proto__ as type", '{"type":"__proto__"}', "unknown-type"],
  ["type only in __proto__", '{"__proto__":{"type":"ping"}}', "bad-message"],
  ["join without v", '{"type":"join","name":"a"}', "bad-message"],
  ["join v string", '{"type":"join","v":"1","name":"a"}', "bad-message"],
  ["join v 2", '{"type":"join","v":2,"name":"a"}', "unsupported-version"],
  ["join v 0", '{"type":"join","v":0,"name":"a"}', "unsupported-version"],
  ["join v 2 with new fields", '{"type":"join","v":2,"name":"a","x":1}', "unsupported-version"],
  ["join v infinite", '{"type":"join","v":1e999,"name":"a"}', "bad-message"],
  ["join name number", '{"type":"join","v":1,"name":5}', "bad-message"],
  ["join name null", '{"type":"join","v":1,"name":null}', "bad-message"],
  ["join name empty", '{"type":"join","v":1,"name":""}', "bad-message"],
  ["join name blank", '{"type":"join","v":1,"name":" \\t\\n "}', "bad-message"],
  [
    "join name too long",
    JSON.stringify({ type: "join", v: 1, name: "x".repeat(65) }),
    "bad-message",
  ],
  ["join name NUL", '{"type":"join","v":1,"name":"a\\u0000b"}', "bad-message"],
  ["join name newline inside", '{"type":"join","v":1,"name":"a\\nb"}', "bad-message"],
  ["join name DEL", '{"type":"join","v":1,"name":"a\\u007fb"}', "bad-message"],
  ["join name C1", '{"type":"join","v":1,"name":"a\\u0085b"}', "bad-message"],
  ["join name RLO", '{"type":"join","v":1,"name":"evil\\u202Egnp.exe"}', "bad-message"],
  ["join name LRE", '{"type":"join","v":1,"name":"a\\u202Ab"}', "bad-message"],
  ["join name FSI", '{"type":"join","v":1,"name":"a\\u2068b"}', "bad-message"],
  ["join name PDI", '{"type":"join","v":1,"name":"a\\u2069b"}', "bad-message"],
  ["join name line separator", '{"type":"join","v":1,"name":"a\\u2028b"}', "bad-message"],
  ["join name lone surrogate", '{"type":"join","v":1,"name":"a\\ud800b"}', "bad-message"],
  ["join extra field", '{"type":"join","v":1,"name":"a","peer":"x"}', "bad-message"],
  ["join __proto__ field", '{"type":"join","v":1,"name":"a","__proto__":{}}', "bad-message"],
  ["join resume empty", '{"type":"join","v":1,"name":"a","resume":""}', "bad-message"],
  ["join resume number", '{"type":"join","v":1,"name":"a","resume":7}', "bad-message"],
  ["join resume bad chars", '{"type":"join","v":1,"name":"a","resume":"a/b"}', "bad-message"],
  [
    "join resume too long",
    JSON.stringify({ type: "join", v: 1, name: "a", resume: "t".repeat(129) }),
    "bad-message",
  ],
  ["signal without to", '{"type":"signal","payload":1}', "bad-message"],
  ["signal without payload", `{"type":"signal","to":"${A}"}`, "bad-message"],
  ["signal to short", '{"type":"signal","to":"AAAA","payload":1}', "bad-message"],
  ["signal to 17 chars", `{"type":"signal","to":"${A}A","payload":1}`, "bad-message"],
  ["signal to with slash", '{"type":"signal","to":"AAAAAAAAAAAAAAA/","payload":1}', "bad-message"],
  [
    "signal to with padding",
    '{"type":"signal","to":"AAAAAAAAAAAAAA==","payload":1}',
    "bad-message",
  ],
  ["signal to number", '{"type":"signal","to":1234567890123456,"payload":1}', "bad-message"],
  ["signal extra field", `{"type":"signal","to":"${A}","payload":1,"from":"${B}"}`, "bad-message"],
  ["signal payload too big", signalWithPayloadBytes(MAX_PAYLOAD_BYTES + 1), "too-large"],
  [
    "signal payload too deep",
    `{"type":"signal","to":"${A}","payload":${"[".repeat(33)}${"]".repeat(33)}}`,
    "bad-message",
  ],
  [
    "signal payload 20,000 deep",
    `{"type":"signal","to":"${A}","payload":${"[".repeat(20_000)}${"]".repeat(20_000)}}`,
    "bad-message",
  ],
  ["links missing", '{"type":"links"}', "bad-message"],
  ["links null", '{"type":"links","links":null}', "bad-message"],
  ["links array", `{"type":"links","links":["${A}"]}`, "bad-message"],
  ["links string", '{"type":"links","links":"connected"}', "bad-message"],
  ["links bad state", `{"type":"links","links":{"${A}":"open"}}`, "bad-message"],
  ["links state null", `{"type":"links","links":{"${A}":null}}`, "bad-message"],
  ["links bad key", '{"type":"links","links":{"me":"connected"}}', "bad-message"],
  ["links __proto__ key", '{"type":"links","links":{"__proto__":"connected"}}', "bad-message"],
  [
    "links too many",
    JSON.stringify({
      type: "links",
      links: Object.fromEntries(
        Array.from(
          { length: MAX_LINKS + 1 },
          (_, i) => [`peer${String(i).padStart(12, "0")}`, "connected"],
        ),
      ),
    }),
    "bad-message",
  ],
  ["links extra field", '{"type":"links","links":{},"x":1}', "bad-message"],
  ["ping t string", '{"type":"ping","t":"5"}', "bad-message"],
  ["ping t null", '{"type":"ping","t":null}', "bad-message"],
  ["ping t infinite", '{"type":"ping","t":1e999}', "bad-message"],
  ["ping t -infinite", '{"type":"ping","t":-1e999}', "bad-message"],
  ["ping extra field", '{"type":"ping","t":1,"u":2}', "bad-message"],
  ["leave extra field", '{"type":"leave","reason":"bye"}', "bad-message"],
  ["join secret empty", '{"type":"join","v":1,"secret":""}', "bad-message"],
  [
    "join secret too short",
    JSON.stringify({ type: "join", v: 1, secret: "a".repeat(21) }),
    "bad-message",
  ],
  [
    "join secret too long",
    JSON.stringify({ type: "join", v: 1, secret: "a".repeat(65) }),
    "bad-message",
  ],
  [
    "join secret padding",
    JSON.stringify({ type: "join", v: 1, secret: `${"a".repeat(30)}==` }),
    "bad-message",
  ],
  [
    "join secret with dot",
    JSON.stringify({ type: "join", v: 1, secret: `${"a".repeat(30)}.b` }),
    "bad-message",
  ],
  ["join secret number", '{"type":"join","v":1,"secret":12345678901234567890123}', "bad-message"],
  ["join secret null", '{"type":"join","v":1,"secret":null}', "bad-message"],
  ["knock without payload", '{"type":"knock"}', "bad-message"],
  ["knock extra field", '{"type":"knock","payload":1,"name":"Ada"}', "bad-message"],
  ["knock payload too big", knockWithPayloadBytes(MAX_KNOCK_BYTES + 1), "too-large"],
  ["knock payload 5 deep", '{"type":"knock","payload":{"a":{"b":{"c":{"d":{}}}}}}', "bad-message"],
  ["lock without locked", '{"type":"lock"}', "bad-message"],
  ["lock locked string", '{"type":"lock","locked":"true"}', "bad-message"],
  ["lock locked number", '{"type":"lock","locked":1}', "bad-message"],
  ["lock extra field", '{"type":"lock","locked":true,"room":"r"}', "bad-message"],
  ["lobby without on", '{"type":"lobby"}', "bad-message"],
  ["lobby on null", '{"type":"lobby","on":null}', "bad-message"],
  ["lobby extra field", '{"type":"lobby","on":true,"by":"x"}', "bad-message"],
  ["admit without knock", '{"type":"admit","allow":true}', "bad-message"],
  ["admit without allow", `{"type":"admit","knock":"${A}"}`, "bad-message"],
  ["admit knock short", '{"type":"admit","knock":"AAAA","allow":true}', "bad-message"],
  ["admit knock all", '{"type":"admit","knock":"all","allow":true}', "bad-message"],
  ["admit allow string", `{"type":"admit","knock":"${A}","allow":"yes"}`, "bad-message"],
  ["admit extra field", `{"type":"admit","knock":"${A}","allow":true,"x":1}`, "bad-message"],
  ["remove without peer", '{"type":"remove"}', "bad-message"],
  ["remove peer all", '{"type":"remove","peer":"all"}', "bad-message"],
  ["remove peer with slash", '{"type":"remove","peer":"AAAAAAAAAAAAAAA/"}', "bad-message"],
  ["remove extra field", `{"type":"remove","peer":"${A}","ban":false}`, "bad-message"],
  ["role without host", `{"type":"role","peer":"${A}"}`, "bad-message"],
  ["role without peer", '{"type":"role","host":true}', "bad-message"],
  ["role host string", `{"type":"role","peer":"${A}","host":"true"}`, "bad-message"],
  ["role peer 17 chars", `{"type":"role","peer":"${A}A","host":true}`, "bad-message"],
  ["role extra field", `{"type":"role","peer":"${A}","host":true,"all":true}`, "bad-message"],
  ["mute without what", `{"type":"mute","peer":"${A}"}`, "bad-message"],
  ["mute without peer", '{"type":"mute","what":"audio"}', "bad-message"],
  ["mute what mic", `{"type":"mute","peer":"${A}","what":"mic"}`, "bad-message"],
  ["mute what list", `{"type":"mute","peer":"${A}","what":["audio"]}`, "bad-message"],
  ["mute peer ALL", '{"type":"mute","peer":"ALL","what":"audio"}', "bad-message"],
  ["mute peer list", `{"type":"mute","peer":["${A}"],"what":"audio"}`, "bad-message"],
  ["mute extra field", `{"type":"mute","peer":"all","what":"audio","x":1}`, "bad-message"],
  ["end extra field", '{"type":"end","reason":"bye"}', "bad-message"],
  ["end with peer", `{"type":"end","peer":"${A}"}`, "bad-message"],
  ["frame too large", '{"type":"ping"}' + " ".repeat(MAX_FRAME_BYTES), "too-large"],
  [
    "frame too large only in UTF-8",
    JSON.stringify({ type: "signal", to: A, payload: "€".repeat(22_000) }),
    "too-large",
  ],
];

Deno.test(`a table of ${INVALID.length} invalid frames is rejected with the right codes`, () => {
  assert.ok(INVALID.length >= 40);
  for (const [description, frame, code] of INVALID) {
    const result = rejected(frame);
    assert.equal(result.code, code, `${description}: ${result.message}`);
    assert.ok(result.message.length > 0, description);
    // Messages are short whatever the input, so an error never echoes a frame back in bulk.
    assert.ok(result.message.length < 200, `${description}: ${result.message}`);
  }
});

Deno.test("error messages say what is wrong", () => {
  assert.equal(
    rejected(JSON.stringify({ type: "join", v: 1, name: "" })).message,
    '"name" must be 1 to 64 characters after trimming; got 0',
  );
  assert.match(rejected('{"type":"ping","zzz":1}').message, /unknown field "zzz".*type, t/);
  assert.match(rejected('{"type":"hello"}').message, /"hello".*join, signal, links, ping, leave/);
  assert.match(rejected('{"type":"join","v":3,"name":"a"}').message, /version 3.*version 1/);
  assert.match(
    rejected('{"type":"join","v":1,"secret":"short"}').message,
    /"secret" must be .* 22 to 64 characters of A-Z a-z 0-9 _ -/,
  );
  assert.equal(rejected('{"type":"lock"}').message, '"lock" needs "locked": true or false');
  assert.equal(
    rejected('{"type":"admit","allow":true}').message,
    '"admit" needs "knock": a peer id (16 characters of A-Z a-z 0-9 _ -)',
  );
  assert.equal(
    rejected('{"type":"role","peer":"me","host":true}').message,
    '"peer" must be a peer id (16 characters of A-Z a-z 0-9 _ -)',
  );
  assert.equal(
    rejected(`{"type":"mute","peer":"${A}","what":"mic"}`).message,
    '"what" must be one of audio, video, screen',
  );
  assert.match(
    rejected('{"type":"end","x":1}').message,
    /unknown field "x" in "end"; allowed fields: type$/,
  );
  assert.match(
    rejected('{"type":"hello"}').message,
    /knock, lock, lobby, admit, remove, role, mute, end/,
  );
  // A huge unknown key is shown cut short.
  const long = rejected(JSON.stringify({ type: "leave", ["k".repeat(10_000)]: 1 })).message;
  assert.ok(long.length < 150, long);
});

Deno.test("binary frames are refused whatever their content", () => {
  const bytes = new TextEncoder().encode('{"type":"ping"}');
  for (const frame of [bytes, bytes.buffer, new Blob([bytes]), new Uint8Array(0)]) {
    assert.equal(rejected(frame).code, "binary-frame");
  }
  // Whatever a caller passes at runtime, the answer is a result, not an exception.
  for (const frame of [null, undefined, 42, {}, [], Symbol("x")]) {
    assert.equal(rejected(frame as unknown as string).code, "binary-frame");
  }
});

Deno.test("the frame limit is exactly 64 KiB of UTF-8", () => {
  const base = '{"type":"ping"}';
  const exact = base + " ".repeat(MAX_FRAME_BYTES - base.length);
  assert.equal(new TextEncoder().encode(exact).length, MAX_FRAME_BYTES);
  assert.ok(parseClientMessage(exact).ok);
  assert.equal(rejected(exact + " ").code, "too-large");
  // Between length and 3 x length: measured exactly. 2-byte characters plus padding fit.
  const twoByte = JSON.stringify({ type: "signal", to: A, payload: "é".repeat(15_000) }) +
    " ".repeat(10_000);
  assert.ok(twoByte.length * 3 > MAX_FRAME_BYTES);
  assert.ok(parseClientMessage(twoByte).ok);
  // On the exact path (3-byte characters), the boundary is still exact.
  const euros = JSON.stringify({ type: "signal", to: A, payload: "€".repeat(10_000) });
  const bytes = new TextEncoder().encode(euros).length;
  const full = euros + " ".repeat(MAX_FRAME_BYTES - bytes);
  assert.ok(full.length * 3 > MAX_FRAME_BYTES && full.length < MAX_FRAME_BYTES);
  assert.ok(parseClientMessage(full).ok);
  assert.equal(rejected(full + " ").code, "too-large");
});

Deno.test("the payload limit is exactly 32 KiB of JSON", () => {
  assert.ok(parseClientMessage(signalWithPayloadBytes(MAX_PAYLOAD_BYTES)).ok);
  assert.equal(rejected(signalWithPayloadBytes(MAX_PAYLOAD_BYTES + 1)).code, "too-large");
  // Measured re-encoded in UTF-8, not in UTF-16 units: 11,000 "€" are 33,000 bytes.
  const euros = JSON.stringify({ type: "signal", to: A, payload: "€".repeat(11_000) });
  assert.equal(rejected(euros).code, "too-large");
  // A payload nested exactly to the limit is fine.
  const deep = "[".repeat(MAX_PAYLOAD_DEPTH) + "]".repeat(MAX_PAYLOAD_DEPTH);
  assert.ok(parseClientMessage(`{"type":"signal","to":"${A}","payload":${deep}}`).ok);
});

Deno.test("__proto__ keys do not pollute prototypes and stay plain data", () => {
  const result = parsed(
    `{"type":"signal","to":"${A}","payload":{"__proto__":{"polluted":true},"a":1}}`,
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  assert.equal(result.message.type, "signal");
  if (result.message.type !== "signal") return;
  const payload = result.message.payload as Record<string, unknown>;
  assert.ok(Object.hasOwn(payload, "__proto__"), "kept as an own key");
  assert.equal(Object.getPrototypeOf(payload), Object.prototype);
  // Forwarded as sent.
  assert.equal(
    JSON.stringify(result.message.payload),
    '{"__proto__":{"polluted":true},"a":1}',
  );
  rejected('{"type":"links","links":{"__proto__":{"polluted":true}}}');
  rejected('{"__proto__":{"polluted":true},"type":"join","v":1,"name":"a"}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

/** Small seeded PRNG (mulberry32), so a fuzz failure can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("fuzz: 20,000 random and mutated frames never throw and always answer", () => {
  const random = rng(0x600d);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const seeds = [
    '{"type":"join","v":1,"name":"Ada","resume":"tok"}',
    `{"type":"signal","to":"${A}","payload":{"sdp":"v=0","type":"offer"}}`,
    `{"type":"links","links":{"${A}":"connected","${B}":"failed","${C}":"connecting"}}`,
    '{"type":"ping","t":12.5}',
    '{"type":"leave"}',
    `{"type":"join","v":1,"name":"Bo","secret":"${SECRET}"}`,
    '{"type":"knock","payload":{"iv":"aXY","ct":"Y2lw"}}',
    '{"type":"lock","locked":true}',
    '{"type":"lobby","on":false}',
    `{"type":"admit","knock":"${A}","allow":true}`,
    `{"type":"remove","peer":"${B}"}`,
    `{"type":"role","peer":"${C}","host":false}`,
    '{"type":"mute","peer":"all","what":"screen"}',
    '{"type":"end"}',
  ];
  const pieces = [
    "{",
    "}",
    "[",
    "]",
    '"',
    ":",
    ",",
    "null",
    "true",
    "1e999",
    "-0",
    "\\u0000",
    "\\ud800",
    "__proto__",
    "constructor",
    "type",
    "join",
    "\u202e",
    "é",
    "😀",
    " ",
    "\n",
    "\\",
  ];
  const randomChar = () =>
    random() < 0.7
      ? String.fromCharCode(32 + Math.floor(random() * 95))
      : String.fromCharCode(Math.floor(random() * 0x10000));
  const mutate = (text: string): string => {
    const at = Math.floor(random() * (text.length + 1));
    switch (Math.floor(random() * 5)) {
      case 0:
        return text.slice(0, at) + randomChar() + text.slice(at);
      case 1:
        return text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 3));
      case 2:
        return text.slice(0, at) + pick(pieces) + text.slice(at);
      case 3:
        return text.slice(0, at);
      default:
        return text.slice(0, at) + randomChar() + text.slice(at + 1);
    }
  };
  const known = new Set([
    "join",
    "signal",
    "links",
    "ping",
    "leave",
    "knock",
    "lock",
    "lobby",
    "admit",
    "remove",
    "role",
    "mute",
    "end",
  ]);
  let accepted = 0;
  const codes = new Set<ErrorCode>();
  for (let i = 0; i < 20_000; i++) {
    let frame: string;
    if (random() < 0.15) {
      frame = Array.from({ length: Math.floor(random() * 40) }, randomChar).join("");
    } else {
      frame = pick(seeds);
      const rounds = 1 + Math.floor(random() * 4);
      for (let r = 0; r < rounds; r++) frame = mutate(frame);
    }
    let result: ParseResult;
    try {
      result = parseClientMessage(frame);
    } catch (error) {
      throw new Error(`threw on ${JSON.stringify(frame)}: ${error}`);
    }
    assert.equal(typeof result.ok, "boolean");
    if (result.ok) {
      accepted++;
      assert.ok(known.has(result.message.type));
      // Whatever was accepted survives re-encoding unchanged (normalization is idempotent).
      assert.deepEqual(parseClientMessage(clientMessage(result.message)), result);
    } else {
      assert.ok(ERROR_CODES.includes(result.code), result.code);
      codes.add(result.code);
      assert.notEqual(result.code, "internal", `internal error on ${JSON.stringify(frame)}`);
      assert.equal(typeof result.message, "string");
    }
  }
  // The mutations must exercise both outcomes, or the fuzz proves little.
  assert.ok(accepted > 200 && accepted < 19_000, `accepted ${accepted}`);
  for (const code of ["bad-json", "bad-message", "unknown-type"] as const) {
    assert.ok(codes.has(code), `never saw ${code}`);
  }
});
