/**
 * The store's deleting transactions: removing a member (and with the last one, the room), and
 * tidying keys that races leave behind (a per-member heartbeat of an older version that landed
 * just after a removal, a room whose
 * meta is gone, knocks nobody beats anymore). Each is atomic and guarded by version checks; see
 * `store.ts` for the callers. A removal also settles who hosts the room afterwards.
 */
import { roomKeys, STATS_KEYS, sweepKeys } from "./keys.ts";
import { chunkForAtomic } from "./kv_chunks.ts";
import { CONFLICT, retryKv } from "./kv_retry.ts";
import { KV_LIMITS, MAX_BANNED, MAX_DEPARTURES, MAX_REMOVALS } from "./limits.ts";
import type { DepartureView, RemovalView } from "./protocol.ts";
import { absent, orphanKeys, readRoom, type RoomRead } from "./room_read.ts";
import type { HostFallback, KnockRecord, Member, PeerId, RoomMeta } from "./types.ts";

/** -1 as a `Deno.KvU64` sum: sums wrap around at 2^64, so adding 2^64 - 1 subtracts one. */
export const MINUS_ONE = (1n << 64n) - 1n;

/** `-n` as a `Deno.KvU64` sum (see `MINUS_ONE`). */
export function minus(n: number): bigint {
  return ((1n << 64n) - BigInt(n)) % (1n << 64n);
}

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

/** What a removal records and settles besides taking the member out. */
export interface RemovalEffects {
  /** Kept in `meta.removals` (a host's removal, a mesh eviction); a member who left needs none. */
  record?: Omit<RemovalView, "peer" | "at">;
  /**
   * Kept in `meta.departures`, so the others can say why it went: `connection-lost` when its
   * grace period ran out. A member who left on purpose needs none.
   */
  departure?: "connection-lost";
  /** Removed by a host: its meeting secret is banned and no longer makes it a host again. */
  ban?: boolean;
  /** What happens when the last host goes and members remain. Default "oldest". */
  hostFallback?: HostFallback;
  /** The time of the removal (server clock). */
  now: number;
}

/** `removeMember`'s options: the effects, and a guard decided inside the transaction. */
export interface RemovalOptions extends Partial<RemovalEffects> {
  guard?: RemovalGuard;
}

/**
 * Removes `peer` in one atomic operation: its keys, its entry in the others' link reports, and
 * its place in the meta (settling the hosts, deleting the room when it was the last member; see
 * `addRemoval`). With `guard`, removes only if the guard still holds for the member and beat read
 * inside the transaction, and the commit fails if either changed since.
 */
export async function removeMember(
  kv: Deno.Kv,
  room: string,
  peer: PeerId,
  opts: RemovalOptions = {},
): Promise<Removal> {
  const keys = roomKeys;
  const { guard } = opts;
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
    const next = addRemoval(op, read, peer, { ...opts, now: opts.now ?? Date.now() });
    return (await op.commit()).ok ? { removed: true, meta: next, leftovers: false } : CONFLICT;
  });
  if (result.leftovers) await deleteLeftovers(kv, room);
  return { removed: result.removed, meta: result.meta };
}

/**
 * Adds to `op` the removal of `peer`, a member in `read`, and returns the meta afterwards (null:
 * the room goes, with every key, knocks included). The caller's `op` must check `read.meta`: every
 * write here is computed from that read. Also checks every remaining link report (each may be
 * rewritten) and, when the room locks, every knock (each is denied).
 *
 * The hosts afterwards: `peer` is no longer one. When it was the last and members remain,
 * `oldest` makes the longest-present connected member (else the longest-present) host, with its
 * secret as a reclaim secret; `lock` locks the room and denies the knocks waiting (a lobby nobody
 * can open is no lobby), and a returning host reclaims with its secret.
 */
export function addRemoval(
  op: Deno.AtomicOperation,
  read: RoomRead,
  peer: PeerId,
  effects: RemovalEffects,
): RoomMeta | null {
  const meta = read.meta.value!;
  const room = meta.id;
  const keys = roomKeys;
  const members = meta.members.filter((p) => p !== peer);
  op.sum(STATS_KEYS.participants, MINUS_ONE);
  // Its isolate no longer holds it (the index may already lack it: a disconnected member's).
  const held = read.members.get(peer)?.value;
  if (held) op.delete(sweepKeys.servedMember(held.isolate, room, peer));
  if (members.length === 0) {
    op.sum(STATS_KEYS.rooms, MINUS_ONE);
    // The room's keys are bounded by capacity and the lobby (plus rare orphans), far below the
    // mutation limit; anything beyond one operation is swept up later as leftovers.
    op.delete(keys.room(room));
    for (const key of read.keys.slice(0, KV_LIMITS.mutations - 1)) op.delete(key);
    return null;
  }
  const secretHash = read.members.get(peer)?.value.secretHash ?? null;
  let next: RoomMeta = { ...meta, members, hosts: meta.hosts.filter((p) => p !== peer) };
  if (effects.ban && secretHash !== null) {
    next.hostSecrets = next.hostSecrets.filter((h) => h !== secretHash);
    next.banned = [...next.banned.filter((h) => h !== secretHash), secretHash].slice(-MAX_BANNED);
  }
  if (effects.record) {
    const record: RemovalView = { ...effects.record, peer, at: effects.now };
    next.removals = [...next.removals, record].slice(-MAX_REMOVALS);
  }
  if (effects.departure) {
    const departure: DepartureView = { peer, reason: effects.departure, at: effects.now };
    next.departures = [...next.departures ?? [], departure].slice(-MAX_DEPARTURES);
  }
  if (next.hosts.length === 0) {
    if ((effects.hostFallback ?? "oldest") === "oldest") {
      next = withHost(next, successor(read, members));
    } else {
      next.locked = true;
      for (const entry of read.knocks.values()) {
        if (entry.value.decision !== null) continue;
        const denied: KnockRecord = { ...entry.value, decision: "deny" };
        op.check(entry).set(entry.key, denied);
      }
    }
  }
  next.host = next.hosts[0] ?? null;
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
  return next;
}

/** The member who hosts when no host is left: the longest-present connected one, else the longest-present. */
function successor(read: RoomRead, members: PeerId[]): Member | PeerId {
  for (const peer of members) {
    const member = read.members.get(peer)?.value;
    if (member?.connected) return member;
  }
  return read.members.get(members[0])?.value ?? members[0];
}

/**
 * `meta` with `member` (a record, or only an id when its record is missing) a host, its secret
 * a reclaim secret.
 */
export function withHost(meta: RoomMeta, member: Member | PeerId): RoomMeta {
  const peer = typeof member === "string" ? member : member.peer;
  const secretHash = typeof member === "string" ? null : member.secretHash;
  const hosts = meta.hosts.includes(peer) ? meta.hosts : [...meta.hosts, peer];
  const hostSecrets = secretHash === null || meta.hostSecrets.includes(secretHash)
    ? meta.hostSecrets
    : [...meta.hostSecrets, secretHash];
  return { ...meta, hosts, host: hosts[0] ?? null, hostSecrets };
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

/** Deletes member, beat, links and knock keys of a room whose meta is gone. */
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

/** Deletes keys of peers that are not (or no longer) in the room's member list (not knocks). */
export async function deleteOrphans(kv: Deno.Kv, room: string): Promise<void> {
  await retryKv("sweep", async () => {
    const read = await readRoom(kv, room);
    if (!read.meta.value) return undefined;
    const orphans = orphanKeys(read);
    if (orphans.length === 0) return undefined;
    const op = kv.atomic().check(read.meta);
    for (const key of orphans.slice(0, KV_LIMITS.mutations)) op.delete(key);
    return (await op.commit()).ok ? undefined : CONFLICT;
  });
}

/**
 * Deletes the knocks whose waiting isolate has not beaten them since `liveSince` (it stopped, or
 * lost the socket without withdrawing). Each is checked, so a knock beaten or decided meanwhile
 * stays; a conflict leaves the rest to the next sweep.
 */
export async function deleteStaleKnocks(
  kv: Deno.Kv,
  read: RoomRead,
  liveSince: number,
): Promise<PeerId[]> {
  const stale = [...read.knocks.values()].filter((e) => e.value.beatAt < liveSince)
    .slice(0, KV_LIMITS.checks);
  if (stale.length === 0) return [];
  return await retryKv("sweep", async () => {
    const op = kv.atomic();
    for (const entry of stale) op.check(entry).delete(entry.key);
    return (await op.commit()).ok ? stale.map((e) => e.value.peer) : [];
  });
}
