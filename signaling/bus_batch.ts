/**
 * The batch: how messages between isolates travel, on both paths of the bus (`bus.ts`). A batch
 * is a JSON array of messages in UTF-8, stored as one KV value in an inbox, or posted as one
 * message on the channel between isolates of one process (`bus_local.ts`). Both paths read it
 * back with `decodeBatch`, which trusts nothing: the bytes come from other servers, maybe of
 * another version (instances sharing a remote KV), so anything that is not a message of a known
 * kind with its fields is left out, and nothing here throws.
 */
import type { BusMessage, BusSender } from "./bus.ts";
import { isBoolean, isObject, isString, type JsonObject } from "./json_guards.ts";

/** A message waiting to be carried: its JSON bytes (what the caps count) and who sent it. */
export interface Queued {
  message: BusMessage;
  bytes: Uint8Array;
  sender?: BusSender;
}

/** Messages carried together: the bytes of their JSON array. */
export interface Batch {
  entries: Queued[];
  bytes: Uint8Array;
}

/**
 * Splits queued messages into batches of at most `maxBytes` (a message larger than that is a
 * batch of its own), keeping their order.
 */
export function batches(queued: Queued[], maxBytes: number): Batch[] {
  const out: Batch[] = [];
  let entries: Queued[] = [];
  let size = 1; // "["
  const close = () => {
    const bytes = new Uint8Array(size);
    let at = 0;
    entries.forEach(({ bytes: part }, i) => {
      bytes[at++] = i === 0 ? 0x5b : 0x2c; // "[" before the first, "," between
      bytes.set(part, at);
      at += part.length;
    });
    bytes[at] = 0x5d; // "]"
    out.push({ entries, bytes });
    entries = [];
    size = 1;
  };
  for (const q of queued) {
    // Each part adds its bytes and one separator ("," or the closing "]").
    if (entries.length > 0 && size + q.bytes.length + 1 > maxBytes) close();
    entries.push(q);
    size += q.bytes.length + 1;
  }
  if (entries.length) close();
  return out;
}

/**
 * Takes from the front of `queue` the messages of at most `count` batches of at most `maxBytes`
 * each (a batch holds one message at least), in one cut of the queue however long it is.
 */
export function takeBatches(queue: Queued[], maxBytes: number, count: number): Batch[] {
  if (count <= 0) return [];
  let taken = 0;
  let closed = 0;
  let size = 1;
  for (; taken < queue.length; taken++) {
    const part = queue[taken].bytes.length + 1;
    if (size > 1 && size + part > maxBytes) {
      if (++closed === count) break;
      size = 1;
    }
    size += part;
  }
  return batches(queue.splice(0, taken), maxBytes);
}

/** A message's JSON bytes, as the caps count them and a batch carries them. */
export function encodeMessage(message: BusMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/**
 * The messages of a batch that are well formed, in order, and how many were not (unreadable
 * bytes count as one).
 */
export function decodeBatch(bytes: Uint8Array): { messages: BusMessage[]; dropped: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    return { messages: [], dropped: 1 };
  }
  if (!Array.isArray(parsed)) return { messages: [], dropped: 1 };
  const messages = parsed.filter(isBusMessage);
  return { messages, dropped: parsed.length - messages.length };
}

const optional = <T>(guard: (v: unknown) => v is T) => (v: unknown) => v === undefined || guard(v);
const optionalString = optional(isString);

/**
 * Whether a parsed value is a message this version understands. Fields a newer version may add
 * are let through untouched; a kind this version does not know is not a message to it.
 */
export function isBusMessage(value: unknown): value is BusMessage {
  if (!isObject(value) || !isString(value.room)) return false;
  switch (value.kind) {
    case "signal":
      return isString(value.from) && isString(value.to) && value.payload !== undefined;
    case "roster":
      return true;
    case "deliver":
      return isString(value.to) && isObject(value.message) && isString(value.message.type);
    case "lobby":
      return isString(value.knock) && optional(isBoolean)(value.ended);
    case "close":
      return isCloseNote(value);
    default:
      return false;
  }
}

function isCloseNote(value: JsonObject): boolean {
  if (!isString(value.peer) || !isString(value.reason)) return false;
  if (value.code === "replaced") return optionalString(value.after);
  // The hub takes any other close for an eviction, and one without a code for "kicked".
  return (value.code === "evicted" || value.code === undefined) &&
    optionalString(value.evictionCode) &&
    optionalString(value.by) &&
    (value.unreachable === undefined ||
      (Array.isArray(value.unreachable) && value.unreachable.every(isString)));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
