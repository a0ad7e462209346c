/**
 * The board's frames on its own data channel (`f:board/sync`): what each kind is, and what the
 * light part of the feature (loaded with the meeting screen, before Yjs) needs to tell them
 * apart and answer. The rest (pieces, reassembly) is in wire.ts, loaded with the engine.
 *
 * A frame is binary; its first byte says what it is:
 * - `SYNC` + a y-protocols sync message (step 1: a state vector; step 2: what the asker lacks;
 *   update: a local change), when it fits one frame;
 * - `FIRST` + total length (4 bytes, big-endian) + the first piece, then `MORE` + the next
 *   pieces of a sync message too big for one frame (a board of 5,000 strokes is ~1.5 MB);
 * - `AWARENESS` + UTF-8 JSON: our cursor and the stroke we are drawing (never stored).
 */

export const FRAME_SYNC = 0;
export const FRAME_FIRST = 1;
export const FRAME_MORE = 2;
export const FRAME_AWARENESS = 3;

/** y-protocols message types (y-protocols/sync). */
export const SYNC_STEP1 = 0;
export const SYNC_STEP2 = 1;
export const SYNC_UPDATE = 2;

/** Largest reassembled sync message (a whole board, or undoing the clearing of one). */
export const MAX_SYNC_BYTES = 16 * 1024 * 1024;

/** Step 1 of an empty document: its state vector has no clients. */
export const EMPTY_STEP1 = Uint8Array.of(FRAME_SYNC, SYNC_STEP1, 1, 0);
/** Step 2 from an empty document: an update with no structs and no deletions. */
export const EMPTY_STEP2 = Uint8Array.of(FRAME_SYNC, SYNC_STEP2, 2, 0, 0);

/** What the first bytes of a frame say, enough for the light part to decide what to do. */
export type FrameKind =
  | "step1"
  | "empty-step2"
  | "content" // an update or a step 2 with something in it, whole or in pieces
  | "awareness"
  | "invalid";

/** Classifies a frame without decoding it. */
export function frameKind(data: Uint8Array): FrameKind {
  if (data.length < 2) return "invalid";
  switch (data[0]) {
    case FRAME_SYNC:
      if (data[1] === SYNC_STEP1) return "step1";
      if (data[1] === SYNC_STEP2 || data[1] === SYNC_UPDATE) {
        return equalBytes(data, EMPTY_STEP2) ? "empty-step2" : "content";
      }
      return "invalid";
    case FRAME_FIRST:
    case FRAME_MORE:
      return "content";
    case FRAME_AWARENESS:
      return "awareness";
    default:
      return "invalid";
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Bytes of whatever a data channel delivered, or null for text (the board sends none). */
export function asBytes(data: string | ArrayBuffer): Uint8Array | null {
  return typeof data === "string" ? null : new Uint8Array(data);
}
