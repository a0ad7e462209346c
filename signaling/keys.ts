/**
 * The layout of the signaling server's Deno KV database: every key it writes is built here.
 *
 * Rooms (`store.ts`): everything of a room lies under `["rooms", roomId]`, so one range read
 * returns the whole room (snapshots are read on every membership change: the hot read).
 * - `["rooms", roomId]` -> RoomMeta
 * - `["rooms", roomId, "member", peerId]` -> Member
 * - `["rooms", roomId, "beat", peerId]` -> number (ms timestamp of the member's placement on its
 *   isolate, by join or resume; its liveness afterwards is its isolate's beat, see below. Older
 *   versions rewrote it on every heartbeat, and `STOPPED_BEAT` on a clean stop.)
 * - `["rooms", roomId, "links", peerId]` -> Links (the member's own reports about its links)
 * - `["rooms", roomId, "knock", peerId]` -> KnockRecord (a newcomer waiting in the lobby: not a
 *   member, so its key is neither a member's nor an orphan)
 *
 * A listing of `["rooms"]` therefore also yields the members' keys: the rooms are the keys of
 * length 2 (`isRoomMetaKey`).
 *
 * - `["ended", roomId]` -> EndedRoom: a meeting a host ended; joins there are refused for
 *   `ENDED_ROOM_TTL_MS` (written with that expireIn, and the stored time is checked too, since
 *   expiry is lazy). Outside `["rooms"]`, so deleting the room's range keeps it.
 *
 * The previous room layout (`["room", roomId]`, with `["member" | "beat" | "links", roomId,
 * peerId]`) is not read: a new top-level prefix keeps rooms stored by an older version from
 * mixing with new ones (their members would look like members without records: never removed,
 * still counted for capacity and host). Such rooms are simply forgotten on upgrade; people rejoin
 * as new members.
 *
 * Between isolates (`bus.ts`):
 * - `["inbox", isolate, time, sender, seq]` -> Uint8Array (a batch of messages as UTF-8 JSON)
 * - `["bell", isolate]` -> number (rung with every batch; watched as a doorbell)
 * - `["bus", "channel"]` -> string (random, set once: names the channel between the isolates of
 *   one process that share this database, `bus_local.ts`)
 *
 * Other:
 * - `["metrics", isolate]` -> IsolateMetrics (`metrics.ts`)
 * - `["stats", "rooms" | "participants"]` -> Deno.KvU64, kept by the store's own transactions
 *   (`STATS_KEYS`), so `/metrics` reads two keys instead of every room
 * - `["health", isolate]` -> string (a random nonce, expiring after `HEALTH_PROBE_TTL_MS`):
 *   written and read back by each health check of that isolate (`RoomStore.ping`), so a check
 *   proves KV can be written, not only read, without isolates racing on one key
 *
 * Liveness and deadlines (`isolate_beats.ts`, `due_sweep.ts`), so that the periodic sweep touches
 * only rooms with something due and idle rooms cost nothing:
 * - `["isolates", isolate]` -> IsolateBeat: the server isolate's own heartbeat, one key whatever
 *   it serves; a connected member is alive while the isolate holding it beats
 * - `["served", isolate, roomId, peerId]` -> number (when the member was placed there): the
 *   connected members an isolate holds, so that when its beat stops only its rooms are visited
 * - `["due", time, roomId]` -> number (when the entry was written): the room has something due at
 *   `time` (a grace period ends); listed up to now by every sweep, deleted once swept
 * - `["sweep", "indexed"]` -> `{ at, isolate }`: rooms stored before the keys above existed have
 *   been swept once, and indexed (`due_sweep.ts`)
 */
import type { PeerId } from "./types.ts";

/** Prefix of every room's keys. */
export const ROOMS_PREFIX: Deno.KvKey = ["rooms"];

/**
 * Builders of a room's keys (see the layout above), for the store and for tools and tests that
 * look into KV.
 *
 * @example
 * ```ts
 * await kv.get<Member>(roomKeys.member(room, peer));
 * ```
 */
export const roomKeys = {
  room: (room: string): Deno.KvKey => ["rooms", room],
  member: (room: string, peer: PeerId): Deno.KvKey => ["rooms", room, "member", peer],
  beat: (room: string, peer: PeerId): Deno.KvKey => ["rooms", room, "beat", peer],
  links: (room: string, peer: PeerId): Deno.KvKey => ["rooms", room, "links", peer],
  knock: (room: string, peer: PeerId): Deno.KvKey => ["rooms", room, "knock", peer],
  /** The tombstone of an ended meeting (not under the room's range). */
  ended: (room: string): Deno.KvKey => ["ended", room],
} as const;

/** `["ended", roomId]`: who ended the meeting, and when (server clock). */
export interface EndedRoom {
  at: number;
  by: PeerId;
}

/**
 * How long an ended meeting's id refuses joins: long enough that everyone's reload, reconnect or
 * shared link finds "ended" rather than a fresh empty room, short enough not to hold ids forever.
 */
export const ENDED_ROOM_TTL_MS = 24 * 60 * 60_000;

/** Whether a key listed under `ROOMS_PREFIX` is a room's meta (`["rooms", roomId]`). */
export function isRoomMetaKey(key: Deno.KvKey): key is [string, string] {
  return key.length === 2 && typeof key[1] === "string";
}

/**
 * Every key of a room, its meta first: the meta key is the range's start, and key parts of type
 * boolean sort after strings (and numbers), so `true` bounds everything below the meta.
 */
export function roomRange(room: string): Deno.KvListSelector {
  return { start: roomKeys.room(room), end: [...roomKeys.room(room), true] };
}

/** Keys of the message bus between isolates (see the layout above). */
export const busKeys = {
  /** Everything waiting for `isolate`. */
  inbox: (isolate: string): Deno.KvKey => ["inbox", isolate],
  /**
   * One batch for `isolate`: `time` and `seq` increase per sender, so a prefix listing returns
   * each sender's batches in the order they were sent.
   */
  message: (isolate: string, time: number, sender: string, seq: number): Deno.KvKey => [
    "inbox",
    isolate,
    time,
    sender,
    seq,
  ],
  /** The doorbell `isolate` watches. */
  bell: (isolate: string): Deno.KvKey => ["bell", isolate],
  /** This database's identity for the channel between isolates of one process. */
  channel: ["bus", "channel"] as Deno.KvKey,
} as const;

/** Prefix of every isolate's published metrics. */
export const METRICS_PREFIX: Deno.KvKey = ["metrics"];

/** Where an isolate publishes its metrics. */
export function metricsKey(isolate: string): Deno.KvKey {
  return [...METRICS_PREFIX, isolate];
}

/**
 * Totals the store keeps up to date in the same atomic operations that change them: rooms and
 * members (connected or resuming) of the whole database. Counters are `Deno.KvU64` sums; a
 * decrement adds 2^64 - 1 (sums wrap around), see `MINUS_ONE` in room_cleanup.ts.
 */
export const STATS_KEYS = {
  rooms: ["stats", "rooms"] as Deno.KvKey,
  participants: ["stats", "participants"] as Deno.KvKey,
} as const;

/**
 * Where the health checks of `isolate` write their probe and read it back (`RoomStore.ping`).
 *
 * @example
 * ```ts
 * await kv.set(healthKey("i1"), nonce, { expireIn: HEALTH_PROBE_TTL_MS });
 * ```
 */
export function healthKey(isolate: string): Deno.KvKey {
  return ["health", isolate];
}

/**
 * A probe key outlives its isolate by at most this long: long enough that a key is not expiring
 * between its write and its read back, short enough that stopped isolates leave nothing behind.
 */
export const HEALTH_PROBE_TTL_MS = 60_000;

/** Prefix of every isolate's beat. */
export const ISOLATES_PREFIX: Deno.KvKey = ["isolates"];

/** Prefix of every due entry: listed from its start up to `dueUntil(now)`. */
export const DUE_PREFIX: Deno.KvKey = ["due"];

/** Keys of the liveness and deadline indexes (see the layout above). */
export const sweepKeys = {
  /** The beat of `isolate` (an `IsolateBeat`). */
  isolate: (isolate: string): Deno.KvKey => [...ISOLATES_PREFIX, isolate],
  /** Every member `isolate` holds, room by room. */
  served: (isolate: string): Deno.KvKey => ["served", isolate],
  /** One connected member held by `isolate`. */
  servedMember: (isolate: string, room: string, peer: PeerId): Deno.KvKey => [
    "served",
    isolate,
    room,
    peer,
  ],
  /** Something in `room` falls due at `at` (ms); keys sort by time. */
  due: (at: number, room: string): Deno.KvKey => [...DUE_PREFIX, at, room],
  /** Set once the rooms stored without these indexes have been swept and indexed. */
  indexed: ["sweep", "indexed"] as Deno.KvKey,
} as const;

/**
 * The due entries up to `now` (inclusive), oldest first: `true` sorts after every room id, so
 * `["due", now, true]` bounds the entries of time `now` too.
 */
export function dueUntil(now: number): Deno.KvListSelector {
  return { start: DUE_PREFIX, end: [...DUE_PREFIX, now, true] };
}
