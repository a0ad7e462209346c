/**
 * Reading a whole room in one KV call: one range read (see `keys.ts`) returns the meta and every
 * member, beat and links key at one point in time, so a snapshot never mixes two moments.
 */
import { roomKeys, roomRange } from "./keys.ts";
import type { Links, Member, PeerId, RoomMeta, RoomSnapshot } from "./types.ts";

/** A whole room as read at one moment; entries by peer id. */
export interface RoomRead {
  meta: Deno.KvEntryMaybe<RoomMeta>;
  members: Map<PeerId, Deno.KvEntry<Member>>;
  beats: Map<PeerId, Deno.KvEntry<number>>;
  links: Map<PeerId, Deno.KvEntry<Links>>;
  /** Every key below the meta, also those of peers that are not members (orphans). */
  keys: Deno.KvKey[];
}

/**
 * A room has at most 1 + 3 × MAX_CAPACITY keys (193, plus rare orphans): one batch reads it whole,
 * so a room read is one KV read at one point in time.
 */
const ROOM_READ_BATCH = 1_000;

/** The whole room in one KV read (one batch of one range). Not retried: callers wrap it. */
export async function readRoom(kv: Deno.Kv, room: string): Promise<RoomRead> {
  const read: RoomRead = {
    meta: absent<RoomMeta>(roomKeys.room(room)),
    members: new Map(),
    beats: new Map(),
    links: new Map(),
    keys: [],
  };
  const entries = kv.list<unknown>(roomRange(room), { batchSize: ROOM_READ_BATCH });
  for await (const entry of entries) {
    const key = entry.key;
    if (key.length === 2) {
      read.meta = entry as Deno.KvEntry<RoomMeta>;
      continue;
    }
    read.keys.push(key);
    const [, , kind, peer] = key;
    if (key.length !== 4 || typeof peer !== "string") continue;
    if (kind === "member") read.members.set(peer, entry as Deno.KvEntry<Member>);
    else if (kind === "beat") read.beats.set(peer, entry as Deno.KvEntry<number>);
    else if (kind === "links") read.links.set(peer, entry as Deno.KvEntry<Links>);
  }
  return read;
}

/**
 * The room as the hub uses it: members in join order, each with its last heartbeat (its join
 * time if it has none yet) and its links. Null when the room does not exist.
 */
export function toSnapshot(read: RoomRead): RoomSnapshot | null {
  const meta = read.meta.value;
  if (!meta) return null;
  const members: RoomSnapshot["members"] = [];
  for (const peer of meta.members) {
    const member = read.members.get(peer)?.value;
    // Cannot happen: meta and member are written together, and one read sees both.
    if (!member) continue;
    members.push({
      ...member,
      heartbeatAt: read.beats.get(peer)?.value ?? member.joinedAt,
      links: read.links.get(peer)?.value ?? {},
    });
  }
  return { meta, members };
}

/** What a read of a missing key returns: a check on it asserts that the key still does not exist. */
export function absent<T>(key: Deno.KvKey): Deno.KvEntryMaybe<T> {
  return { key, value: null, versionstamp: null };
}
