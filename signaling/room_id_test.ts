import assert from "node:assert/strict";
import { isRoomId, newRoomId, parseRoomInput, ROOM_ID_ALPHABET, ROOM_ID_BITS } from "./room_id.ts";

const ID = "k3fq-9xmp-2hdw-7rtc-a4ze";
const SHAPE = new RegExp(`^[${ROOM_ID_ALPHABET}]{4}(?:-[${ROOM_ID_ALPHABET}]{4}){4}$`);

function manyIds(count: number): string[] {
  return Array.from({ length: count }, newRoomId);
}

Deno.test("alphabet: 32 distinct lowercase characters without i, l, o, u", () => {
  assert.equal(ROOM_ID_ALPHABET.length, 32);
  assert.equal(new Set(ROOM_ID_ALPHABET).size, 32);
  assert.match(ROOM_ID_ALPHABET, /^[0-9a-z]+$/);
  for (const c of "ilou") assert.ok(!ROOM_ID_ALPHABET.includes(c), c);
});

Deno.test("ids carry at least 96 bits of randomness", () => {
  assert.ok(ROOM_ID_BITS >= 96, `${ROOM_ID_BITS}`);
  const chars = newRoomId().replaceAll("-", "").length;
  assert.equal(chars * Math.log2(ROOM_ID_ALPHABET.length), ROOM_ID_BITS);
});

Deno.test("newRoomId: five dash-separated groups of four alphabet characters", () => {
  for (const id of manyIds(1000)) {
    assert.match(id, SHAPE);
    assert.ok(isRoomId(id), id);
    assert.equal(parseRoomInput(id), id);
  }
});

Deno.test("newRoomId: 10,000 ids are all different", () => {
  assert.equal(new Set(manyIds(10_000)).size, 10_000);
});

Deno.test("newRoomId: characters are roughly uniform (chi-square)", () => {
  const counts = new Map<string, number>([...ROOM_ID_ALPHABET].map((c) => [c, 0]));
  let total = 0;
  for (const id of manyIds(10_000)) {
    for (const c of id.replaceAll("-", "")) {
      counts.set(c, counts.get(c)! + 1);
      total++;
    }
  }
  assert.equal(counts.size, 32, "no character outside the alphabet");
  const expected = total / 32;
  let chi2 = 0;
  for (const n of counts.values()) chi2 += (n - expected) ** 2 / expected;
  // 31 degrees of freedom: mean 31, and P(chi2 > 100) is below 1e-8. A character that is
  // twice as likely as another gives thousands.
  assert.ok(chi2 < 100, `chi-square ${chi2.toFixed(1)} over ${total} characters`);
});

Deno.test("isRoomId: only the canonical form", () => {
  assert.ok(isRoomId(ID));
  const rejected = [
    "",
    ID.toUpperCase(),
    "K3fq-9xmp-2hdw-7rtc-a4ze",
    ID.replaceAll("-", ""),
    ID.replaceAll("-", "_"),
    ` ${ID}`,
    `${ID}\n`,
    `${ID}-abcd`,
    ID.slice(0, -1),
    "k3fq-9xmp-2hdw-7rtc-a4zea",
    "k3fq-9xmp-2hdw-7rtca4ze-",
    "k3fq-9xmp-2hdw-7rtc-a4zi", // i, l, o and u are not in the alphabet
    "k3fq-9xmp-2hdw-7rtc-a4zl",
    "k3fq-9xmp-2hdw-7rtc-a4zo",
    "k3fq-9xmp-2hdw-7rtc-a4zu",
    "k3fq-9xmp-2hdw-7rtc-a4z!",
    "k3fq-9xmp-2hdw-7rtc-a4zé",
  ];
  for (const id of rejected) assert.equal(isRoomId(id), false, JSON.stringify(id));
});

Deno.test("parseRoomInput: full meeting links", () => {
  const links = [
    `https://meet.example/${ID}`,
    `http://localhost:8000/${ID}`,
    `https://meet.example/${ID}/`,
    `https://meet.example/${ID}?utm_source=mail`,
    `https://meet.example/${ID}#chat`,
    `https://meet.example/${ID}/?a=1#b`,
    `HTTPS://MEET.EXAMPLE/${ID.toUpperCase()}`,
    `  https://meet.example/${ID}  `,
    `meet.example/${ID}`,
    `/${ID}`,
  ];
  for (const link of links) assert.equal(parseRoomInput(link), ID, link);
});

Deno.test("parseRoomInput: bare ids in any case, with or without dashes and spaces", () => {
  const inputs = [
    ID,
    ID.toUpperCase(),
    "K3fQ-9XmP-2hdw-7RTC-a4ze",
    ID.replaceAll("-", ""),
    ID.replaceAll("-", " "),
    `  ${ID}\n`,
    "k3fq9xmp 2hdw-7rtc\ta4ze",
    ID.split("").join(" ".repeat(80)), // spaced out, still under the length limit
  ];
  for (const input of inputs) assert.equal(parseRoomInput(input), ID, JSON.stringify(input));
});

Deno.test("parseRoomInput: garbage, wrong lengths and overlong input are rejected", () => {
  const rejected = [
    "",
    "   ",
    "garbage",
    "hello world",
    "https://meet.example/",
    "https://meet.example/not-a-room",
    `https://meet.example/?room=${ID}`,
    `https://meet.example/%E0%A4%A`,
    ID.slice(0, -1),
    `${ID}x`,
    ID.replaceAll("-", "").slice(0, 19),
    "k3fq-9xmp-2hdw-7rtc-a4zu",
    "javascript:alert(1)",
    `https://meet.example/${"a".repeat(2100)}/${ID}`,
    // Would read as the id once the spaces are dropped, but is over 2048 characters.
    ID.split("").join(" ".repeat(110)),
  ];
  for (const input of rejected) {
    assert.equal(parseRoomInput(input), null, JSON.stringify(input.slice(0, 80)));
  }
});
