/**
 * Long sync messages in pieces, and one peer's frames put back together, with the limits on them
 * (frames.ts says what each frame kind is). Loaded with the engine.
 */
import { FRAME_AWARENESS, FRAME_FIRST, FRAME_MORE, FRAME_SYNC } from "./frames.ts";

/** Pieces of a long message: well under Chromium's 256 KiB, so awareness is not held up long. */
export const CHUNK_BYTES = 64 * 1024;
/** Largest awareness frame. */
export const MAX_AWARENESS_BYTES = 32 * 1024;

/** The frames that carry one sync message, each at most `chunk` bytes. */
export function syncFrames(message: Uint8Array, chunk = CHUNK_BYTES): Uint8Array[] {
  if (message.length + 1 <= chunk) {
    const frame = new Uint8Array(message.length + 1);
    frame[0] = FRAME_SYNC;
    frame.set(message, 1);
    return [frame];
  }
  const frames: Uint8Array[] = [];
  const firstBody = chunk - 5;
  const first = new Uint8Array(chunk);
  first[0] = FRAME_FIRST;
  new DataView(first.buffer).setUint32(1, message.length);
  first.set(message.subarray(0, firstBody), 5);
  frames.push(first);
  for (let at = firstBody; at < message.length; at += chunk - 1) {
    const piece = message.subarray(at, at + chunk - 1);
    const frame = new Uint8Array(piece.length + 1);
    frame[0] = FRAME_MORE;
    frame.set(piece, 1);
    frames.push(frame);
  }
  return frames;
}

/** An awareness frame for a JSON value. */
export function awarenessFrame(state: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(state));
  const frame = new Uint8Array(json.length + 1);
  frame[0] = FRAME_AWARENESS;
  frame.set(json, 1);
  return frame;
}

/** What one peer's frames add up to. */
export type Assembled =
  | { kind: "sync"; message: Uint8Array }
  | { kind: "awareness"; state: unknown }
  | { kind: "partial" }
  | { kind: "refused"; reason: "malformed" | "too-big" | "rate" };

/** Whether a sync message of `type` (its first byte) and `bytes` may be taken. */
export type Admit = (syncType: number, bytes: number) => "ok" | "too-big" | "rate";

/**
 * Puts one peer's frames back together. `admit` decides whether a sync message may be taken,
 * given its type and whole length, which its first piece shows: a message too big (or over the
 * peer's budget) is refused at its first frame, before any of it is kept, and the rest of its
 * pieces are skipped.
 */
export class Assembler {
  #parts: Uint8Array[] = [];
  #expected = 0;
  #received = 0;
  #skipping = false;

  constructor(readonly admit: Admit) {}

  /** Whether pieces of a long message are still coming. */
  get busy(): boolean {
    return this.#expected > 0;
  }

  push(data: Uint8Array): Assembled {
    if (data.length === 0) return { kind: "refused", reason: "malformed" };
    const kind = data[0];
    if (kind === FRAME_MORE) {
      if (this.#skipping) return { kind: "partial" };
      if (this.#expected === 0) return { kind: "refused", reason: "malformed" };
      const piece = data.subarray(1);
      if (this.#received + piece.length > this.#expected) {
        this.#reset(false);
        return { kind: "refused", reason: "malformed" };
      }
      this.#parts.push(piece.slice());
      this.#received += piece.length;
      if (this.#received < this.#expected) return { kind: "partial" };
      const message = concat(this.#parts, this.#expected);
      this.#reset(false);
      return { kind: "sync", message };
    }
    // Anything else ends a long message that was still coming: its sender broke off.
    const brokenOff = this.busy;
    this.#reset(false);
    if (kind === FRAME_SYNC) {
      if (data.length < 2) return { kind: "refused", reason: "malformed" };
      const admitted = this.admit(data[1], data.length - 1);
      if (admitted !== "ok") return { kind: "refused", reason: admitted };
      return brokenOff
        ? { kind: "refused", reason: "malformed" }
        : { kind: "sync", message: data.slice(1) };
    }
    if (kind === FRAME_FIRST) {
      if (data.length < 6) return { kind: "refused", reason: "malformed" };
      const total = new DataView(data.buffer, data.byteOffset).getUint32(1);
      const piece = data.subarray(5);
      if (total <= piece.length) return { kind: "refused", reason: "malformed" };
      const admitted = this.admit(data[5], total);
      if (admitted !== "ok") {
        this.#reset(true);
        return { kind: "refused", reason: admitted };
      }
      this.#expected = total;
      this.#received = piece.length;
      this.#parts = [piece.slice()];
      return { kind: "partial" };
    }
    if (kind === FRAME_AWARENESS) {
      if (data.length - 1 > MAX_AWARENESS_BYTES) return { kind: "refused", reason: "too-big" };
      try {
        const text = new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(1));
        return { kind: "awareness", state: JSON.parse(text) };
      } catch {
        return { kind: "refused", reason: "malformed" };
      }
    }
    return { kind: "refused", reason: "malformed" };
  }

  #reset(skipping: boolean): void {
    this.#parts = [];
    this.#expected = 0;
    this.#received = 0;
    this.#skipping = skipping;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
