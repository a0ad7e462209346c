/**
 * Rooms and their members in Deno KV. Every membership change is one atomic operation guarded by a
 * version check on `["rooms", roomId]`, so capacity and host hold however many server isolates or
 * processes share the database.
 *
 * The keys are laid out in `keys.ts`; a room is read whole in one call (`room_read.ts`); removals
 * and clean-ups are in `room_cleanup.ts`; every transaction runs under `retryKv` (`kv_retry.ts`).
 */
import { HEALTH_KEY, roomKeys as keys, ROOMS_PREFIX, STATS_KEYS } from "./keys.ts";
import { chunk, chunkForAtomic } from "./kv_chunks.ts";
import { commitUnchecked, CONFLICT, retryKv } from "./kv_retry.ts";
import { CONFIG_DEFAULTS, KV_LIMITS, MAX_CAPACITY } from "./limits.ts";
import { nextLinkReport, sameLinks } from "./link_reports.ts";
import { deleteEmptyRoom, deleteLeftovers, deleteOrphans, removeMember } from "./room_cleanup.ts";
import { readRoom, toSnapshot } from "./room_read.ts";
import { newToken, parseToken, sha256Hex, timingSafeEqual } from "./tokens.ts";
import {
  type Links,
  type LinkState,
  type Member,
  type PeerId,
  type RemovalReason,
  type RoomMeta,
  type RoomSnapshot,
} from "./types.ts";

/** How a `RoomStore` treats its rooms; defaults from `CONFIG_DEFAULTS`. */
export interface StoreOptions {
  kv: Deno.Kv;
  /** Capacity of new rooms, 1 to MAX_CAPACITY. */
  capacity?: number;
  /** How long a disconnected member may resume. */
  graceMs?: number;
  /** A member whose heartbeat is older than this is removed. */
  heartbeatTimeoutMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

/**
 * `versionstamp` is the member record's as written: passed to `disconnect`, it makes the close of
 * this socket a no-op once the member has been taken over (resumed) by another socket.
 */
export type JoinResult =
  | {
    ok: true;
    member: Member;
    token: string;
    meta: RoomMeta;
    versionstamp: string;
    /** This join created the room. */
    created: boolean;
  }
  /** `no-room`: the room does not exist and the caller said `mayCreate: false`. */
  | { ok: false; code: "room-full" | "room-locked" | "no-room" };

/** `previousIsolate` held the member's old socket, which the caller must close. */
export type ResumeResult =
  | { ok: true; member: Member; meta: RoomMeta; previousIsolate: string; versionstamp: string }
  | { ok: false; code: "resume-failed"; message: string };

/** Why a sweep removes a member: its grace period or its server's heartbeat ran out. */
export type ExpiryReason = Extract<RemovalReason, "heartbeat" | "grace-expired">;

/**
 * Beats are written with expireIn only as a garbage collector for an orphan beat (a heartbeat that
 * raced with the removal of the room's last member, so no sweep will ever see it). Correctness never
 * depends on it: expiry is lazy, and every decision uses the stored timestamps.
 */
const BEAT_EXPIRY_MIN_MS = 60 * 60_000;

/**
 * The rooms of one database. Stateless apart from its settings: any number of stores (one per
 * isolate, in any number of processes) may work on the same rooms at once.
 *
 * @example
 * ```ts
 * const store = new RoomStore({ kv: await Deno.openKv(":memory:"), capacity: 4 });
 * const joined = await store.join("k3fq-9xmp-2hdw-7rtc-a4ze", { name: "Ada", isolate: "i1" });
 * if (joined.ok) console.log(joined.member.peer, (await store.snapshot(joined.meta.id))?.members);
 * ```
 */
export class RoomStore {
  readonly #kv: Deno.Kv;
  readonly #capacity: number;
  readonly #graceMs: number;
  readonly #heartbeatTimeoutMs: number;
  readonly #now: () => number;
  readonly #beatExpiryMs: number;

  constructor(opts: StoreOptions) {
    this.#kv = opts.kv;
    this.#capacity = opts.capacity ?? CONFIG_DEFAULTS.capacity;
    this.#graceMs = opts.graceMs ?? CONFIG_DEFAULTS.graceMs;
    this.#heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? CONFIG_DEFAULTS.heartbeatTimeoutMs;
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

  /**
   * Admits a new member (creating the room with the first, unless `mayCreate` is false), unless
   * the room is full or locked.
   */
  async join(
    room: string,
    input: { name: string; isolate: string; mayCreate?: boolean },
  ): Promise<JoinResult> {
    if (input.name.trim() === "") throw new TypeError("name must not be empty");
    const token = newToken();
    const tokenHash = sha256Hex(token.secret);
    const peer = token.peer;
    return await retryKv<JoinResult>("join", async () => {
      const metaEntry = await this.#kv.get<RoomMeta>(keys.room(room));
      const now = this.#now();
      const old = metaEntry.value;
      if (!old && input.mayCreate === false) return { ok: false, code: "no-room" };
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
      const op = this.#kv.atomic()
        .check(metaEntry)
        // 96 random bits never collide in practice; the check makes a collision a retry, not a takeover.
        .check({ key: keys.member(room, peer), versionstamp: null })
        .set(keys.room(room), meta)
        .set(keys.member(room, peer), member)
        .set(keys.beat(room, peer), now, { expireIn: this.#beatExpiryMs })
        .set(keys.links(room, peer), links)
        .sum(STATS_KEYS.participants, 1n);
      if (!old) op.sum(STATS_KEYS.rooms, 1n);
      const res = await op.commit();
      if (!res.ok) return CONFLICT;
      return {
        ok: true,
        member,
        token: token.text,
        meta,
        versionstamp: res.versionstamp,
        created: !old,
      };
    });
  }

  /**
   * Gives a member its place back on a new socket (of `isolate`), if `token` is its resume token
   * and it has not expired; a still-connected member may be resumed too (a newer socket wins).
   */
  async resume(room: string, token: string, isolate: string): Promise<ResumeResult> {
    const parsed = parseToken(token);
    if (!parsed) return resumeFailed("malformed resume token");
    const tokenHash = sha256Hex(parsed.secret);
    const { peer } = parsed;
    return await retryKv<ResumeResult>("resume", async () => {
      const [metaEntry, memberEntry, beatEntry] = await this.#kv.getMany<
        [RoomMeta, Member, number]
      >([keys.room(room), keys.member(room, peer), keys.beat(room, peer)]);
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
        .set(keys.member(room, peer), member)
        .set(keys.beat(room, peer), now, { expireIn: this.#beatExpiryMs })
        .commit();
      if (!res.ok) return CONFLICT;
      const previousIsolate = old.isolate;
      return { ok: true, member, meta, previousIsolate, versionstamp: res.versionstamp };
    });
  }

  /** Reads one key: tells whether the store answers (health checks). */
  async ping(): Promise<void> {
    await this.#kv.get(HEALTH_KEY);
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
    await retryKv("disconnect", async () => {
      const entry = await this.#kv.get<Member>(keys.member(room, peer));
      // Already disconnected: keep the first disconnectedAt, so repeated calls cannot extend grace.
      if (!entry.value || !entry.value.connected) return undefined;
      if (isolate !== undefined && entry.value.isolate !== isolate) return undefined;
      if (versionstamp !== undefined && entry.versionstamp !== versionstamp) return undefined;
      const member: Member = { ...entry.value, connected: false, disconnectedAt: this.#now() };
      const res = await this.#kv.atomic().check(entry).set(entry.key, member).commit();
      return res.ok ? undefined : CONFLICT;
    });
  }

  /** Removes a member now (left, or evicted); returns the room afterwards, null if it is gone. */
  async remove(room: string, peer: PeerId): Promise<RoomMeta | null> {
    return (await removeMember(this.#kv, room, peer)).meta;
  }

  /** Records that these members' sockets are alive, in as few KV calls as the limits allow. */
  async heartbeat(entries: { room: string; peer: PeerId }[]): Promise<void> {
    const unique = new Map<string, { room: string; peer: PeerId }>();
    for (const e of entries) unique.set(JSON.stringify([e.room, e.peer]), e);
    // Only members that exist get a beat, so a heartbeat cannot resurrect a removed member. A
    // removal between this read and the write below can leave an orphan beat; sweep/remove clean it.
    const present = await Promise.all(
      chunk([...unique.values()], KV_LIMITS.getManyKeys).map((part) =>
        retryKv("heartbeat", async () => {
          const found = await this.#kv.getMany(part.map((e) => keys.member(e.room, e.peer)));
          return part.filter((_, i) => found[i].versionstamp !== null);
        })
      ),
    );
    const now = this.#now();
    const beats = present.flat().map((e) => keys.beat(e.room, e.peer));
    for (const part of chunkForAtomic(beats)) {
      await commitUnchecked("heartbeat", () => {
        const op = this.#kv.atomic();
        for (const key of part) op.set(key, now, { expireIn: this.#beatExpiryMs });
        return op;
      });
    }
  }

  /**
   * Stores a member's own report of its links (to current members only). True when the stored
   * report changed, so the room's roster should be sent again.
   */
  async reportLinks(
    room: string,
    peer: PeerId,
    states: Record<PeerId, LinkState>,
  ): Promise<boolean> {
    return await retryKv("reportLinks", async () => {
      const [metaEntry, linksEntry] = await this.#kv.getMany<[RoomMeta, Links]>([
        keys.room(room),
        keys.links(room, peer),
      ]);
      const meta = metaEntry.value;
      if (!meta || !meta.members.includes(peer)) return false;
      const previous = linksEntry.value ?? {};
      const next = nextLinkReport(previous, states, {
        self: peer,
        members: meta.members,
        now: this.#now(),
      });
      if (sameLinks(previous, next)) return false;
      // The meta check keeps a peer removed meanwhile from reappearing in the report.
      const res = await this.#kv.atomic()
        .check(metaEntry)
        .check(linksEntry)
        .set(keys.links(room, peer), next)
        .commit();
      return res.ok ? true : CONFLICT;
    });
  }

  /** The room with every member's heartbeat and links, from one read; null if it does not exist. */
  async snapshot(room: string): Promise<RoomSnapshot | null> {
    return toSnapshot(await retryKv("snapshot", () => readRoom(this.#kv, room)));
  }

  /**
   * Removes the room's members whose grace period or heartbeat has run out, and keys that races
   * left behind. Returns who was removed and why.
   */
  async sweep(room: string): Promise<{ peer: PeerId; reason: ExpiryReason }[]> {
    const { meta: { value: meta }, members, beats, keys: stored } = await retryKv(
      "sweep",
      () => readRoom(this.#kv, room),
    );
    if (!meta) {
      if (stored.length > 0) await deleteLeftovers(this.#kv, room);
      return [];
    }
    const removed: { peer: PeerId; reason: ExpiryReason }[] = [];
    const now = this.#now();
    for (const peer of meta.members) {
      const member = members.get(peer)?.value;
      if (!member) continue;
      const reason = this.#expiry(member, beats.get(peer)?.value ?? null, now);
      if (!reason) continue;
      // Decide again inside the removal's own transaction: the member may have resumed meanwhile.
      const result = await removeMember(
        this.#kv,
        room,
        peer,
        (m, beat) => m !== null && this.#expiry(m, beat, this.#now()) === reason,
      );
      if (result.removed) removed.push({ peer, reason });
    }
    if (meta.members.length === 0) await deleteEmptyRoom(this.#kv, room);
    // Orphans (keys of non-members) come only from rare races; look again only if this read saw one.
    const listed = new Set(meta.members);
    if (stored.some((key) => !listed.has(key[3] as string))) {
      await deleteOrphans(this.#kv, room);
    }
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
  #expiry(member: Member, beatAt: number | null, now: number): ExpiryReason | null {
    if (!member.connected) {
      // A disconnected member has no socket, hence no heartbeats: only its grace period counts.
      return now - (member.disconnectedAt ?? member.joinedAt) > this.#graceMs
        ? "grace-expired"
        : null;
    }
    // A missing beat (only after the lazy expiry of a very old one) counts as one at join time.
    return now - (beatAt ?? member.joinedAt) > this.#heartbeatTimeoutMs ? "heartbeat" : null;
  }
}

function assertDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number >= 0`);
}

function resumeFailed(message: string): ResumeResult {
  return { ok: false, code: "resume-failed", message };
}
