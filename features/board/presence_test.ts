import assert from "node:assert/strict";
import {
  type Draft,
  mergePresence,
  parsePresence,
  POINTS_PER_FRAME,
  type Presence,
  presenceMessage,
  sentAfter,
} from "./presence.ts";

const draft = (n: number): Draft => ({
  id: "d1",
  kind: "pen",
  color: 1,
  size: 4,
  points: Array.from({ length: 2 * n }, (_, i) => i / 3),
  pressure: Array.from({ length: n }, () => 0.5),
});

Deno.test("a stroke being drawn arrives whole through frames of its new points", () => {
  let sent = 0;
  let seen: Presence | null = null;
  const local: Presence = { cursor: [1, 2], draft: draft(2500) };
  while (sent < 2500) {
    const message = parsePresence(JSON.parse(JSON.stringify(presenceMessage(local, sent))))!;
    assert.ok(message.d!.p.length <= 2 * POINTS_PER_FRAME);
    seen = mergePresence(seen, message);
    sent = sentAfter(local, sent);
  }
  assert.equal(seen!.draft!.points.length, 5000);
  assert.equal(seen!.draft!.pressure!.length, 2500);
  assert.equal(seen!.draft!.points[4999], Math.round(4999 / 3 * 10) / 10);
});

Deno.test("a frame that does not continue the stroke is ignored; a new stroke starts clean", () => {
  const start = parsePresence({ c: null, d: { id: "a", k: "pen", c: 0, s: 2, i: 0, p: [0, 0] } })!;
  const gap = parsePresence({ c: null, d: { id: "a", k: "pen", c: 0, s: 2, i: 5, p: [9, 9] } })!;
  const seen = mergePresence(null, start);
  assert.deepEqual(mergePresence(seen, gap).draft!.points, [0, 0]);
  assert.equal(mergePresence(null, gap).draft, null);
  const next = parsePresence({
    c: [1, 1],
    d: { id: "b", k: "rect", c: 0, s: 2, i: 0, p: [0, 0, 5, 5] },
  })!;
  assert.deepEqual(mergePresence(seen, next).draft!.points, [0, 0, 5, 5]);
});

Deno.test("parsePresence checks every field", () => {
  const ok = { c: [1, 2], d: { id: "a", k: "pen", c: 0, s: 2, i: 0, p: [0, 0], q: [0.5] } };
  assert.ok(parsePresence(ok));
  for (
    const bad of [
      { ...ok, c: [1, Infinity] },
      { ...ok, c: "x" },
      { ...ok, d: { ...ok.d, id: "A" } },
      { ...ok, d: { ...ok.d, k: "text" } },
      { ...ok, d: { ...ok.d, c: 8 } },
      { ...ok, d: { ...ok.d, s: 0 } },
      { ...ok, d: { ...ok.d, i: -1 } },
      { ...ok, d: { ...ok.d, p: [0] } },
      { ...ok, d: { ...ok.d, q: [2] } },
      { ...ok, d: { ...ok.d, q: [0.5, 0.5] } },
      { ...ok, d: { ...ok.d, k: "line", p: [0, 0] } },
      { ...ok, d: [] },
    ]
  ) assert.equal(parsePresence(bad), null, JSON.stringify(bad));
});
