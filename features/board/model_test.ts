import assert from "node:assert/strict";
import {
  type BoardElement,
  compareElements,
  decodeDeltas,
  elementBox,
  encodeDeltas,
  hitTest,
  insideBox,
  MAX_COORD,
  MAX_POINTS,
  MAX_TEXT,
  moveStored,
  newElementId,
  parseElement,
  QUANTUM,
  storeElement,
} from "./model.ts";

Deno.test("deltas: round trip, one byte for small steps, and nothing but whole varints accepted", () => {
  const values = [0, 1, -1, 63, -64, 64, 1000, -1000, 2 * MAX_COORD, -2 * MAX_COORD];
  assert.deepEqual(decodeDeltas(encodeDeltas(values), 100), values);
  assert.equal(encodeDeltas([5, -5, 63, -64]).length, 4);
  assert.equal(decodeDeltas(Uint8Array.of(0x80), 10), null, "cut off mid-varint");
  assert.equal(decodeDeltas(encodeDeltas([1, 2, 3]), 2), null, "more values than allowed");
  assert.equal(decodeDeltas(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), 10), null);
});

Deno.test("elements survive storing and reading, within a quarter pixel", () => {
  const points = [10.1, 20.2, 13.37, 22.9, 9, -4.6];
  const pen = parseElement(
    "pen1",
    storeElement({ kind: "pen", color: 5, size: 6, points, pressure: [0.2, 0.5, 1] }, 3),
  )!;
  assert.equal(pen.kind, "pen");
  assert.equal(pen.z, 3);
  assert.equal(pen.color, 5);
  assert.equal(pen.size, 6);
  pen.points.forEach((v, i) => assert.ok(Math.abs(v - points[i]) <= 0.5 / QUANTUM));
  assert.deepEqual(pen.pressure?.map((p) => Math.round(p * 10) / 10), [0.2, 0.5, 1]);

  const hl = parseElement(
    "hl1",
    storeElement({ kind: "highlighter", color: 3, size: 20, points, pressure: [1, 1, 1] }, 1),
  )!;
  assert.equal(hl.pressure, null, "a highlighter keeps no pressure");

  const rect = parseElement(
    "r1",
    storeElement({ kind: "rect", color: 0, size: 2, points: [50, 60, 10, 20] }, 1),
  )!;
  assert.deepEqual(rect.points, [10, 20, 50, 60], "corners normalized");
  const line = parseElement(
    "l1",
    storeElement({ kind: "line", color: 0, size: 2, points: [50, 60, 10, 20] }, 1),
  )!;
  assert.deepEqual(line.points, [50, 60, 10, 20], "a line keeps its direction");
  const text = parseElement(
    "t1",
    storeElement({ kind: "text", color: 1, size: 24, x: 5, y: 6, text: "hi\nthere" }, 1),
  )!;
  assert.equal(text.text, "hi\nthere");
  assert.equal(storeElement({ kind: "text", color: 1, size: 24, x: 5, y: 6, text: "  " }, 1), null);
  const long = storeElement({
    kind: "text",
    color: 1,
    size: 24,
    x: 0,
    y: 0,
    text: "x".repeat(5000),
  }, 1);
  assert.equal(long?.t?.length, MAX_TEXT);
});

Deno.test("a long stroke is cut at MAX_POINTS; sizes and coordinates are clamped", () => {
  const points = Array.from({ length: 2 * (MAX_POINTS + 50) }, (_, i) => i % 7);
  const stored = storeElement({ kind: "pen", color: 0, size: 999, points, pressure: null }, 1)!;
  const el = parseElement("a", stored)!;
  assert.equal(el.points.length, 2 * MAX_POINTS);
  assert.equal(el.size, 128);
  const far = parseElement(
    "b",
    storeElement({ kind: "line", color: 0, size: 1, points: [1e12, 0, -1e12, 0] }, 1),
  )!;
  assert.equal(far.points[0], MAX_COORD / QUANTUM);
});

Deno.test("moving changes the position only", () => {
  const stored = storeElement(
    { kind: "pen", color: 2, size: 4, points: [0, 0, 4, 4], pressure: null },
    7,
  )!;
  const moved = parseElement("m", moveStored(stored, 10.25, -3))!;
  assert.deepEqual(moved.points, [10.25, -3, 14.25, 1]);
  assert.equal(moved.z, 7);
});

Deno.test("parseElement refuses anything off, and never throws", () => {
  const good = storeElement({ kind: "text", color: 0, size: 10, x: 0, y: 0, text: "ok" }, 1)!;
  const bad: unknown[] = [
    null,
    1,
    "x",
    [],
    { ...good, k: "z" },
    { ...good, z: -1 },
    { ...good, z: 1.5 },
    { ...good, c: 8 },
    { ...good, s: 0 },
    { ...good, s: 129 },
    { ...good, x: MAX_COORD + 1 },
    { ...good, y: "0" },
    { ...good, t: "" },
    { ...good, t: 5 },
    { k: "p", z: 1, c: 0, s: 1, x: 0, y: 0, d: [1, 2] },
    { k: "p", z: 1, c: 0, s: 1, x: 0, y: 0, d: Uint8Array.of(2) }, // an odd number of values
    { k: "p", z: 1, c: 0, s: 1, x: 0, y: 0, d: Uint8Array.of(2, 2), q: Uint8Array.of(1) },
    { k: "h", z: 1, c: 0, s: 1, x: 0, y: 0, d: Uint8Array.of(), q: Uint8Array.of(1) },
    { k: "r", z: 1, c: 0, s: 1, x: 0, y: 0, e: [-1, 3] },
    { k: "l", z: 1, c: 0, s: 1, x: MAX_COORD, y: 0, e: [1, 3] },
    { k: "l", z: 1, c: 0, s: 1, x: 0, y: 0, e: [1] },
    Object.create({ k: "t" }),
  ];
  for (const value of bad) assert.equal(parseElement("a", value), null, JSON.stringify(value));
  assert.equal(parseElement("A-B", good), null, "ids are lowercase letters and digits");
  assert.ok(parseElement("a", good));
  // Random bytes never throw.
  for (let i = 0; i < 2000; i++) {
    const d = crypto.getRandomValues(new Uint8Array(i % 50));
    parseElement("a", { k: "p", z: 1, c: 0, s: 1, x: 0, y: 0, d });
  }
});

Deno.test("hit tests follow the drawn shape, not only its box", () => {
  const mk = (input: Parameters<typeof storeElement>[0]) =>
    parseElement(newElementId(), storeElement(input, 1))!;
  const rect = mk({ kind: "rect", color: 0, size: 2, points: [0, 0, 100, 50] });
  assert.ok(hitTest(rect, 50, 0, 2));
  assert.ok(hitTest(rect, 100, 25, 2));
  assert.ok(!hitTest(rect, 50, 25, 2), "inside a hollow rectangle is not on it");
  const ellipse = mk({ kind: "ellipse", color: 0, size: 2, points: [0, 0, 100, 50] });
  assert.ok(hitTest(ellipse, 50, 0, 2));
  assert.ok(hitTest(ellipse, 0, 25, 2));
  assert.ok(!hitTest(ellipse, 50, 25, 2));
  assert.ok(!hitTest(ellipse, 2, 2, 2), "the corner of its box is off the ellipse");
  const pen = mk({
    kind: "pen",
    color: 0,
    size: 4,
    points: [0, 0, 100, 0, 100, 100],
    pressure: null,
  });
  assert.ok(hitTest(pen, 50, 1, 1));
  assert.ok(hitTest(pen, 101, 50, 1));
  assert.ok(!hitTest(pen, 50, 50, 1));
  const text = mk({ kind: "text", color: 0, size: 20, x: 0, y: 0, text: "hello" });
  assert.ok(hitTest(text, 10, 10, 0));
  assert.ok(!hitTest(text, 10, 40, 0));
  const box = elementBox(pen);
  assert.deepEqual(box, { minX: -2, minY: -2, maxX: 102, maxY: 102 });
  assert.ok(insideBox(pen, { minX: -5, minY: -5, maxX: 105, maxY: 105 }));
  assert.ok(!insideBox(pen, { minX: 0, minY: -5, maxX: 105, maxY: 105 }));
});

Deno.test("stacking order is by z, then id: the same everywhere", () => {
  const el = (id: string, z: number) => ({ id, z }) as BoardElement;
  const sorted = [el("b", 2), el("c", 1), el("a", 2)].sort(compareElements).map((e) => e.id);
  assert.deepEqual(sorted, ["c", "a", "b"]);
  const ids = new Set(Array.from({ length: 1000 }, newElementId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[a-z0-9]{10}$/);
});
