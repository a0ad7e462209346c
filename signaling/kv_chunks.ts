/**
 * Splitting bulk KV work (heartbeats of every socket, deleting a room's keys) into calls that KV
 * accepts: at most `KV_LIMITS.getManyKeys` keys per `getMany`, and per atomic operation at most
 * `KV_LIMITS.mutations` mutations and `KV_LIMITS.keyBytesPerOperation` bytes of keys.
 */
import { KV_LIMITS } from "./limits.ts";

/** Key bytes per atomic operation: KV's limit less a margin for the keys of the checks. */
const KEY_BYTES_BUDGET = KV_LIMITS.keyBytesPerOperation - 2 * 1024;

/** Consecutive groups of at most `size` items. */
export function chunk<T>(items: T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

/**
 * Splits keys into groups that each fit one atomic operation: at most `KV_LIMITS.mutations` keys
 * and the key-size budget.
 *
 * @example
 * ```ts
 * for (const part of chunkForAtomic(keys)) {
 *   const op = kv.atomic();
 *   for (const key of part) op.delete(key);
 *   await op.commit();
 * }
 * ```
 */
export function chunkForAtomic(keys: Deno.KvKey[]): Deno.KvKey[][] {
  const parts: Deno.KvKey[][] = [];
  let current: Deno.KvKey[] = [];
  let bytes = 0;
  for (const key of keys) {
    const size = keySize(key);
    if (
      current.length > 0 &&
      (current.length >= KV_LIMITS.mutations || bytes + size > KEY_BYTES_BUDGET)
    ) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(key);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

const encoder = new TextEncoder();

/**
 * A key's encoded size: per string part a type tag, the UTF-8 bytes (NUL escaped to two bytes) and
 * a terminator. The store's keys hold only strings; other parts get a generous bound.
 */
function keySize(key: Deno.KvKey): number {
  let size = 0;
  for (const part of key) {
    if (typeof part !== "string") {
      size += 32;
      continue;
    }
    const bytes = encoder.encode(part);
    size += 2 + bytes.length + bytes.filter((b) => b === 0).length;
  }
  return size;
}
