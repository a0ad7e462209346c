/**
 * What pointers, the wheel and keys do on the board, with no DOM: the view (BoardView.tsx) turns
 * events into `PointerInput`s in canvas pixels and draws what the signals here hold. Mouse, pen
 * and touch all work: one finger or a pen draws with the tool, two fingers pan and zoom, a pen
 * that was used in the last second makes touches (a palm) do nothing.
 */
import { batch, type Signal, signal } from "@preact/signals-core";
import type { BoardEngine } from "./engine.ts";
import { type Box, hitTest, insideBox, MAX_POINTS, newElementId } from "./model.ts";
import type { Draft, DraftKind } from "./presence.ts";

export type Tool =
  | "select"
  | "hand"
  | "pen"
  | "highlighter"
  | "line"
  | "rect"
  | "ellipse"
  | "text"
  | "eraser";

/** The part of the board shown: board point (x, y) at the canvas's top left, and the zoom. */
export interface View {
  x: number;
  y: number;
  zoom: number;
}

/** A pointer event in canvas pixels. */
export interface PointerInput {
  id: number;
  type: "mouse" | "pen" | "touch";
  /** Canvas pixels from the top left. */
  sx: number;
  sy: number;
  /** 0..1; pens report it, mice report 0.5 while pressed. */
  pressure: number;
  /** 0 main, 1 middle, 2 secondary. */
  button: number;
  shift: boolean;
}

/** The sizes people choose from: stroke width (pen), font size (text), board pixels. */
export const SIZES = [
  { label: "Small", stroke: 2, text: 16 },
  { label: "Medium", stroke: 4, text: 24 },
  { label: "Large", stroke: 8, text: 36 },
  { label: "Extra large", stroke: 16, text: 56 },
] as const;
/** A highlighter is this many times as wide as a pen of the same size. */
export const HIGHLIGHTER_WIDTH = 4;

export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 8;
/** How close to an element counts as on it, canvas pixels. */
const HIT_PX = 6;
/** A pen used this recently turns touches off (palm rejection), ms. */
const PALM_MS = 1_000;

/** Settings that outlive the open board: tool, colour, size, view. */
export interface BoardSettings {
  tool: Signal<Tool>;
  color: Signal<number>;
  size: Signal<number>;
  view: Signal<View>;
}

/** Text being typed: where (board pixels), how big, what colour. */
export interface TextEdit {
  x: number;
  y: number;
  size: number;
  color: number;
}

type Gesture =
  | { kind: "draw"; id: number }
  | { kind: "erase"; id: number; last: [number, number] }
  | { kind: "move"; id: number; from: [number, number] }
  | { kind: "marquee"; id: number; from: [number, number]; add: boolean }
  | { kind: "pan"; id: number; from: [number, number]; view: View }
  | {
    kind: "pinch";
    ids: [number, number];
    start: { dist: number; mid: [number, number]; view: View };
  };

export class Interaction {
  /** Our stroke or shape being drawn. */
  readonly draft = signal<Draft | null>(null);
  readonly selection = signal<ReadonlySet<string>>(new Set());
  /** The selection rectangle being dragged, board pixels. */
  readonly marquee = signal<Box | null>(null);
  /** How far the selection is being dragged, board pixels. */
  readonly moving = signal<[number, number] | null>(null);
  /** Elements the eraser has touched in this gesture (gone on pointer-up). */
  readonly erasing = signal<ReadonlySet<string>>(new Set());
  /** Text being typed, if any. */
  readonly editing = signal<TextEdit | null>(null);

  readonly #engine: BoardEngine;
  readonly #s: BoardSettings;
  #gesture: Gesture | null = null;
  readonly #pointers = new Map<number, { sx: number; sy: number; type: string }>();
  #penAt = -Infinity;
  #cursor: [number, number] | null = null;
  readonly #now: () => number;

  constructor(engine: BoardEngine, settings: BoardSettings, now: () => number = Date.now) {
    this.#engine = engine;
    this.#s = settings;
    this.#now = now;
  }

  /** Canvas pixels to board pixels. */
  toBoard(sx: number, sy: number): [number, number] {
    const v = this.#s.view.peek();
    return [v.x + sx / v.zoom, v.y + sy / v.zoom];
  }

  /** Board pixels to canvas pixels. */
  toScreen(x: number, y: number): [number, number] {
    const v = this.#s.view.peek();
    return [(x - v.x) * v.zoom, (y - v.y) * v.zoom];
  }

  // ---- Pointers ----

  down(p: PointerInput): void {
    if (p.type === "pen") this.#penAt = this.#now();
    if (p.type === "touch" && this.#now() - this.#penAt < PALM_MS) return;
    this.#pointers.set(p.id, { sx: p.sx, sy: p.sy, type: p.type });
    const touches = [...this.#pointers].filter(([, q]) => q.type === "touch");
    if (p.type === "touch" && touches.length === 2) {
      // A second finger: whatever the first began is off, the two pan and zoom.
      this.#abandon();
      const [[a, pa], [b, pb]] = touches;
      this.#gesture = {
        kind: "pinch",
        ids: [a, b],
        start: {
          dist: Math.max(1, Math.hypot(pa.sx - pb.sx, pa.sy - pb.sy)),
          mid: [(pa.sx + pb.sx) / 2, (pa.sy + pb.sy) / 2],
          view: this.#s.view.peek(),
        },
      };
      return;
    }
    if (this.#gesture) return;
    const [x, y] = this.toBoard(p.sx, p.sy);
    this.#cursor = [x, y];
    const tool = this.#s.tool.peek();
    if (p.button === 1 || tool === "hand" || p.button === 2) {
      this.#gesture = { kind: "pan", id: p.id, from: [p.sx, p.sy], view: this.#s.view.peek() };
      return;
    }
    if (this.editing.peek()) return; // the text field keeps focus; a click elsewhere commits it
    switch (tool) {
      case "pen":
      case "highlighter":
      case "line":
      case "rect":
      case "ellipse":
        this.#startDraft(tool, x, y, p);
        break;
      case "eraser":
        this.#gesture = { kind: "erase", id: p.id, last: [x, y] };
        this.#eraseAlong(x, y, x, y);
        break;
      case "select":
        this.#startSelect(p, x, y);
        break;
      case "text":
        this.editing.value = {
          x,
          y,
          size: SIZES[this.#s.size.peek()].text,
          color: this.#s.color.peek(),
        };
        break;
    }
    this.#publish();
  }

  /** A pointer moved; `trail` are the browser's coalesced points since the last event. */
  move(p: PointerInput, trail: PointerInput[] = []): void {
    const known = this.#pointers.get(p.id);
    if (known) Object.assign(known, { sx: p.sx, sy: p.sy });
    const [x, y] = this.toBoard(p.sx, p.sy);
    const g = this.#gesture;
    if (!g || (g.kind !== "pinch" && g.id !== p.id)) {
      if (p.type !== "touch") {
        this.#cursor = [x, y];
        this.#publish();
      }
      return;
    }
    this.#cursor = [x, y];
    switch (g.kind) {
      case "draw":
        for (const q of [...trail, p]) this.#extendDraft(q);
        break;
      case "erase":
        this.#eraseAlong(g.last[0], g.last[1], x, y);
        g.last = [x, y];
        break;
      case "move":
        this.moving.value = [x - g.from[0], y - g.from[1]];
        break;
      case "marquee":
        this.marquee.value = {
          minX: Math.min(g.from[0], x),
          minY: Math.min(g.from[1], y),
          maxX: Math.max(g.from[0], x),
          maxY: Math.max(g.from[1], y),
        };
        break;
      case "pan": {
        const v = g.view;
        this.#s.view.value = {
          ...v,
          x: v.x - (p.sx - g.from[0]) / v.zoom,
          y: v.y - (p.sy - g.from[1]) / v.zoom,
        };
        break;
      }
      case "pinch": {
        const a = this.#pointers.get(g.ids[0]), b = this.#pointers.get(g.ids[1]);
        if (!a || !b) break;
        const dist = Math.max(1, Math.hypot(a.sx - b.sx, a.sy - b.sy));
        const mid: [number, number] = [(a.sx + b.sx) / 2, (a.sy + b.sy) / 2];
        const v0 = g.start.view;
        const zoom = clampZoom(v0.zoom * dist / g.start.dist);
        // The board point under the fingers' starting midpoint follows their midpoint.
        const bx = v0.x + g.start.mid[0] / v0.zoom, by = v0.y + g.start.mid[1] / v0.zoom;
        this.#s.view.value = { zoom, x: bx - mid[0] / zoom, y: by - mid[1] / zoom };
        break;
      }
    }
    this.#publish();
  }

  up(p: PointerInput): void {
    this.#pointers.delete(p.id);
    const g = this.#gesture;
    if (!g) return;
    if (g.kind === "pinch") {
      if (g.ids.includes(p.id)) this.#gesture = null;
      return;
    }
    if (g.id !== p.id) return;
    this.#gesture = null;
    switch (g.kind) {
      case "draw":
        this.#commitDraft();
        break;
      case "erase": {
        const ids = this.erasing.peek();
        this.erasing.value = new Set();
        this.#engine.erase(ids);
        break;
      }
      case "move": {
        const d = this.moving.peek();
        this.moving.value = null;
        if (d) this.#engine.move(this.selection.peek(), d[0], d[1]);
        break;
      }
      case "marquee": {
        const box = this.marquee.peek();
        this.marquee.value = null;
        const inside = box && box.maxX - box.minX + box.maxY - box.minY > 2 / this.#zoom()
          ? this.#engine.elements().filter((e) => insideBox(e, box)).map((e) => e.id)
          : [];
        this.selection.value = new Set([...(g.add ? this.selection.peek() : []), ...inside]);
        break;
      }
    }
    this.#publish();
  }

  /** The browser took the pointer away (a scroll, a system gesture): nothing is committed. */
  cancel(p: PointerInput): void {
    this.#pointers.delete(p.id);
    const g = this.#gesture;
    if (g && (g.kind === "pinch" ? g.ids.includes(p.id) : g.id === p.id)) this.#abandon();
  }

  /** The pointer left the board. */
  leave(): void {
    if (this.#gesture) return;
    this.#cursor = null;
    this.#publish();
  }

  /** Drops the gesture under way without committing it. */
  #abandon(): void {
    batch(() => {
      this.#gesture = null;
      this.draft.value = null;
      this.moving.value = null;
      this.marquee.value = null;
      this.erasing.value = new Set();
    });
    this.#publish();
  }

  // ---- Drawing ----

  #startDraft(kind: DraftKind, x: number, y: number, p: PointerInput): void {
    const size = SIZES[this.#s.size.peek()].stroke *
      (kind === "highlighter" ? HIGHLIGHTER_WIDTH : 1);
    this.draft.value = {
      id: newElementId(),
      kind,
      color: this.#s.color.peek(),
      size,
      points: kind === "pen" || kind === "highlighter" ? [x, y] : [x, y, x, y],
      pressure: kind === "pen" && p.type === "pen" ? [p.pressure] : null,
    };
    this.#gesture = { kind: "draw", id: p.id };
  }

  #extendDraft(p: PointerInput): void {
    const d = this.draft.peek();
    if (!d) return;
    let [x, y] = this.toBoard(p.sx, p.sy);
    if (d.kind === "pen" || d.kind === "highlighter") {
      const n = d.points.length;
      // Points closer than half a canvas pixel add nothing.
      if (Math.hypot(x - d.points[n - 2], y - d.points[n - 1]) * this.#zoom() < 0.5) return;
      if (n / 2 >= MAX_POINTS) {
        // Over the limit: commit what there is and go on with a new stroke from here.
        this.#commitDraft();
        this.#startDraft(d.kind, d.points[n - 2], d.points[n - 1], p);
        return this.#extendDraft(p);
      }
      this.draft.value = {
        ...d,
        points: [...d.points, x, y],
        pressure: d.pressure ? [...d.pressure, p.pressure] : null,
      };
      return;
    }
    const [x0, y0] = d.points;
    if (p.shift) [x, y] = constrain(d.kind, x0, y0, x, y);
    this.draft.value = { ...d, points: [x0, y0, x, y] };
  }

  #commitDraft(): void {
    const d = this.draft.peek();
    this.draft.value = null;
    if (!d) return;
    if (d.kind === "pen" || d.kind === "highlighter") {
      this.#engine.add({
        kind: d.kind,
        color: d.color,
        size: d.size,
        points: d.points,
        pressure: d.pressure,
      }, d.id);
      return;
    }
    const [x0, y0, x1, y1] = d.points;
    // A click with a shape tool draws nothing.
    if (Math.hypot(x1 - x0, y1 - y0) * this.#zoom() < 2) return;
    this.#engine.add(
      { kind: d.kind, color: d.color, size: d.size, points: [x0, y0, x1, y1] },
      d.id,
    );
  }

  /** Types `text` where the text tool was clicked (empty: nothing). */
  commitText(text: string): void {
    const e = this.editing.peek();
    this.editing.value = null;
    if (e && text.trim()) {
      this.#engine.add({ kind: "text", color: e.color, size: e.size, x: e.x, y: e.y, text });
    }
  }

  cancelText(): void {
    this.editing.value = null;
  }

  // ---- Erasing and selecting ----

  #eraseAlong(x0: number, y0: number, x1: number, y1: number): void {
    const tolerance = HIT_PX / this.#zoom();
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / tolerance));
    const hit = new Set(this.erasing.peek());
    const before = hit.size;
    for (const el of this.#engine.elements()) {
      if (hit.has(el.id)) continue;
      for (let i = 0; i <= steps; i++) {
        const t = i / steps;
        if (hitTest(el, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, tolerance)) {
          hit.add(el.id);
          break;
        }
      }
    }
    if (hit.size !== before) this.erasing.value = hit;
  }

  /** The topmost element at (x, y), or null. */
  elementAt(x: number, y: number): string | null {
    const tolerance = HIT_PX / this.#zoom();
    const all = this.#engine.elements();
    for (let i = all.length - 1; i >= 0; i--) {
      if (hitTest(all[i], x, y, tolerance)) return all[i].id;
    }
    return null;
  }

  #startSelect(p: PointerInput, x: number, y: number): void {
    const hit = this.elementAt(x, y);
    const selected = this.selection.peek();
    if (hit) {
      if (p.shift) {
        const next = new Set(selected);
        if (next.has(hit)) next.delete(hit);
        else next.add(hit);
        this.selection.value = next;
        return;
      }
      if (!selected.has(hit)) this.selection.value = new Set([hit]);
      this.#gesture = { kind: "move", id: p.id, from: [x, y] };
      return;
    }
    this.#gesture = { kind: "marquee", id: p.id, from: [x, y], add: p.shift };
    this.marquee.value = { minX: x, minY: y, maxX: x, maxY: y };
  }

  /** Erases the selection. */
  deleteSelection(): boolean {
    const ids = this.selection.peek();
    if (ids.size === 0) return false;
    this.#engine.erase(ids);
    this.selection.value = new Set();
    return true;
  }

  /** Moves the selection by (dx, dy) canvas pixels (arrow keys); false with nothing selected. */
  nudge(dx: number, dy: number): boolean {
    const ids = this.selection.peek();
    if (ids.size === 0) return false;
    this.#engine.move(ids, dx / this.#zoom(), dy / this.#zoom());
    return true;
  }

  /** Drops selected ids that are no longer on the board (someone erased them). */
  pruneSelection(): void {
    const ids = this.selection.peek();
    if ([...ids].every((id) => this.#engine.get(id))) return;
    this.selection.value = new Set([...ids].filter((id) => this.#engine.get(id)));
  }

  /** Esc: stops what is under way; false when there was nothing to stop. */
  escape(): boolean {
    if (this.#gesture || this.editing.peek()) {
      this.editing.value = null;
      this.#abandon();
      return true;
    }
    if (this.selection.peek().size > 0) {
      this.selection.value = new Set();
      return true;
    }
    return false;
  }

  // ---- View ----

  #zoom(): number {
    return this.#s.view.peek().zoom;
  }

  /** Zooms by `factor` keeping the board point under (sx, sy) in place. */
  zoomAt(factor: number, sx: number, sy: number): void {
    const v = this.#s.view.peek();
    const zoom = clampZoom(v.zoom * factor);
    const bx = v.x + sx / v.zoom, by = v.y + sy / v.zoom;
    this.#s.view.value = { zoom, x: bx - sx / zoom, y: by - sy / zoom };
  }

  /** Scrolls by (dx, dy) canvas pixels. */
  panBy(dx: number, dy: number): void {
    const v = this.#s.view.peek();
    this.#s.view.value = { ...v, x: v.x + dx / v.zoom, y: v.y + dy / v.zoom };
  }

  /** Tells the others where our pointer is and what we are drawing. */
  #publish(): void {
    this.#engine.setPresence({ cursor: this.#cursor, draft: this.draft.peek() });
  }
}

export function clampZoom(zoom: number): number {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
}

/** Shift held: lines at multiples of 45°, squares and circles. */
function constrain(
  kind: DraftKind,
  x0: number,
  y0: number,
  x: number,
  y: number,
): [number, number] {
  const dx = x - x0, dy = y - y0;
  if (kind === "line") {
    const angle = Math.round(Math.atan2(dy, dx) / (Math.PI / 4)) * (Math.PI / 4);
    const len = Math.hypot(dx, dy);
    return [x0 + Math.cos(angle) * len, y0 + Math.sin(angle) * len];
  }
  const side = Math.max(Math.abs(dx), Math.abs(dy));
  return [x0 + Math.sign(dx || 1) * side, y0 + Math.sign(dy || 1) * side];
}
