/**
 * Awareness: where each person's pointer is on the board and the stroke they are drawing, sent
 * while it is drawn and never stored. It travels as JSON in awareness frames (wire.ts) and is
 * keyed by the link it came on, so nobody can move someone else's cursor; the name shown with it
 * comes from the roster.
 *
 * A stroke being drawn goes in pieces: each frame carries the points from index `i` on, and the
 * receiver appends them (a new id, or `i` = 0, starts the stroke afresh). Shapes send their two
 * corners each time.
 */
import {
  type ElementKind,
  isStroke,
  MAX_COORD,
  MAX_POINTS,
  MAX_SIZE,
  MIN_SIZE,
  PALETTE,
} from "./model.ts";

/** Kinds that can be drawn live (text is typed, then committed). */
export type DraftKind = Exclude<ElementKind, "text">;

/** Something being drawn, in board pixels. */
export interface Draft {
  /** The id the element will have once committed (so the draft gives way to it seamlessly). */
  id: string;
  kind: DraftKind;
  color: number;
  size: number;
  /** Flat [x0, y0, …]; shapes: their two corners. */
  points: number[];
  /** Pen strokes: one per point, 0..1. */
  pressure: number[] | null;
}

/** What a page shows of itself to the others. */
export interface Presence {
  /** The pointer on the board, board pixels; null when it is elsewhere. */
  cursor: [number, number] | null;
  draft: Draft | null;
}

/** One awareness frame's content: the draft's points from index `i` on. */
export interface PresenceMessage {
  c: [number, number] | null;
  d: {
    id: string;
    k: DraftKind;
    c: number;
    s: number;
    i: number;
    p: number[];
    q?: number[];
  } | null;
}

/** Points (x, y pairs) per awareness frame at most: about 16 KB of JSON. */
export const POINTS_PER_FRAME = 1_000;
const LIMIT = MAX_COORD / 4;
const DRAFT_KINDS = new Set<string>(["pen", "highlighter", "line", "rect", "ellipse"]);
const ID = /^[a-z0-9]{1,16}$/;

/** One decimal is plenty for a live stroke and keeps frames short. */
const round1 = (v: number) => Math.round(v * 10) / 10;

/** The frame to send for `presence`, given that the receiver has the draft's first `sent` points. */
export function presenceMessage(presence: Presence | null, sent: number): PresenceMessage {
  const draft = presence?.draft ?? null;
  const cursor = presence?.cursor ?? null;
  if (!draft) return { c: cursor && [round1(cursor[0]), round1(cursor[1])], d: null };
  const stroke = isStroke(draft.kind);
  const from = stroke ? Math.min(sent, draft.points.length / 2) : 0;
  const to = stroke ? Math.min(draft.points.length / 2, from + POINTS_PER_FRAME) : 2;
  const d: NonNullable<PresenceMessage["d"]> = {
    id: draft.id,
    k: draft.kind,
    c: draft.color,
    s: draft.size,
    i: from,
    p: draft.points.slice(2 * from, 2 * to).map(round1),
  };
  if (draft.pressure) d.q = draft.pressure.slice(from, to).map((p) => Math.round(p * 100) / 100);
  return { c: cursor && [round1(cursor[0]), round1(cursor[1])], d };
}

/** How many points of `presence`'s draft a frame made by `presenceMessage` leaves sent. */
export function sentAfter(presence: Presence | null, sent: number): number {
  const draft = presence?.draft;
  if (!draft || !isStroke(draft.kind)) return 0;
  const from = Math.min(sent, draft.points.length / 2);
  return Math.min(draft.points.length / 2, from + POINTS_PER_FRAME);
}

const coord = (v: unknown): v is number =>
  typeof v === "number" && Number.isFinite(v) && Math.abs(v) <= LIMIT;

/** Checks an awareness frame's JSON; null when anything is off. Builds fresh values. */
export function parsePresence(value: unknown): PresenceMessage | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { c, d } = value as Record<string, unknown>;
  let cursor: [number, number] | null = null;
  if (c !== null) {
    if (!Array.isArray(c) || c.length !== 2 || !coord(c[0]) || !coord(c[1])) return null;
    cursor = [c[0], c[1]];
  }
  if (d === null) return { c: cursor, d: null };
  if (typeof d !== "object" || Array.isArray(d) || d === undefined) return null;
  const { id, k, c: color, s, i, p, q } = d as Record<string, unknown>;
  if (typeof id !== "string" || !ID.test(id)) return null;
  if (typeof k !== "string" || !DRAFT_KINDS.has(k)) return null;
  const kind = k as DraftKind;
  if (typeof color !== "number" || !Number.isInteger(color) || color < 0) return null;
  if (color >= PALETTE.length) return null;
  if (typeof s !== "number" || !Number.isInteger(s) || s < MIN_SIZE || s > MAX_SIZE) return null;
  if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= MAX_POINTS) return null;
  if (!Array.isArray(p) || p.length % 2 !== 0 || p.length > 2 * POINTS_PER_FRAME) return null;
  if (!p.every(coord)) return null;
  if (!isStroke(kind) && (i !== 0 || p.length !== 4)) return null;
  let pressure: number[] | undefined;
  if (q !== undefined) {
    if (kind !== "pen" || !Array.isArray(q) || q.length !== p.length / 2) return null;
    if (!q.every((v) => typeof v === "number" && v >= 0 && v <= 1)) return null;
    pressure = [...q];
  }
  return {
    c: cursor,
    d: { id, k: kind, c: color, s, i, p: [...p], ...(pressure ? { q: pressure } : {}) },
  };
}

/**
 * Merges a received frame into what we show of that person: a new draft (another id, or from
 * index 0) replaces the old one; more points of the same draft are appended when they continue
 * it (a frame that does not join up is ignored, the next new draft starts clean).
 */
export function mergePresence(old: Presence | null, msg: PresenceMessage): Presence {
  const cursor = msg.c;
  const d = msg.d;
  if (!d) return { cursor, draft: null };
  const before = old?.draft;
  if (d.i === 0 || !before || before.id !== d.id) {
    if (d.i !== 0) return { cursor, draft: null };
    return {
      cursor,
      draft: {
        id: d.id,
        kind: d.k,
        color: d.c,
        size: d.s,
        points: d.p,
        pressure: d.q ?? null,
      },
    };
  }
  if (before.points.length / 2 !== d.i) return { cursor, draft: before };
  const room = MAX_POINTS - d.i;
  const points = before.points.concat(d.p.slice(0, 2 * room));
  const pressure = before.pressure && d.q ? before.pressure.concat(d.q.slice(0, room)) : null;
  return { cursor, draft: { ...before, points, pressure } };
}
