/**
 * The meeting key and link: fresh keys are 128 random bits in 22 characters; a fragment is a key
 * only in its exact form; a pasted link gives its room and key, or the reason it does not (no
 * key, a bare room id, a damaged key, another server, not a link), and never throws on input.
 */
import assert from "node:assert/strict";
import { newRoomId } from "../signaling/room_id.ts";
import {
  MEETING_KEY_BYTES,
  MEETING_KEY_LENGTH,
  meetingLink,
  newMeetingKey,
  parseMeetingKey,
  parseMeetingLink,
} from "./meeting_key.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const ORIGIN = "https://meet.example.com";
/** A fixed key: 16 bytes 0x00..0x0f. */
const KEY = "AAECAwQFBgcICQoLDA0ODw";
const KEY_BYTES = new Uint8Array([...Array(16).keys()]);

Deno.test("newMeetingKey: 22 base64url characters of 16 random bytes, never repeating", () => {
  assert.equal(MEETING_KEY_BYTES, 16);
  assert.equal(MEETING_KEY_LENGTH, 22);
  const keys = new Set<string>();
  const seen = new Uint8Array(16);
  for (let i = 0; i < 1000; i++) {
    const key = newMeetingKey();
    assert.match(key, /^[A-Za-z0-9_-]{22}$/);
    const parsed = parseMeetingKey(key);
    assert.ok(parsed.ok, key);
    assert.equal(parsed.bytes.length, 16);
    for (let j = 0; j < 16; j++) seen[j] |= parsed.bytes[j];
    keys.add(key);
  }
  assert.equal(keys.size, 1000);
  // Every byte position takes all bit values across 1000 keys: no constant or masked byte.
  assert.deepEqual([...seen], Array(16).fill(255));
});

Deno.test("parseMeetingKey: with or without #, gives the key and its bytes", () => {
  for (const fragment of [KEY, `#${KEY}`]) {
    const parsed = parseMeetingKey(fragment);
    assert.ok(parsed.ok);
    assert.equal(parsed.key, KEY);
    assert.deepEqual(parsed.bytes, KEY_BYTES);
  }
});

Deno.test("parseMeetingKey: empty is missing", () => {
  assert.deepEqual(parseMeetingKey(""), { ok: false, reason: "missing" });
  assert.deepEqual(parseMeetingKey("#"), { ok: false, reason: "missing" });
});

Deno.test("parseMeetingKey: anything but the exact form is malformed", () => {
  const malformed = [
    KEY.slice(0, 21), // cut short, as a chat app may cut a link
    KEY.slice(0, 11),
    `${KEY}A`, // one too many
    `${KEY}==`, // padded
    `##${KEY}`,
    ` ${KEY}`,
    `${KEY} `,
    KEY.replace("A", "+"), // standard base64
    KEY.replace("A", "/"),
    KEY.replace("A", "%"),
    KEY.replace("A", "é"),
    "AAECAwQFBgcICQoLDA0ODx", // 16 bytes, but the unused low bits set: a second spelling
    `${KEY}&x=1`,
    "A".repeat(10_000),
  ];
  for (const fragment of malformed) {
    assert.deepEqual(parseMeetingKey(fragment), { ok: false, reason: "malformed" }, fragment);
  }
  for (const value of [null, undefined, 42, {}, [KEY]]) {
    assert.deepEqual(parseMeetingKey(value as unknown as string), {
      ok: false,
      reason: "malformed",
    });
  }
});

Deno.test("meetingLink writes origin/room#key, and parseMeetingLink reads it back", () => {
  const room = newRoomId();
  const key = newMeetingKey();
  for (const origin of [ORIGIN, `${ORIGIN}/`, "http://localhost:8000"]) {
    const link = meetingLink(origin, room, key);
    assert.equal(link, `${origin.replace(/\/$/, "")}/${room}#${key}`);
    const parsed = parseMeetingLink(link, origin);
    assert.ok(parsed.ok, link);
    assert.equal(parsed.room, room);
    assert.equal(parsed.key, key);
    const direct = parseMeetingKey(key);
    assert.ok(direct.ok);
    assert.deepEqual(parsed.bytes, direct.bytes);
    assert.equal(new URL(link).hash, `#${key}`, "the key is in the fragment, never sent");
    assert.equal(new URL(link).pathname, `/${room}`);
  }
});

Deno.test("meetingLink throws, saying what to pass, for a bad origin, room or key", () => {
  const bad: [string, string, string, RegExp][] = [
    ["meet.example.com", ROOM, KEY, /not an origin/],
    [`${ORIGIN}/rooms`, ROOM, KEY, /not an origin/],
    [`${ORIGIN}?x`, ROOM, KEY, /not an origin/],
    ["ftp://meet.example.com", ROOM, KEY, /not an origin/],
    [ORIGIN, "K3FQ-9XMP-2HDW-7RTC-A4ZE", KEY, /not a room id/],
    [ORIGIN, "../admin", KEY, /not a room id/],
    [ORIGIN, ROOM, KEY.slice(1), /newMeetingKey/],
    [ORIGIN, ROOM, `#${KEY}`.slice(0, 5), /newMeetingKey/],
  ];
  for (const [origin, room, key, message] of bad) {
    assert.throws(() => meetingLink(origin, room, key), { name: "TypeError", message });
  }
});

Deno.test("parseMeetingLink: the forms a person pastes", () => {
  const forms = [
    `${ORIGIN}/${ROOM}#${KEY}`,
    `${ORIGIN}/${ROOM}/#${KEY}`,
    `${ORIGIN}/${ROOM}?utm_source=chat#${KEY}`,
    `${ORIGIN}/${ROOM.toUpperCase()}#${KEY}`, // retyped in capitals: the room id is case-free
    `${ORIGIN}/${ROOM.replaceAll("-", "")}#${KEY}`,
    `  ${ORIGIN}/${ROOM}#${KEY}\n`,
    `<${ORIGIN}/${ROOM}#${KEY}>`,
    `"${ORIGIN}/${ROOM}#${KEY}"`,
    `(${ORIGIN}/${ROOM}#${KEY})`,
    `${ORIGIN}/${ROOM}#${KEY}.`, // end of a sentence
    `${ORIGIN}/${ROOM}#${KEY}),`,
    `meet.example.com/${ROOM}#${KEY}`, // no scheme
    `/${ROOM}#${KEY}`,
    `${ROOM}#${KEY}`,
  ];
  for (const text of forms) {
    const parsed = parseMeetingLink(text, ORIGIN);
    assert.ok(parsed.ok, `${text}: ${JSON.stringify(parsed)}`);
    assert.equal(parsed.room, ROOM);
    assert.equal(parsed.key, KEY);
    assert.deepEqual(parsed.bytes, KEY_BYTES);
  }
  // Without an expected origin, any server's link is read.
  const other = parseMeetingLink(`https://other.example/${ROOM}#${KEY}`);
  assert.ok(other.ok);
});

Deno.test("parseMeetingLink: a key is case-sensitive, so it is never case-folded", () => {
  const key = "AbCdEfGhIjKlMnOpQrStUg";
  const parsed = parseMeetingLink(`${ORIGIN}/${ROOM.toUpperCase()}#${key}`, ORIGIN);
  assert.ok(parsed.ok);
  assert.equal(parsed.key, key);
  // A key typed in other case is another key (or none): it must not open the meeting.
  const lower = parseMeetingLink(`${ORIGIN}/${ROOM}#${key.toLowerCase()}`, ORIGIN);
  assert.ok(!lower.ok || lower.key !== key);
});

Deno.test("parseMeetingLink: a bare room id is bare-room, with the room", () => {
  for (const text of [ROOM, ROOM.toUpperCase(), ROOM.replaceAll("-", " "), ` ${ROOM} `]) {
    assert.deepEqual(parseMeetingLink(text, ORIGIN), {
      ok: false,
      reason: "bare-room",
      room: ROOM,
    });
  }
});

Deno.test("parseMeetingLink: a link without its key is no-key, with the room", () => {
  for (
    const text of [
      `${ORIGIN}/${ROOM}`,
      `${ORIGIN}/${ROOM}#`,
      `${ORIGIN}/${ROOM}/`,
      `meet.example.com/${ROOM}`,
      `/${ROOM}`,
      `${ROOM}#`,
    ]
  ) {
    assert.deepEqual(parseMeetingLink(text, ORIGIN), { ok: false, reason: "no-key", room: ROOM });
  }
});

Deno.test("parseMeetingLink: a damaged or cut key is bad-key, with the room", () => {
  for (
    const key of [KEY.slice(0, 21), KEY.slice(0, 3), `${KEY}x`, `${KEY}=`, KEY.replace("A", "+")]
  ) {
    assert.deepEqual(parseMeetingLink(`${ORIGIN}/${ROOM}#${key}`, ORIGIN), {
      ok: false,
      reason: "bad-key",
      room: ROOM,
    }, key);
  }
});

Deno.test("parseMeetingLink: another server's link is other-origin, with the room", () => {
  const texts = [
    `https://evil.example/${ROOM}#${KEY}`,
    `http://meet.example.com/${ROOM}#${KEY}`, // another scheme is another origin
    `https://meet.example.com:8443/${ROOM}#${KEY}`,
    `evil.example/${ROOM}#${KEY}`,
  ];
  for (const text of texts) {
    assert.deepEqual(parseMeetingLink(text, ORIGIN), {
      ok: false,
      reason: "other-origin",
      room: ROOM,
    }, text);
  }
});

Deno.test("parseMeetingLink: anything else is malformed, and nothing throws", () => {
  const texts = [
    "",
    "   ",
    "hello",
    "#",
    `#${KEY}`,
    `${ORIGIN}/#${KEY}`,
    `${ORIGIN}/api/rooms/${ROOM}/ws#${KEY}`,
    `${ORIGIN}/${ROOM}/extra#${KEY}`,
    `${ORIGIN}/${ROOM.slice(0, -1)}#${KEY}`,
    `${ORIGIN}/${ROOM}%2Fx#${KEY}`,
    `${ORIGIN}/%E0%A4%A#${KEY}`, // a broken escape
    `https://[::1/${ROOM}#${KEY}`,
    `javascript:alert(1)//${ROOM}#${KEY}`,
    `${ROOM}${ROOM}#${KEY}`,
    `${ORIGIN}/${ROOM}#${KEY}`.padEnd(2049, "x"),
    "\u0000",
  ];
  for (const text of texts) {
    assert.deepEqual(parseMeetingLink(text, ORIGIN), { ok: false, reason: "malformed" }, text);
  }
  for (const value of [null, undefined, 42, {}]) {
    assert.deepEqual(parseMeetingLink(value as unknown as string, ORIGIN), {
      ok: false,
      reason: "malformed",
    });
  }
});

Deno.test("parseMeetingLink: a bad expectedOrigin is the caller's mistake and throws", () => {
  assert.throws(() => parseMeetingLink(ROOM, "meet.example.com"), {
    name: "TypeError",
    message: /location\.origin/,
  });
});
