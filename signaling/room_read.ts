/**
 * Reading a whole room in one KV call: one range read (see `keys.ts`) returns the meta and every
 * member, beat, links and knock key at one point in time, so a snapshot never mixes two moments.
 * Rooms and members stored by an older version are read with the fields they lack filled in.
 */
import { heldBeat, type IsolateBeat } from "./isolate_beats.ts";
import { roomKeys, roomRange } from "./keys.ts";
import type { KnockRecord, Links, Member, PeerId, RoomMeta, RoomSnapshot } from "./types.ts";

/** A whole room as read at one moment; entries by peer id. */
export interface RoomRead {
  meta: Deno.KvEntryMaybe<RoomMeta>;
  members: Map<PeerId, Deno.KvEntry<Member>>;
  beats: Map<PeerId, Deno.KvEntry<number>>;
  links: Map<PeerId, Deno.KvEntry<Links>>;
  /** Lobby knocks, live or stale. */
  knocks: Map<PeerId, Deno.KvEntry<KnockRecord>>;
  /** Every key below the meta, knocks and orphans (keys of peers that are not members) too. */
  keys: Deno.KvKey[];
}

/**
 * A room has at most 1 + 3 × MAX_CAPACITY + MAX_LOBBY keys (209, plus rare orphans): one batch
 * reads it whole, so a room read is one KV read at one point in time.
 */
const ROOM_READ_BATCH = 1_000;

/** The whole room in one KV read (one batch of one range). Not retried: callers wrap it. */
export async function readRoom(kv: Deno.Kv, room: string): Promise<RoomRead> {
  const read: RoomRead = {
    meta: absent<RoomMeta>(roomKeys.room(room)),
    members: new Map(),
    beats: new Map(),
    links: new Map(),
    knocks: new Map(),
    keys: [],
  };
  const entries = kv.list<unknown>(roomRange(room), { batchSize: ROOM_READ_BATCH });
  for await (const entry of entries) {
    const key = entry.key;
    if (key.length === 2) {
      read.meta = { ...entry, value: normalizeMeta(entry.value as RoomMeta) };
      continue;
    }
    read.keys.push(key);
    const [, , kind, peer] = key;
    if (key.length !== 4 || typeof peer !== "string") continue;
    if (kind === "member") {
      const member = entry as Deno.KvEntry<Member>;
      read.members.set(peer, { ...member, value: normalizeMember(member.value) });
    } else if (kind === "beat") read.beats.set(peer, entry as Deno.KvEntry<number>);
    else if (kind === "links") read.links.set(peer, entry as Deno.KvEntry<Links>);
    else if (kind === "knock") read.knocks.set(peer, entry as Deno.KvEntry<KnockRecord>);
  }
  return read;
}

/**
 * The keys of peers that are not members: left behind by races (an older version's per-member
 * heartbeat landing just after a
 * removal). Knocks are not orphans: their peers are not members by design.
 */
export function orphanKeys(read: RoomRead): Deno.KvKey[] {
  const members = new Set(read.meta.value?.members ?? []);
  return read.keys.filter((key) => key[2] !== "knock" && !members.has(key[3] as string));
}

/**
 * The room as the hub uses it: members in join order, each with the time it was last known alive
 * (`heldBeat`: its own beat or its isolate's in `isolates`, whichever is later) and its links;
 * the knocks beaten at `liveSince` or later, oldest first. Null when the room does not exist.
 */
export function toSnapshot(
  read: RoomRead,
  liveSince: number,
  isolates: ReadonlyMap<string, IsolateBeat | null> = new Map(),
): RoomSnapshot | null {
  const meta = read.meta.value;
  if (!meta) return null;
  const members: RoomSnapshot["members"] = [];
  for (const peer of meta.members) {
    const member = read.members.get(peer)?.value;
    // Cannot happen: meta and member are written together, and one read sees both.
    if (!member) continue;
    members.push({
      ...member,
      heartbeatAt: heldBeat(
        member,
        read.beats.get(peer)?.value ?? null,
        isolates.get(member.isolate),
      ),
      links: read.links.get(peer)?.value ?? {},
    });
  }
  return { meta, members, knocks: liveKnocks(read, liveSince) };
}

/** Knocks beaten at `liveSince` or later, oldest first (ties by peer id, so the order is stable). */
export function liveKnocks(read: RoomRead, liveSince: number): KnockRecord[] {
  return [...read.knocks.values()].map((e) => e.value).filter((k) => k.beatAt >= liveSince)
    .sort((a, b) => a.at - b.at || (a.peer < b.peer ? -1 : 1));
}

/**
 * A stored meta with the host fields of this version: a room stored before them had one host at
 * most (`host`), no reclaim secrets, bans, lobby or removals.
 */
export function normalizeMeta(stored: RoomMeta): RoomMeta {
  const hosts = Array.isArray(stored.hosts)
    ? stored.hosts
    : stored.host !== null && stored.host !== undefined
    ? [stored.host]
    : [];
  return {
    ...stored,
    locked: stored.locked === true,
    host: hosts[0] ?? null,
    hosts,
    hostSecrets: Array.isArray(stored.hostSecrets) ? stored.hostSecrets : [],
    banned: Array.isArray(stored.banned) ? stored.banned : [],
    lobby: stored.lobby === true,
    removals: Array.isArray(stored.removals) ? stored.removals : [],
  };
}

/** A stored member with the fields of this version (older members sent no meeting secret). */
export function normalizeMember(stored: Member): Member {
  return { ...stored, secretHash: stored.secretHash ?? null };
}

/** What a read of a missing key returns: a check on it asserts that the key still does not exist. */
export function absent<T>(key: Deno.KvKey): Deno.KvEntryMaybe<T> {
  return { key, value: null, versionstamp: null };
}
