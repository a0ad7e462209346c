/**
 * Rooms and their members in Deno KV. Every membership change is one atomic operation guarded by a
 * version check on `["rooms", roomId]`, so capacity, lock and host hold however many server
 * isolates or processes share the database.
 *
 * KV layout (other modules rely on it; `storeKeys` builds these keys): everything of a room lies
 * under `["rooms", roomId]`, so one range read returns the whole room (snapshots are read on every
 * membership change, so this is the hot read).
 * - `["rooms", roomId]` -> RoomMeta
 * - `["rooms", roomId, "member", peerId]` -> Member
 * - `["rooms", roomId, "beat", peerId]` -> number (ms timestamp of the last heartbeat)
 * - `["rooms", roomId, "links", peerId]` -> Links (the member's own reports about its links)
 *
 * A listing of `["rooms"]` therefore also yields the members' keys: the rooms are the keys of
 * length 2 (`isRoomMetaKey`).
 *
 * The previous layout (`["room", roomId]`, with `["member" | "beat" | "links", roomId, peerId]`)
 * is not read: a new top-level prefix keeps rooms stored by an older version from mixing with new
 * ones (their members would look like members without records: never removed, still counted for
 * capacity and host). Such rooms are simply forgotten on upgrade; people rejoin as new members.
 */

import { createHash } from "node:crypto";
import {
  LINK_STATES,
  type Links,
  type LinkState,
  type Member,
  type PeerId,
  type RemovalReason,
  type RoomMeta,
  type RoomSnapshot,
} from "./types.ts";

export interface StoreOptions {
  kv: Deno.Kv;
  /** Capacity of new rooms. Default 8. */
  capacity?: number;
  /** How long a disconnected member may resume. Default 30_000 ms. */
  graceMs?: number;
  /** A member whose heartbeat is older than this is removed. Default 20_000 ms. */
  heartbeatTimeoutMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

/**
 * `versionstamp` is the member record's as written: passed to `disconnect`, it makes the close of
 * this socket a no-op once the member has been taken over (resumed) by another socket.
 */
export type JoinResult =
  | { ok: true; member: Member; token: string; meta: RoomMeta; versionstamp: string }
  | { ok: false; code: "room-full" | "room-locked" };

export type ResumeResult =
  /** `previousIsolate` held the member's old socket, which the caller must close. */
  | { ok: true; member: Member; meta: RoomMeta; previousIsolate: string; versionstamp: string }
  | { ok: false; code: "resume-failed"; message: string };

/**
 * Largest capacity a room may have. Removing a member rewrites the link reports of the others,
 * each guarded by a version check, and KV allows 100 checks per atomic operation.
 */
export const MAX_CAPACITY = 64;

/** Bytes of randomness in a peer id: 96 bits, 16 base64url characters. */
const PEER_ID_BYTES = 12;
/** Bytes of randomness in a resume token's secret: 256 bits, 43 base64url characters. */
const SECRET_BYTES = 32;
const PEER_ID = /^[A-Za-z0-9_-]{16}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** KV's limits per atomic operation and per getMany call. */
const MAX_MUTATIONS = 1000;
const MAX_GET_MANY = 10;
/** KV allows 80 KiB (81,920 bytes) of keys per atomic operation; keep a margin for checks. */
const KEY_BYTES_BUDGET = 78 * 1024;

/**
 * Beats are written with expireIn only as a garbage collector for an orphan beat (a heartbeat that
 * raced with the removal of the room's last member, so no sweep will ever see it). Correctness never
 * depends on it: expiry is lazy, and every decision uses the stored timestamps.
 */
const BEAT_EXPIRY_MIN_MS = 60 * 60_000;

const MAX_ATTEMPTS = 64;

/** Prefix of every room's keys. */
export const ROOMS_PREFIX: Deno.KvKey = ["rooms"];
const roomKey = (room: string): Deno.KvKey => ["rooms", room];
const memberKey = (room: string, peer: PeerId): Deno.KvKey => ["rooms", room, "member", peer];
const beatKey = (room: string, peer: PeerId): Deno.KvKey => ["rooms", room, "beat", peer];
const linksKey = (room: string, peer: PeerId): Deno.KvKey => ["rooms", room, "links", peer];

/** The store's keys, for tools and tests that look into KV (see the layout above). */
export const storeKeys = {
  room: roomKey,
  member: memberKey,
  beat: beatKey,
  links: linksKey,
} as const;

/** Whether a key listed under `ROOMS_PREFIX` is a room's meta (`["rooms", roomId]`). */
export function isRoomMetaKey(key: Deno.KvKey): key is [string, string] {
  return key.length === 2 && typeof key[1] === "string";
}

/**
 * Every key of a room, its meta first: the meta key is the range's start, and key parts of type
 * boolean sort after strings (and numbers), so `true` bounds everything below the meta.
 */
const roomRange = (room: string): Deno.KvListSelector => ({
  start: roomKey(room),
  end: [...roomKey(room), true],
});
/**
 * A room has at most 1 + 3 × MAX_CAPACITY keys (plus rare orphans): one batch reads it whole, so
 * a room read is one KV read at one point in time.
 */
const ROOM_READ_BATCH = 1000;

/** A whole room as read at one moment; entries by peer id. */
interface RoomRead {
  meta: Deno.KvEntryMaybe<RoomMeta>;
  members: Map<PeerId, Deno.KvEntry<Member>>;
  beats: Map<PeerId, Deno.KvEntry<number>>;
  links: Map<PeerId, Deno.KvEntry<Links>>;
  /** Every key below the meta, also those of peers that are not members (orphans). */
  keys: Deno.KvKey[];
}

export class RoomStore {
  readonly #kv: Deno.Kv;
  readonly #capacity: number;
  readonly #graceMs: number;
  readonly #heartbeatTimeoutMs: number;
  readonly #now: () => number;
  readonly #beatExpiryMs: number;

  constructor(opts: StoreOptions) {
    this.#kv = opts.kv;
    this.#capacity = opts.capacity ?? 8;
    this.#graceMs = opts.graceMs ?? 30_000;
    this.#heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? 20_000;
    this.#now = opts.now ?? Date.now;
    if (!Number.isInteger(this.#capacity) || this.#capacity < 1 || this.#capacity > MAX_CAPACITY) {
      throw new RangeError(`capacity must be an integer from 1 to ${MAX_CAPACITY}`);
    }
    assertDuration("graceMs", this.#graceMs);
    assertDuration("heartbeatTimeoutMs", this.#heartbeatTimeoutMs);
    this.#beatExpiryMs = Math.max(
      BEAT_EXPIRY_MIN_MS,
      10 * (this.#graceMs + this.#heartbeatTimeoutMs),
    );
  }

  async join(room: string, input: { name: string; isolate: string }): Promise<JoinResult> {
    if (input.name.trim() === "") throw new TypeError("name must not be empty");
    const token = newToken();
    const tokenHash = sha256Hex(token.secret);
    const peer = token.peer;
    return await retry<JoinResult>("join", async () => {
      const metaEntry = await this.#kv.get<RoomMeta>(roomKey(room));
      const now = this.#now();
      const old = metaEntry.value;
      if (old?.locked) return { ok: false, code: "room-locked" };
      if (old && old.members.length >= old.capacity) return { ok: false, code: "room-full" };
      const meta: RoomMeta = old
        ? { ...old, host: old.host ?? peer, members: [...old.members, peer] }
        : {
          id: room,
          createdAt: now,
          capacity: this.#capacity,
          locked: false,
          host: peer,
          members: [peer],
        };
      const member: Member = {
        peer,
        name: input.name,
        joinedAt: now,
        isolate: input.isolate,
        connected: true,
        disconnectedAt: null,
        tokenHash,
      };
      const links: Links = {};
      const res = await this.#kv.atomic()
        .check(metaEntry)
        // 96 random bits never collide in practice; the check makes a collision a retry, not a takeover.
        .check({ key: memberKey(room, peer), versionstamp: null })
        .set(roomKey(room), meta)
        .set(memberKey(room, peer), member)
        .set(beatKey(room, peer), now, { expireIn: this.#beatExpiryMs })
        .set(linksKey(room, peer), links)
        .commit();
      if (!res.ok) return CONFLICT;
      return { ok: true, member, token: token.text, meta, versionstamp: res.versionstamp };
    });
  }

  async resume(room: string, token: string, isolate: string): Promise<ResumeResult> {
    const parsed = parseToken(token);
    if (!parsed) return resumeFailed("malformed resume token");
    const tokenHash = sha256Hex(parsed.secret);
    const { peer } = parsed;
    return await retry<ResumeResult>("resume", async () => {
      const [metaEntry, memberEntry, beatEntry] = await this.#kv.getMany<
        [RoomMeta, Member, number]
      >([
        roomKey(room),
        memberKey(room, peer),
        beatKey(room, peer),
      ]);
      const meta = metaEntry.value;
      const old = memberEntry.value;
      if (!meta) return resumeFailed("room does not exist (anymore)");
      if (!old || !meta.members.includes(peer)) {
        return resumeFailed("not a member of this room (left or removed)");
      }
      if (!timingSafeEqual(old.tokenHash, tokenHash)) {
        return resumeFailed("resume token does not match");
      }
      // Check the clock here too: a sweep may not have run yet, and an expired member must stay gone.
      const now = this.#now();
      const expired = this.#expiry(old, beatEntry.value, now);
      if (expired === "grace-expired") return resumeFailed("grace period expired");
      if (expired === "heartbeat") return resumeFailed("membership expired (no heartbeat)");
      const member: Member = { ...old, connected: true, disconnectedAt: null, isolate };
      // The member check also fails when the member was removed meanwhile.
      const res = await this.#kv.atomic()
        .check(memberEntry)
        .set(memberKey(room, peer), member)
        .set(beatKey(room, peer), now, { expireIn: this.#beatExpiryMs })
        .commit();
      if (!res.ok) return CONFLICT;
      return {
        ok: true,
        member,
        meta,
        previousIsolate: old.isolate,
        versionstamp: res.versionstamp,
      };
    });
  }

  /** Reads one key: tells whether the store answers (health checks). */
  async ping(): Promise<void> {
    await this.#kv.get(["health"]);
  }

  /**
   * Marks a member disconnected (its grace period starts). With `isolate`, only if the member is
   * still held by that isolate: a late close of an old socket must not undo a resume elsewhere.
   * With `versionstamp` (from the socket's join or resume), only if the member record is still
   * the one that socket wrote: a close racing with a resume on the same isolate must not undo it.
   */
  async disconnect(
    room: string,
    peer: PeerId,
    isolate?: string,
    versionstamp?: string,
  ): Promise<void> {
    await retry("disconnect", async () => {
      const entry = await this.#kv.get<Member>(memberKey(room, peer));
      // Already disconnected: keep the first disconnectedAt, so repeated calls cannot extend grace.
      if (!entry.value || !entry.value.connected) return undefined;
      if (isolate !== undefined && entry.value.isolate !== isolate) return undefined;
      if (versionstamp !== undefined && entry.versionstamp !== versionstamp) return undefined;
      const member: Member = { ...entry.value, connected: false, disconnectedAt: this.#now() };
      const res = await this.#kv.atomic().check(entry).set(entry.key, member).commit();
      return res.ok ? undefined : CONFLICT;
    });
  }

  async remove(room: string, peer: PeerId): Promise<RoomMeta | null> {
    return (await this.#removeMember(room, peer)).meta;
  }

  async heartbeat(entries: { room: string; peer: PeerId }[]): Promise<void> {
    const unique = new Map<string, { room: string; peer: PeerId }>();
    for (const e of entries) unique.set(JSON.stringify([e.room, e.peer]), e);
    // Only members that exist get a beat, so a heartbeat cannot resurrect a removed member. A
    // removal between this read and the write below can leave an orphan beat; sweep/remove clean it.
    const present = await Promise.all(
      chunk([...unique.values()], MAX_GET_MANY).map((part) =>
        retry("heartbeat", async () => {
          const found = await this.#kv.getMany(part.map((e) => memberKey(e.room, e.peer)));
          return part.filter((_, i) => found[i].versionstamp !== null);
        })
      ),
    );
    const now = this.#now();
    const keys = present.flat().map((e) => beatKey(e.room, e.peer));
    for (const part of chunkByKeySize(keys)) {
      await retry("heartbeat", async () => {
        const op = this.#kv.atomic();
        for (const key of part) op.set(key, now, { expireIn: this.#beatExpiryMs });
        // No checks, so a commit cannot conflict; retry only covers "database is locked".
        await op.commit();
        return undefined;
      });
    }
  }

  async reportLinks(
    room: string,
    peer: PeerId,
    states: Record<PeerId, LinkState>,
  ): Promise<boolean> {
    return await retry("reportLinks", async () => {
      const [metaEntry, linksEntry] = await this.#kv.getMany<[RoomMeta, Links]>([
        roomKey(room),
        linksKey(room, peer),
      ]);
      const meta = metaEntry.value;
      if (!meta || !meta.members.includes(peer)) return false;
      const previous = linksEntry.value ?? {};
      const now = this.#now();
      const next: Links = {};
      for (const [other, state] of Object.entries(states)) {
        if (other === peer || !meta.members.includes(other) || !LINK_STATES.includes(state)) {
          continue;
        }
        const before = previous[other];
        // "connecting" and "failed" are both "not connected": moving between them (an ICE
        // restart) must not restart the clock of the mesh deadline.
        const same = before !== undefined &&
          (before.state === state || (before.state !== "connected" && state !== "connected"));
        next[other] = { state, since: same ? before.since : now };
      }
      if (sameLinks(previous, next)) return false;
      // The meta check keeps a peer removed meanwhile from reappearing in the report.
      const res = await this.#kv.atomic()
        .check(metaEntry)
        .check(linksEntry)
        .set(linksKey(room, peer), next)
        .commit();
      return res.ok ? true : CONFLICT;
    });
  }

  async setLocked(room: string, locked: boolean): Promise<RoomMeta | null> {
    return await retry("setLocked", async () => {
      const entry = await this.#kv.get<RoomMeta>(roomKey(room));
      if (!entry.value) return null;
      if (entry.value.locked === locked) return entry.value;
      const meta: RoomMeta = { ...entry.value, locked };
      const res = await this.#kv.atomic().check(entry).set(entry.key, meta).commit();
      return res.ok ? meta : CONFLICT;
    });
  }

  async snapshot(room: string): Promise<RoomSnapshot | null> {
    const { meta: { value: meta }, members, beats, links } = await retry(
      "snapshot",
      () => this.#readRoom(room),
    );
    if (!meta) return null;
    const list: RoomSnapshot["members"] = [];
    for (const peer of meta.members) {
      const member = members.get(peer)?.value;
      // Cannot happen: meta and member are written together, and one read sees both.
      if (!member) continue;
      list.push({
        ...member,
        heartbeatAt: beats.get(peer)?.value ?? member.joinedAt,
        links: links.get(peer)?.value ?? {},
      });
    }
    return { meta, members: list };
  }

  async sweep(room: string): Promise<{ peer: PeerId; reason: RemovalReason }[]> {
    const { meta: { value: meta }, members, beats, keys } = await retry(
      "sweep",
      () => this.#readRoom(room),
    );
    if (!meta) {
      if (keys.length > 0) await this.#deleteLeftovers(room);
      return [];
    }
    const removed: { peer: PeerId; reason: RemovalReason }[] = [];
    const now = this.#now();
    for (const peer of meta.members) {
      const member = members.get(peer)?.value;
      if (!member) continue;
      const reason = this.#expiry(member, beats.get(peer)?.value ?? null, now);
      if (!reason) continue;
      // Decide again inside the removal's own transaction: the member may have resumed meanwhile.
      const result = await this.#removeMember(
        room,
        peer,
        (m, beat) => m !== null && this.#expiry(m, beat, this.#now()) === reason,
      );
      if (result.removed) removed.push({ peer, reason });
    }
    if (meta.members.length === 0) await this.#deleteEmptyRoom(room);
    // Orphans (keys of non-members) come only from rare races; look again only if this read saw one.
    const listed = new Set(meta.members);
    if (keys.some((key) => !listed.has(key[3] as string))) await this.#deleteOrphans(room);
    return removed;
  }

  /**
   * Ids of the rooms in the store, and of rooms whose meta is gone but keys are left (a sweep of
   * such a room deletes them). Reads every key below `ROOMS_PREFIX`: a room's keys are contiguous.
   */
  async *rooms(): AsyncIterable<string> {
    let last: string | undefined;
    for await (const entry of this.#kv.list({ prefix: ROOMS_PREFIX }, { batchSize: 1000 })) {
      const id = entry.key[1];
      if (typeof id !== "string" || id === last) continue;
      last = id;
      yield id;
    }
  }

  /** Why the member should be removed at `now`, or null while it may stay. */
  #expiry(member: Member, beatAt: number | null, now: number): RemovalReason | null {
    if (!member.connected) {
      // A disconnected member has no socket, hence no heartbeats: only its grace period counts.
      return now - (member.disconnectedAt ?? member.joinedAt) > this.#graceMs
        ? "grace-expired"
        : null;
    }
    // A missing beat (only after the lazy expiry of a very old one) counts as one at join time.
    return now - (beatAt ?? member.joinedAt) > this.#heartbeatTimeoutMs ? "heartbeat" : null;
  }

  /**
   * Removes `peer` in one atomic operation: its keys, its entry in the others' link reports, and
   * its place in the meta (passing on the host, deleting the room when it was the last member).
   * With `guard`, removes only if the guard still holds for the member and beat read inside the
   * transaction, and the commit fails if either changed since.
   */
  async #removeMember(
    room: string,
    peer: PeerId,
    guard?: (member: Member | null, beat: number | null) => boolean,
  ): Promise<{ removed: boolean; meta: RoomMeta | null }> {
    const result = await retry("remove", async () => {
      const read = await this.#readRoom(room);
      const metaEntry = read.meta;
      const memberEntry = read.members.get(peer) ?? absent<Member>(memberKey(room, peer));
      const beatEntry = read.beats.get(peer) ?? absent<number>(beatKey(room, peer));
      const meta = metaEntry.value;
      if (!meta) return { removed: false, meta: null, leftovers: true };
      if (guard && !guard(memberEntry.value, beatEntry.value)) {
        return { removed: false, meta, leftovers: false };
      }
      const op = this.#kv.atomic().check(metaEntry);
      if (guard) op.check(memberEntry).check(beatEntry);
      if (!meta.members.includes(peer)) {
        // Not a member: only stray keys (an orphan beat) may be left; delete them, keep the meta.
        if (memberEntry.versionstamp === null && beatEntry.versionstamp === null) {
          return { removed: false, meta, leftovers: false };
        }
        op.delete(memberKey(room, peer)).delete(beatKey(room, peer)).delete(linksKey(room, peer));
        return (await op.commit()).ok ? { removed: false, meta, leftovers: false } : CONFLICT;
      }
      const members = meta.members.filter((p) => p !== peer);
      if (members.length === 0) {
        // The room's keys are bounded by capacity (plus rare orphans), far below the mutation limit;
        // anything beyond one operation is swept up by the next call as leftovers.
        op.delete(roomKey(room));
        for (const key of read.keys.slice(0, MAX_MUTATIONS - 1)) op.delete(key);
        return (await op.commit()).ok ? { removed: true, meta: null, leftovers: false } : CONFLICT;
      }
      const host = meta.host === peer || meta.host === null ? members[0] : meta.host;
      const next: RoomMeta = { ...meta, host, members };
      op.set(roomKey(room), next)
        .delete(memberKey(room, peer))
        .delete(beatKey(room, peer))
        .delete(linksKey(room, peer));
      // Every remaining member's report is checked, also those that do not mention `peer`: a
      // report committed meanwhile (read before this removal) could name it again.
      for (const other of members) {
        const entry = read.links.get(other) ?? { key: linksKey(room, other), versionstamp: null };
        op.check(entry);
        if (!("value" in entry) || !(peer in entry.value)) continue;
        const { [peer]: _gone, ...rest } = entry.value;
        op.set(entry.key, rest);
      }
      return (await op.commit()).ok ? { removed: true, meta: next, leftovers: false } : CONFLICT;
    });
    if (result.leftovers) await this.#deleteLeftovers(room);
    return { removed: result.removed, meta: result.meta };
  }

  /** Deletes a room whose member list is empty (cannot arise from this store, but stay tidy). */
  async #deleteEmptyRoom(room: string): Promise<void> {
    await retry("sweep", async () => {
      const entry = await this.#kv.get<RoomMeta>(roomKey(room));
      if (!entry.value || entry.value.members.length > 0) return undefined;
      const res = await this.#kv.atomic().check(entry).delete(entry.key).commit();
      return res.ok ? undefined : CONFLICT;
    });
    await this.#deleteLeftovers(room);
  }

  /** Deletes member, beat and links keys of a room whose meta is gone. */
  async #deleteLeftovers(room: string): Promise<void> {
    await retry("cleanup", async () => {
      const keys: Deno.KvKey[] = [];
      for await (const entry of this.#kv.list({ prefix: roomKey(room) })) keys.push(entry.key);
      if (keys.length === 0) return undefined;
      for (const part of chunkByKeySize(keys)) {
        // The meta check keeps a room re-created meanwhile (a new first join) intact.
        const op = this.#kv.atomic().check({ key: roomKey(room), versionstamp: null });
        for (const key of part) op.delete(key);
        if (!(await op.commit()).ok) return undefined;
      }
      return undefined;
    });
  }

  /** Deletes keys of peers that are not (or no longer) in the room's member list. */
  async #deleteOrphans(room: string): Promise<void> {
    await retry("sweep", async () => {
      const { meta: metaEntry, keys } = await this.#readRoom(room);
      if (!metaEntry.value) return undefined;
      const members = new Set(metaEntry.value.members);
      const orphans = keys.filter((key) => !members.has(key[3] as string));
      if (orphans.length === 0) return undefined;
      const op = this.#kv.atomic().check(metaEntry);
      for (const key of orphans.slice(0, MAX_MUTATIONS)) op.delete(key);
      return (await op.commit()).ok ? undefined : CONFLICT;
    });
  }

  /** The whole room in one KV read (one batch of one range). */
  async #readRoom(room: string): Promise<RoomRead> {
    const read: RoomRead = {
      meta: absent<RoomMeta>(roomKey(room)),
      members: new Map(),
      beats: new Map(),
      links: new Map(),
      keys: [],
    };
    const entries = this.#kv.list<unknown>(roomRange(room), { batchSize: ROOM_READ_BATCH });
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
}

/** What a read of a missing key returns: a check on it asserts that the key still does not exist. */
function absent<T>(key: Deno.KvKey): Deno.KvEntryMaybe<T> {
  return { key, value: null, versionstamp: null };
}

// ---------------------------------------------------------------------------------------------
// Retry

/** Returned by a retry step when its atomic commit lost a version check: read again and redo. */
const CONFLICT: unique symbol = Symbol("conflict");

/**
 * Runs a read-check-commit step until it returns something other than CONFLICT. Also retries when
 * KV throws "database is locked" (several processes on one sqlite file). Backs off with jitter so
 * contenders spread out; gives up after MAX_ATTEMPTS with an error that says what was tried.
 */
async function retry<T>(what: string, step: () => Promise<T | typeof CONFLICT>): Promise<T> {
  let locked = 0;
  for (let attempt = 1;; attempt++) {
    let lastError: unknown = undefined;
    try {
      const result = await step();
      if (result !== CONFLICT) return result;
    } catch (error) {
      if (!isDatabaseLocked(error)) throw error;
      lastError = error;
      locked++;
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw new Error(
        `${what}: gave up after ${attempt} attempts (${
          attempt - locked
        } conflicts, ${locked} "database is locked")`,
        { cause: lastError },
      );
    }
    await sleep(backoffMs(attempt));
  }
}

function isDatabaseLocked(error: unknown): boolean {
  return error instanceof Error && /database is locked/i.test(error.message);
}

/** Full jitter over an exponentially growing window: 2, 4, 8, … capped at 50 ms. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(50, 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Tokens

function newToken(): { peer: PeerId; secret: string; text: string } {
  const peer = base64url(crypto.getRandomValues(new Uint8Array(PEER_ID_BYTES)));
  const secret = base64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
  return { peer, secret, text: `${peer}.${secret}` };
}

function parseToken(token: string): { peer: PeerId; secret: string } | null {
  const [peer, secret, ...rest] = token.split(".");
  if (rest.length > 0 || !PEER_ID.test(peer) || secret === undefined || !SECRET.test(secret)) {
    return null;
  }
  return { peer, secret };
}

function base64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * Synchronous on purpose: `crypto.subtle.digest` hands every call to a worker thread and back,
 * about 30 µs of CPU for these few bytes, against about 1 µs here (one per join and resume).
 */
function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Compares without an early exit, so timing does not reveal how much of a hash matched. */
function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function assertDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number >= 0`);
}

function resumeFailed(message: string): ResumeResult {
  return { ok: false, code: "resume-failed", message };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function sameLinks(a: Links, b: Links): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) =>
    b[k] !== undefined && a[k].state === b[k].state && a[k].since === b[k].since
  );
}

function chunk<T>(items: T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

/** Splits keys into groups that fit one atomic operation: <= 1000 mutations and the key-size cap. */
function chunkByKeySize(keys: Deno.KvKey[]): Deno.KvKey[][] {
  const parts: Deno.KvKey[][] = [];
  let current: Deno.KvKey[] = [];
  let bytes = 0;
  for (const key of keys) {
    const size = keySize(key);
    if (
      current.length > 0 && (current.length >= MAX_MUTATIONS || bytes + size > KEY_BYTES_BUDGET)
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
