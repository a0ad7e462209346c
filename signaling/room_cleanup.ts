/**
 * The store's deleting transactions: removing a member (and with the last one, the room), and
 * tidying keys that races leave behind (a heartbeat that lands just after a removal, a room whose
 * meta is gone). Each is atomic and guarded by version checks; see `store.ts` for the callers.
 */
import { roomKeys, STATS_KEYS } from "./keys.ts";
import { chunkForAtomic } from "./kv_chunks.ts";
import { CONFLICT, retryKv } from "./kv_retry.ts";
import { KV_LIMITS } from "./limits.ts";
import { absent, readRoom } from "./room_read.ts";
import type { Member, PeerId, RoomMeta } from "./types.ts";

/** -1 as a `Deno.KvU64` sum: sums wrap around at 2^64, so adding 2^64 - 1 subtracts one. */
export const MINUS_ONE = (1n << 64n) - 1n;

/**
 * Decides, from the member and beat read inside the removal's own transaction, whether the
 * removal should still happen (the member may have resumed since the caller looked).
 */
export type RemovalGuard = (member: Member | null, beat: number | null) => boolean;

/** What a removal did: `meta` is the room afterwards, null when it no longer exists. */
export interface Removal {
  removed: boolean;
  meta: RoomMeta | null;
}

/**
 * Removes `peer` in one atomic operation: its keys, its entry in the others' link reports, and
 * its place in the meta (passing on the host, deleting the room when it was the last member).
 * With `guard`, removes only if the guard still holds for the member and beat read inside the
 * transaction, and the commit fails if either changed since.
 */
export async function removeMember(
  kv: Deno.Kv,
  room: string,
  peer: PeerId,
  guard?: RemovalGuard,
): Promise<Removal> {
  const keys = roomKeys;
  const result = await retryKv("remove", async () => {
    const read = await readRoom(kv, room);
    const metaEntry = read.meta;
    const memberEntry = read.members.get(peer) ?? absent<Member>(keys.member(room, peer));
    const beatEntry = read.beats.get(peer) ?? absent<number>(keys.beat(room, peer));
    const meta = metaEntry.value;
    if (!meta) return { removed: false, meta: null, leftovers: true };
    if (guard && !guard(memberEntry.value, beatEntry.value)) {
      return { removed: false, meta, leftovers: false };
    }
    const op = kv.atomic().check(metaEntry);
    if (guard) op.check(memberEntry).check(beatEntry);
    if (!meta.members.includes(peer)) {
      // Not a member: only stray keys (an orphan beat) may be left; delete them, keep the meta.
      if (memberEntry.versionstamp === null && beatEntry.versionstamp === null) {
        return { removed: false, meta, leftovers: false };
      }
      op.delete(keys.member(room, peer)).delete(keys.beat(room, peer))
        .delete(keys.links(room, peer));
      return (await op.commit()).ok ? { removed: false, meta, leftovers: false } : CONFLICT;
    }
    const members = meta.members.filter((p) => p !== peer);
    op.sum(STATS_KEYS.participants, MINUS_ONE);
    if (members.length === 0) {
      op.sum(STATS_KEYS.rooms, MINUS_ONE);
      // The room's keys are bounded by capacity (plus rare orphans), far below the mutation limit;
      // anything beyond one operation is swept up by the next call as leftovers.
      op.delete(keys.room(room));
      for (const key of read.keys.slice(0, KV_LIMITS.mutations - 1)) op.delete(key);
      return (await op.commit()).ok ? { removed: true, meta: null, leftovers: false } : CONFLICT;
    }
    const host = meta.host === peer || meta.host === null ? members[0] : meta.host;
    const next: RoomMeta = { ...meta, host, members };
    op.set(keys.room(room), next)
      .delete(keys.member(room, peer))
      .delete(keys.beat(room, peer))
      .delete(keys.links(room, peer));
    // Every remaining member's report is checked, also those that do not mention `peer`: a
    // report committed meanwhile (read before this removal) could name it again.
    for (const other of members) {
      const entry = read.links.get(other) ?? { key: keys.links(room, other), versionstamp: null };
      op.check(entry);
      if (!("value" in entry) || !(peer in entry.value)) continue;
      const { [peer]: _gone, ...rest } = entry.value;
      op.set(entry.key, rest);
    }
    return (await op.commit()).ok ? { removed: true, meta: next, leftovers: false } : CONFLICT;
  });
  if (result.leftovers) await deleteLeftovers(kv, room);
  return { removed: result.removed, meta: result.meta };
}

/** Deletes a room whose member list is empty (cannot arise from this store, but stay tidy). */
export async function deleteEmptyRoom(kv: Deno.Kv, room: string): Promise<void> {
  await retryKv("sweep", async () => {
    const entry = await kv.get<RoomMeta>(roomKeys.room(room));
    if (!entry.value || entry.value.members.length > 0) return undefined;
    const res = await kv.atomic().check(entry).delete(entry.key).commit();
    return res.ok ? undefined : CONFLICT;
  });
  await deleteLeftovers(kv, room);
}

/** Deletes member, beat and links keys of a room whose meta is gone. */
export async function deleteLeftovers(kv: Deno.Kv, room: string): Promise<void> {
  await retryKv("cleanup", async () => {
    const keys: Deno.KvKey[] = [];
    for await (const entry of kv.list({ prefix: roomKeys.room(room) })) keys.push(entry.key);
    if (keys.length === 0) return undefined;
    for (const part of chunkForAtomic(keys)) {
      // The meta check keeps a room re-created meanwhile (a new first join) intact.
      const op = kv.atomic().check({ key: roomKeys.room(room), versionstamp: null });
      for (const key of part) op.delete(key);
      if (!(await op.commit()).ok) return undefined;
    }
    return undefined;
  });
}

/** Deletes keys of peers that are not (or no longer) in the room's member list. */
export async function deleteOrphans(kv: Deno.Kv, room: string): Promise<void> {
  await retryKv("sweep", async () => {
    const { meta: metaEntry, keys } = await readRoom(kv, room);
    if (!metaEntry.value) return undefined;
    const members = new Set(metaEntry.value.members);
    const orphans = keys.filter((key) => !members.has(key[3] as string));
    if (orphans.length === 0) return undefined;
    const op = kv.atomic().check(metaEntry);
    for (const key of orphans.slice(0, KV_LIMITS.mutations)) op.delete(key);
    return (await op.commit()).ok ? undefined : CONFLICT;
  });
}
