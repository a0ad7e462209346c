/**
 * The whiteboard's document model: what an element is, how it is stored in the shared document
 * (compact, so a stroke costs a few hundred bytes), and how anything read from it is checked.
 *
 * Every element is one value of the document's `el` map, keyed by its id, written once when it is
 * committed (pointer-up) and replaced whole when it moves. Peers may write anything into the
 * document, so nothing stored is trusted: `parseElement` turns a stored value into a fresh,
 * bounded `BoardElement` or null, and the board shows only what it accepts.
 *
 * Coordinates are board pixels (one CSS pixel at zoom 1), stored as whole quarter pixels.
 */

/** Quarter pixels per pixel in stored coordinates: precise enough when zoomed in 4×. */
export const QUANTUM = 4;
/** Largest stored coordinate (quanta), either sign: 2^28 quanta, 67 million pixels. */
export const MAX_COORD = 2 ** 28;
/** Points of one stroke; a longer stroke is cut there (the UI commits and starts a new one). */
export const MAX_POINTS = 4_000;
/** Characters of one text. */
export const MAX_TEXT = 2_000;
/** Stroke widths and font sizes, board pixels. */
export const MIN_SIZE = 1;
export const MAX_SIZE = 128;
/** Map keys: short lowercase ids. */
export const ID_PATTERN = /^[a-z0-9]{1,16}$/;

/** The colours people can choose, with names for screen readers. */
export const PALETTE = [
  { name: "Black", hex: "#111827" },
  { name: "Red", hex: "#dc2626" },
  { name: "Orange", hex: "#ea580c" },
  { name: "Yellow", hex: "#ca8a04" },
  { name: "Green", hex: "#16a34a" },
  { name: "Blue", hex: "#2563eb" },
  { name: "Purple", hex: "#9333ea" },
  { name: "Pink", hex: "#db2777" },
] as const;

/** What an element is. Stored as one letter (`KIND_CODE`). */
export type ElementKind = "pen" | "highlighter" | "line" | "rect" | "ellipse" | "text";

const KIND_CODE: Record<ElementKind, string> = {
  pen: "p",
  highlighter: "h",
  line: "l",
  rect: "r",
  ellipse: "e",
  text: "t",
};
const CODE_KIND = new Map(Object.entries(KIND_CODE).map(([k, c]) => [c, k as ElementKind]));

/** Kinds drawn as freehand strokes (points, maybe pressure). */
export function isStroke(kind: ElementKind): kind is "pen" | "highlighter" {
  return kind === "pen" || kind === "highlighter";
}

/** An element as the board shows it: checked, in board pixels. */
export interface BoardElement {
  id: string;
  kind: ElementKind;
  /** Stacking order: higher is drawn later; ties go by id. */
  z: number;
  /** Index into `PALETTE`. */
  color: number;
  /** Stroke width, or font size for text (board pixels). */
  size: number;
  /** Where it is: the first point of a stroke, a line's start, a shape's top left, text's top left. */
  x: number;
  y: number;
  /**
   * Strokes: flat [x0, y0, x1, y1, …] in board pixels (absolute). Line: [x0, y0, x1, y1].
   * Rectangle, ellipse: [left, top, right, bottom]. Text: empty.
   */
  points: number[];
  /** Strokes drawn with a pen: one pressure per point, 0..1; null without. */
  pressure: number[] | null;
  /** Text only. */
  text: string;
}

/** What the document stores for an element (a Yjs map value). */
export interface StoredElement {
  /** Kind code. */
  k: string;
  z: number;
  c: number;
  s: number;
  /** Origin, quanta. */
  x: number;
  y: number;
  /** Strokes: zigzag varint deltas from the origin, quanta. */
  d?: Uint8Array;
  /** Strokes drawn with a pen: one byte of pressure per point. */
  q?: Uint8Array;
  /** Line: end minus start; rectangle and ellipse: width and height (quanta). */
  e?: number[];
  /** Text. */
  t?: string;
}

const q = (px: number) => Math.round(px * QUANTUM);
const px = (quanta: number) => quanta / QUANTUM;
const inRange = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && Math.abs(v) <= MAX_COORD;

// ---- Points as bytes ----

/** Zigzag varints of whole numbers: small deltas in one byte each. */
export function encodeDeltas(values: readonly number[]): Uint8Array {
  const out: number[] = [];
  for (const v of values) {
    let z = v >= 0 ? v * 2 : -v * 2 - 1;
    while (z >= 0x80) {
      out.push((z % 0x80) | 0x80);
      z = Math.floor(z / 0x80);
    }
    out.push(z);
  }
  return Uint8Array.from(out);
}

/**
 * Reads zigzag varints; null for bytes that are not a whole number of them, more than `max`
 * values, or a value beyond `MAX_COORD` × 2 (no delta between two valid points is bigger).
 */
export function decodeDeltas(bytes: Uint8Array, max: number): number[] | null {
  const out: number[] = [];
  let value = 0;
  let scale = 1;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    value += (b & 0x7f) * scale;
    if (value > 4 * MAX_COORD) return null;
    if (b & 0x80) {
      scale *= 0x80;
      continue;
    }
    if (out.length >= max) return null;
    out.push(value % 2 === 0 ? value / 2 : -(value + 1) / 2);
    value = 0;
    scale = 1;
  }
  return scale === 1 ? out : null;
}

// ---- Making elements ----

/** What the UI gives to commit a stroke: board pixels. */
export interface StrokeInput {
  kind: "pen" | "highlighter";
  color: number;
  size: number;
  /** Flat [x0, y0, x1, y1, …]. */
  points: readonly number[];
  /** One per point, 0..1, or null (mouse, touch: pressure is simulated from speed). */
  pressure: readonly number[] | null;
}

export interface ShapeInput {
  kind: "line" | "rect" | "ellipse";
  color: number;
  size: number;
  /** Start and end of the drag: [x0, y0, x1, y1]. */
  points: readonly [number, number, number, number];
}

export interface TextInput {
  kind: "text";
  color: number;
  size: number;
  x: number;
  y: number;
  text: string;
}

export type ElementInput = StrokeInput | ShapeInput | TextInput;

/** The stored form of a new element, or null when it has nothing to show (an empty text). */
export function storeElement(input: ElementInput, z: number): StoredElement | null {
  const base = { k: KIND_CODE[input.kind], z, c: input.color, s: clampSize(input.size) };
  if (input.kind === "text") {
    const text = input.text.slice(0, MAX_TEXT);
    if (!text.trim()) return null;
    return { ...base, x: clampCoord(q(input.x)), y: clampCoord(q(input.y)), t: text };
  }
  if (input.kind === "pen" || input.kind === "highlighter") {
    const n = Math.min(Math.floor(input.points.length / 2), MAX_POINTS);
    if (n === 0) return null;
    const x = clampCoord(q(input.points[0]));
    const y = clampCoord(q(input.points[1]));
    const deltas: number[] = [];
    let lx = x, ly = y;
    for (let i = 1; i < n; i++) {
      const nx = clampCoord(q(input.points[2 * i]));
      const ny = clampCoord(q(input.points[2 * i + 1]));
      deltas.push(nx - lx, ny - ly);
      lx = nx;
      ly = ny;
    }
    const stored: StoredElement = { ...base, x, y, d: encodeDeltas(deltas) };
    if (input.pressure && input.kind === "pen") {
      stored.q = Uint8Array.from(
        input.pressure.slice(0, n),
        (p) => Math.round(Math.min(1, Math.max(0, p)) * 255),
      );
    }
    return stored;
  }
  const [x0, y0, x1, y1] = input.points.map((v) => clampCoord(q(v)));
  if (input.kind === "line") return { ...base, x: x0, y: y0, e: [x1 - x0, y1 - y0] };
  return {
    ...base,
    x: Math.min(x0, x1),
    y: Math.min(y0, y1),
    e: [Math.abs(x1 - x0), Math.abs(y1 - y0)],
  };
}

/** The stored element moved by (dx, dy) board pixels; everything else as it was. */
export function moveStored(stored: StoredElement, dx: number, dy: number): StoredElement {
  return { ...stored, x: clampCoord(stored.x + q(dx)), y: clampCoord(stored.y + q(dy)) };
}

function clampCoord(v: number): number {
  return Math.max(-MAX_COORD, Math.min(MAX_COORD, v));
}

function clampSize(v: number): number {
  return Math.max(MIN_SIZE, Math.min(MAX_SIZE, Math.round(v)));
}

// ---- Reading what peers wrote ----

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Turns a value of the document's `el` map into an element, or null when anything about it is
 * off: unknown kind, a field of the wrong type or out of range, too many points or characters,
 * points that do not decode. Never throws; builds fresh values from what it checked.
 */
export function parseElement(id: string, value: unknown): BoardElement | null {
  if (!ID_PATTERN.test(id) || !isPlainObject(value)) return null;
  const { k, z, c, s, x, y } = value;
  const kind = typeof k === "string" ? CODE_KIND.get(k) : undefined;
  if (!kind) return null;
  if (typeof z !== "number" || !Number.isSafeInteger(z) || z < 0) return null;
  if (typeof c !== "number" || !Number.isInteger(c) || c < 0 || c >= PALETTE.length) return null;
  if (typeof s !== "number" || !Number.isInteger(s) || s < MIN_SIZE || s > MAX_SIZE) return null;
  if (!inRange(x) || !inRange(y)) return null;
  const element: BoardElement = {
    id,
    kind,
    z,
    color: c,
    size: s,
    x: px(x),
    y: px(y),
    points: [],
    pressure: null,
    text: "",
  };
  if (kind === "text") {
    const t = value.t;
    if (typeof t !== "string" || t.length === 0 || t.length > MAX_TEXT) return null;
    element.text = t;
    return element;
  }
  if (isStroke(kind)) {
    const d = value.d;
    if (!(d instanceof Uint8Array) || d.length > MAX_POINTS * 2 * 5) return null;
    const deltas = decodeDeltas(d, 2 * (MAX_POINTS - 1));
    if (!deltas || deltas.length % 2 !== 0) return null;
    const points = [px(x), px(y)];
    let cx = x, cy = y;
    for (let i = 0; i < deltas.length; i += 2) {
      cx += deltas[i];
      cy += deltas[i + 1];
      if (!inRange(cx) || !inRange(cy)) return null;
      points.push(px(cx), px(cy));
    }
    element.points = points;
    const pq = value.q;
    if (pq !== undefined) {
      if (kind !== "pen" || !(pq instanceof Uint8Array) || pq.length !== points.length / 2) {
        return null;
      }
      element.pressure = Array.from(pq, (b) => b / 255);
    }
    return element;
  }
  const e = value.e;
  const span = (v: unknown): v is number =>
    typeof v === "number" && Number.isInteger(v) && Math.abs(v) <= 2 * MAX_COORD;
  if (!Array.isArray(e) || e.length !== 2 || !span(e[0]) || !span(e[1])) return null;
  const [ex, ey] = e as [number, number];
  if (kind !== "line" && (ex < 0 || ey < 0)) return null;
  if (!inRange(x + ex) || !inRange(y + ey)) return null;
  element.points = [px(x), px(y), px(x + ex), px(y + ey)];
  return element;
}

/** Stacking order: by `z`, ties by id, the same on every peer. */
export function compareElements(a: BoardElement, b: BoardElement): number {
  return a.z - b.z || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A fresh element id: 10 random base-36 characters. */
export function newElementId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return Array.from(bytes, (b) => "0123456789abcdefghijklmnopqrstuvwxyz"[b % 36]).join("");
}

// ---- Geometry ----

/** An axis-aligned box in board pixels. */
export interface Box {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** Line height of text, in font sizes. */
export const LINE_HEIGHT = 1.25;
/** Average glyph width of the board's sans-serif font, in font sizes (for boxes, not layout). */
const GLYPH_WIDTH = 0.6;

/** The box an element covers, its stroke width included. */
export function elementBox(el: BoardElement): Box {
  if (el.kind === "text") {
    const lines = el.text.split("\n");
    const width = Math.max(...lines.map((l) => l.length)) * GLYPH_WIDTH * el.size;
    return {
      minX: el.x,
      minY: el.y,
      maxX: el.x + width,
      maxY: el.y + lines.length * LINE_HEIGHT * el.size,
    };
  }
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < el.points.length; i += 2) {
    minX = Math.min(minX, el.points[i]);
    maxX = Math.max(maxX, el.points[i]);
    minY = Math.min(minY, el.points[i + 1]);
    maxY = Math.max(maxY, el.points[i + 1]);
  }
  const pad = el.size / 2;
  return { minX: minX - pad, minY: minY - pad, maxX: maxX + pad, maxY: maxY + pad };
}

/** The box around all `boxes`, or null for none. */
export function unionBox(boxes: Iterable<Box>): Box | null {
  let out: Box | null = null;
  for (const b of boxes) {
    out = out
      ? {
        minX: Math.min(out.minX, b.minX),
        minY: Math.min(out.minY, b.minY),
        maxX: Math.max(out.maxX, b.maxX),
        maxY: Math.max(out.maxY, b.maxY),
      }
      : { ...b };
  }
  return out;
}

export function boxesOverlap(a: Box, b: Box): boolean {
  return a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY;
}

/** Distance from (px, py) to the segment (ax, ay)–(bx, by). */
export function segmentDistance(
  px: number,
  py: number,
  ax: number,
  ay: number,
  bx: number,
  by: number,
): number {
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/**
 * Whether (x, y) touches the element within `tolerance` board pixels: on a stroke or a line, on a
 * shape's outline, inside a text's box.
 */
export function hitTest(el: BoardElement, x: number, y: number, tolerance: number): boolean {
  const box = elementBox(el);
  if (
    x < box.minX - tolerance || x > box.maxX + tolerance || y < box.minY - tolerance ||
    y > box.maxY + tolerance
  ) return false;
  const reach = el.size / 2 + tolerance;
  const p = el.points;
  switch (el.kind) {
    case "text":
      return true;
    case "pen":
    case "highlighter":
    case "line": {
      if (p.length === 2) return Math.hypot(x - p[0], y - p[1]) <= reach;
      for (let i = 2; i < p.length; i += 2) {
        if (segmentDistance(x, y, p[i - 2], p[i - 1], p[i], p[i + 1]) <= reach) return true;
      }
      return false;
    }
    case "rect": {
      const [l, t, r, b] = p;
      return segmentDistance(x, y, l, t, r, t) <= reach ||
        segmentDistance(x, y, r, t, r, b) <= reach ||
        segmentDistance(x, y, r, b, l, b) <= reach ||
        segmentDistance(x, y, l, b, l, t) <= reach;
    }
    case "ellipse": {
      const [l, t, r, b] = p;
      const rx = (r - l) / 2, ry = (b - t) / 2;
      const cx = l + rx, cy = t + ry;
      if (rx < 1 || ry < 1) return segmentDistance(x, y, l, t, r, b) <= reach;
      const k = Math.hypot((x - cx) / rx, (y - cy) / ry);
      return Math.abs(k - 1) * Math.min(rx, ry) <= reach;
    }
  }
}

/** Whether the element's box lies entirely inside `box` (a selection rectangle). */
export function insideBox(el: BoardElement, box: Box): boolean {
  const b = elementBox(el);
  return b.minX >= box.minX && b.maxX <= box.maxX && b.minY >= box.minY && b.maxY <= box.maxY;
}
