import assert from "node:assert/strict";
import { DEFAULTS } from "./config.ts";
import {
  CONFIG_MINIMUMS,
  KV_LIMITS,
  MAX_CAPACITY,
  MAX_FRAME_BYTES,
  MAX_LINKS,
  MAX_PAYLOAD_BYTES,
  MAX_TOKEN_LENGTH,
} from "./limits.ts";
import { parseClientMessage } from "./parse_client_message.ts";
import { newToken } from "./tokens.ts";

Deno.test("every member of a full room can report all its links", () => {
  assert.equal(MAX_LINKS, MAX_CAPACITY - 1);
  // The largest report of the largest room fits in one frame.
  const links = Object.fromEntries(
    Array.from({ length: MAX_LINKS }, (_, i) => [`peer${String(i).padStart(12, "0")}`, "failed"]),
  );
  const frame = JSON.stringify({ type: "links", links });
  assert.ok(new TextEncoder().encode(frame).length <= MAX_FRAME_BYTES);
  assert.ok(parseClientMessage(frame).ok);
});

Deno.test("removing a member of the largest room fits in one KV atomic operation", () => {
  // Checks: the room's meta, the member and its beat (sweeps), every other member's links.
  assert.ok(3 + (MAX_CAPACITY - 1) <= KV_LIMITS.checks);
  // Mutations: meta, member, beat, links, and every other member's links.
  assert.ok(4 + (MAX_CAPACITY - 1) <= KV_LIMITS.mutations);
});

Deno.test("a forwarded signal fits a frame and one KV value; a token fits its limit", () => {
  assert.ok(2 * MAX_PAYLOAD_BYTES <= MAX_FRAME_BYTES);
  assert.ok(MAX_PAYLOAD_BYTES + 1024 < KV_LIMITS.valueBytes);
  assert.ok(newToken().text.length <= MAX_TOKEN_LENGTH);
});

Deno.test("the defaults are within the accepted ranges", () => {
  for (const [key, min] of Object.entries(CONFIG_MINIMUMS)) {
    const value = DEFAULTS[key as keyof typeof CONFIG_MINIMUMS];
    assert.ok(value >= min, `${key}: ${value} < ${min}`);
  }
  assert.ok(DEFAULTS.capacity <= MAX_CAPACITY);
});
