/**
 * The core data channel's framing: every message is `{"t": "<feature>/<topic>", "b": <body>}` in
 * JSON. `openEnvelope` checks only the frame (text, size, shape); the body is the topic's to
 * validate. Nothing here throws on input from the network.
 */

/** Largest message on the core channel: Chromium's SCTP limit, 256 KiB. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** `feature/topic`, both parts short lowercase words. */
export const TOPIC_PATTERN = /^[a-z][a-z0-9-]{0,31}\/[a-z][a-z0-9-]{0,31}$/;

const encoder = new TextEncoder();

/** UTF-8 length of `text`, computed only when the UTF-16 length does not settle the question. */
export function fitsBytes(text: string, max: number): boolean {
  if (text.length > max) return false;
  if (text.length * 3 <= max) return true;
  return encoder.encode(text).length <= max;
}

/** The UTF-8 length of `text`. */
export function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/** Encodes a message for `topic`. */
export function sealEnvelope(topic: string, body: unknown): string {
  return JSON.stringify({ t: topic, b: body });
}

/** A frame read from the core channel, or why it was refused. */
export type Opened =
  | { ok: true; topic: string; body: unknown; text: string }
  | { ok: false; reason: "not-text" | "too-big" | "malformed" };

/** Reads a frame from the core channel: its topic and (unvalidated) body. */
export function openEnvelope(data: unknown): Opened {
  if (typeof data !== "string") return { ok: false, reason: "not-text" };
  if (!fitsBytes(data, MAX_MESSAGE_BYTES)) return { ok: false, reason: "too-big" };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "malformed" };
  }
  const { t, b } = value as Record<string, unknown>;
  if (typeof t !== "string" || !TOPIC_PATTERN.test(t)) return { ok: false, reason: "malformed" };
  return { ok: true, topic: t, body: b, text: data };
}
