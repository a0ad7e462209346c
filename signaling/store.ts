/**
 * Rooms and their members in Deno KV. Every membership change and every host action is one
 * atomic operation guarded by a version check on `["rooms", roomId]`, so capacity, hosts, locks
 * and bans hold however many server isolates or processes share the database.
 *
 * The keys are laid out in `keys.ts`; a room is read whole in one call (`room_read.ts`); removals
 * and clean-ups are in `room_cleanup.ts`; host actions and the lobby in `room_roles.ts`; every
 * transaction runs under `retryKv` (`kv_retry.ts`).
 */
import {
  type EndedRoom,
  HEALTH_PROBE_TTL_MS,
  healthKey,
  roomKeys as keys,
  ROOMS_PREFIX,
  STATS_KEYS,
} from "./keys.ts";
import { chunk, chunkForAtomic } from "./kv_chunks.ts";
import { KvProbeError } from "./kv_health.ts";
import { commitUnchecked, CONFLICT, retryKv } from "./kv_retry.ts";
import { CONFIG_DEFAULTS, KV_LIMITS, MAX_CAPACITY } from "./limits.ts";
import { nextLinkReport, sameLinks } from "./link_reports.ts";
import type { HostAction, JsonValue, RemovalView } from "./protocol.ts";
import {
  deleteEmptyRoom,
  deleteLeftovers,
  deleteOrphans,
  deleteStaleKnocks,
  removeMember,
  withHost,
} from "./room_cleanup.ts";
import {
  absent,
  normalizeMember,
  normalizeMeta,
  orphanKeys,
  readRoom,
  toSnapshot,
} from "./room_read.ts";
import {
  beatKnocks,
  endedAt,
  hostAction,
  type HostActionResult,
  knock,
  knockPayload,
  type KnockResult,
  type KnockState,
  knockState,
  type RolesContext,
  withdrawKnock,
} from "./room_roles.ts";
import { newToken, parseToken, sha256Hex, timingSafeEqual } from "./tokens.ts";
import {
  type HostFallback,
  type KnockRecord,
  type Links,
  type LinkState,
  type Member,
  type PeerId,
  type RemovalReason,
  type RoomMeta,
  type RoomSnapshot,
} from "./types.ts";

export type { HostActionResult, KnockResult, KnockState };

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
  /** What a room does when its last host leaves and members remain. Default "oldest". */
  hostFallback?: HostFallback;
}

/**
 * A new member. `versionstamp` is the member record's as written: passed to `disconnect`, it
 * makes the close of this socket a no-op once the member has been taken over (resumed) by another
 * socket.
 */
export interface Joined {
  ok: true;
  member: Member;
  token: string;
  meta: RoomMeta;
  versionstamp: string;
  /** This join created the room. */
  created: boolean;
  /** The new member is a host (it created the room, or reclaimed the role with its secret). */
  host: boolean;
}

/**
 * `no-room`: the room does not exist and the caller said `mayCreate: false`. `removed`: a host
 * removed the owner of this secret. `room-ended`: a host ended the meeting. `lobby`: the lobby is
 * on and this is no host reclaim; the caller knocks (`RoomStore.knock`).
 */
export type JoinResult =
  | Joined
  | {
    ok: false;
    code: "room-full" | "room-locked" | "no-room" | "removed" | "room-ended" | "lobby";
  };

/**
 * An admitted knock's join. No token: the caller holds the one `knock` gave (the store keeps only
 * its hash). `denied`: the knock is gone or was not admitted (denied, withdrawn, already joined).
 */
export type AdmittedResult =
  | Omit<Joined, "token">
  | { ok: false; code: "room-full" | "no-room" | "removed" | "room-ended" | "denied" };

/**
 * `previousIsolate` held the member's old socket, which the caller must close. `token` is the
 * member's new resume token: the one used here no longer works.
 */
export type ResumeResult =
  | {
    ok: true;
    member: Member;
    meta: RoomMeta;
    token: string;
    previousIsolate: string;
    versionstamp: string;
  }
  | { ok: false; code: "resume-failed"; message: string };

/**
 * What a sweep did: `removed`, members whose grace period ran out; `lost`, members whose server
 * stopped (no heartbeat for `heartbeatTimeoutMs`, or a clean exit), now marked disconnected: their
 * grace period starts now.
 */
export interface SweepResult {
  removed: PeerId[];
  lost: PeerId[];
}

/**
 * How a member stands: `grace-expired` (remove it), `server-lost` (connected, but its server has
 * stopped beating: mark it disconnected now), or null.
 */
type Standing = Extract<RemovalReason, "grace-expired"> | "server-lost" | null;

/**
 * The beat a server writes for its members when it stops cleanly: as old as a beat can be, so
 * the next sweep anywhere treats them as members of a stopped server at once.
 */
export const STOPPED_BEAT = 0;

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
  readonly #roles: RolesContext;

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
    const hostFallback = opts.hostFallback ?? "oldest";
    if (hostFallback !== "oldest" && hostFallback !== "lock") {
      throw new RangeError('hostFallback must be "oldest" or "lock"');
    }
    this.#roles = {
      kv: this.#kv,
      now: this.#now,
      heartbeatTimeoutMs: this.#heartbeatTimeoutMs,
      hostFallback,
    };
  }

  /**
   * Admits a new member (creating the room with the first, unless `mayCreate` is false; its
   * creator is its host), unless the room was ended, the secret was removed by a host, the room is
   * locked or full, or its lobby is on. A `secret` whose hash is a reclaim secret of the room makes
   * the joiner a host again and passes lock and lobby (not capacity).
   */
  async join(
    room: string,
    input: { name: string; isolate: string; mayCreate?: boolean; secret?: string },
  ): Promise<JoinResult> {
    // "" is a member whose name travels sealed between members, never through the server.
    if (input.name !== "" && input.name.trim() === "") {
      throw new TypeError('name must not be blank: pass a name, or "" for none');
    }
    const token = newToken();
    const tokenHash = sha256Hex(token.secret);
    const secretHash = input.secret ? sha256Hex(input.secret) : null;
    const peer = token.peer;
    return await retryKv<JoinResult>("join", async () => {
      const [metaEntry, endedEntry] = await this.#kv.getMany<[RoomMeta, EndedRoom]>([
        keys.room(room),
        keys.ended(room),
      ]);
      const now = this.#now();
      const old = metaEntry.value ? normalizeMeta(metaEntry.value) : null;
      if (endedAt(endedEntry.value, now)) return { ok: false, code: "room-ended" };
      if (!old && input.mayCreate === false) return { ok: false, code: "no-room" };
      let meta: RoomMeta;
      if (old) {
        if (secretHash !== null && old.banned.includes(secretHash)) {
          return { ok: false, code: "removed" };
        }
        const reclaim = secretHash !== null && old.hostSecrets.includes(secretHash);
        if (old.locked && !reclaim) return { ok: false, code: "room-locked" };
        if (old.members.length >= old.capacity) return { ok: false, code: "room-full" };
        if (old.lobby && !reclaim) return { ok: false, code: "lobby" };
        meta = { ...old, members: [...old.members, peer] };
        if (reclaim) meta = withHost(meta, peer);
      } else {
        meta = {
          id: room,
          createdAt: now,
          capacity: this.#capacity,
          locked: false,
          host: peer,
          members: [peer],
          hosts: [peer],
          hostSecrets: secretHash === null ? [] : [secretHash],
          banned: [],
          lobby: false,
          removals: [],
        };
      }
      const member: Member = {
        peer,
        name: input.name,
        joinedAt: now,
        isolate: input.isolate,
        connected: true,
        disconnectedAt: null,
        tokenHash,
        secretHash,
      };
      const op = this.#kv.atomic().check(metaEntry).check(endedEntry);
      // A tombstone older than its time (expiry is lazy) goes with the new room it no longer stops.
      if (endedEntry.value) op.delete(endedEntry.key);
      const res = await this.#addMember(op, room, meta, member, !old).commit();
      if (!res.ok) return CONFLICT;
      return {
        ok: true,
        member,
        token: token.text,
        meta,
        versionstamp: res.versionstamp,
        created: !old,
        host: meta.hosts.includes(peer),
      };
    });
  }

  /**
   * Turns an admitted knock into a member, with the peer id and token hash reserved for it, and
   * deletes the knock in the same operation: of any number of calls, at most one joins. Passes
   * lock and lobby (a host let it in), not capacity nor a ban; those refusals, and a denied
   * knock's, delete the knock too.
   */
  async joinAdmitted(room: string, peer: PeerId, isolate: string): Promise<AdmittedResult> {
    return await retryKv<AdmittedResult>("join", async () => {
      const [metaEntry, knockEntry, memberEntry, endedEntry] = await this.#kv.getMany<
        [RoomMeta, KnockRecord, Member, EndedRoom]
      >([keys.room(room), keys.knock(room, peer), keys.member(room, peer), keys.ended(room)]);
      const now = this.#now();
      if (endedAt(endedEntry.value, now)) return { ok: false, code: "room-ended" };
      const old = metaEntry.value ? normalizeMeta(metaEntry.value) : null;
      if (!old) return { ok: false, code: "no-room" };
      const knock = knockEntry.value;
      if (!knock || knock.decision === null || memberEntry.value || old.members.includes(peer)) {
        return { ok: false, code: "denied" };
      }
      // Refusals of a decided knock are final (its socket is failed now): it leaves the lobby at
      // once, rather than stay in the hosts' list until the sweep finds it stale.
      const refuse = async (code: "denied" | "removed" | "room-full") =>
        (await this.#kv.atomic().check(knockEntry).delete(knockEntry.key).commit()).ok
          ? { ok: false as const, code }
          : CONFLICT;
      if (knock.decision === "deny") return await refuse("denied");
      if (knock.secretHash !== null && old.banned.includes(knock.secretHash)) {
        return await refuse("removed");
      }
      if (old.members.length >= old.capacity) return await refuse("room-full");
      let meta: RoomMeta = { ...old, members: [...old.members, peer] };
      if (knock.secretHash !== null && old.hostSecrets.includes(knock.secretHash)) {
        meta = withHost(meta, peer);
      }
      const member: Member = {
        peer,
        name: knock.name,
        joinedAt: now,
        isolate,
        connected: true,
        disconnectedAt: null,
        tokenHash: knock.tokenHash,
        secretHash: knock.secretHash,
      };
      const op = this.#kv.atomic().check(metaEntry).check(knockEntry).delete(knockEntry.key);
      const res = await this.#addMember(op, room, meta, member, false).commit();
      if (!res.ok) return CONFLICT;
      return {
        ok: true,
        member,
        meta,
        versionstamp: res.versionstamp,
        created: false,
        host: meta.hosts.includes(peer),
      };
    });
  }

  /** Adds the writes of a new member (and maybe a new room) to `op`, which checks the meta. */
  #addMember(
    op: Deno.AtomicOperation,
    room: string,
    meta: RoomMeta,
    member: Member,
    created: boolean,
  ): Deno.AtomicOperation {
    const { peer, joinedAt } = member;
    const links: Links = {};
    // 96 random bits never collide in practice; the check makes a collision a retry, not a takeover.
    op.check(absent(keys.member(room, peer)))
      .set(keys.room(room), meta)
      .set(keys.member(room, peer), member)
      .set(keys.beat(room, peer), joinedAt, { expireIn: this.#beatExpiryMs })
      .set(keys.links(room, peer), links)
      .sum(STATS_KEYS.participants, 1n);
    if (created) op.sum(STATS_KEYS.rooms, 1n);
    return op;
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
      const meta = metaEntry.value ? normalizeMeta(metaEntry.value) : null;
      const old = memberEntry.value ? normalizeMember(memberEntry.value) : null;
      if (!meta) return resumeFailed("room does not exist (anymore)");
      if (!old || !meta.members.includes(peer)) {
        return resumeFailed("not a member of this room (left or removed)");
      }
      if (!timingSafeEqual(old.tokenHash, tokenHash)) {
        return resumeFailed("resume token does not match");
      }
      // Check the clock here too: a sweep may not have run yet, and an expired member must stay
      // gone. A member whose server stopped (`server-lost`) is exactly who should come back: its
      // own reconnect is the proof that it is still there.
      const now = this.#now();
      if (this.#standing(old, beatEntry.value, now) === "grace-expired") {
        return resumeFailed("grace period expired");
      }
      // A new secret on every resume: of two sockets resuming with one token, only the first to
      // commit gets in (the other's retry reads the new hash), and a stolen token is spent the
      // moment its owner resumes.
      const fresh = newToken(peer);
      const member: Member = {
        ...old,
        connected: true,
        disconnectedAt: null,
        isolate,
        tokenHash: sha256Hex(fresh.secret),
      };
      // The member check also fails when the member was removed or resumed meanwhile.
      const res = await this.#kv.atomic()
        .check(memberEntry)
        .set(keys.member(room, peer), member)
        .set(keys.beat(room, peer), now, { expireIn: this.#beatExpiryMs })
        .commit();
      if (!res.ok) return CONFLICT;
      const previousIsolate = old.isolate;
      return {
        ok: true,
        member,
        meta,
        token: fresh.text,
        previousIsolate,
        versionstamp: res.versionstamp,
      };
    });
  }

  /**
   * Proves that the store can be written and read (health checks): writes a fresh nonce to the
   * probe key of `isolate` (expiring, `healthKey`) and reads it back. A full disk or a read-only
   * file still reads, so reading alone proves nothing. Throws a `KvProbeError` naming the step
   * that failed; the failure is counted like any KV operation's (`health write`, `health read`).
   */
  async ping(isolate: string): Promise<void> {
    const key = healthKey(isolate);
    const nonce = crypto.randomUUID();
    try {
      await commitUnchecked(
        "health write",
        () => this.#kv.atomic().set(key, nonce, { expireIn: HEALTH_PROBE_TTL_MS }),
      );
    } catch (error) {
      throw new KvProbeError("write", error);
    }
    try {
      await retryKv("health read", async () => {
        const { value } = await this.#kv.get<string>(key);
        if (value !== nonce) {
          throw new Error(`read back ${JSON.stringify(value)}, not the value just written`);
        }
        return undefined;
      });
    } catch (error) {
      throw new KvProbeError("read", error);
    }
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

  /**
   * Removes a member now (left, or evicted); returns the room afterwards, null if it is gone.
   * `removal` is recorded in the room's `removals` (mesh evictions pass
   * `{ code: "mesh-incomplete", by: null, unreachable }`); a host's removal is `hostAction`'s.
   */
  async remove(
    room: string,
    peer: PeerId,
    removal?: Omit<RemovalView, "peer" | "at">,
  ): Promise<RoomMeta | null> {
    return (await removeMember(this.#kv, room, peer, {
      record: removal,
      hostFallback: this.#roles.hostFallback,
      now: this.#now(),
    })).meta;
  }

  /**
   * Applies a host's action (`lock`, `lobby`, `admit`, `remove`, `role`, `mute`, `end`) if `by`
   * is a host at the moment it commits; see `HostActionResult` for what to tell whom.
   */
  async hostAction(room: string, by: PeerId, action: HostAction): Promise<HostActionResult> {
    return await hostAction(this.#roles, room, by, action);
  }

  /**
   * Puts a newcomer in the lobby (after `join` answered `lobby`): reserves its peer id and token
   * and writes its knock. See `KnockResult`.
   */
  async knock(
    room: string,
    input: { isolate: string; secret?: string; name?: string },
  ): Promise<KnockResult> {
    return await knock(this.#roles, room, input);
  }

  /** Stores a waiting knock's sealed payload (the first one); false when the knock is gone. */
  async knockPayload(room: string, peer: PeerId, payload: JsonValue): Promise<boolean> {
    return await knockPayload(this.#roles, room, peer, payload);
  }

  /** Where a knock stands: waiting, decided (`admit`, `deny`), `gone`, or its room `ended`. */
  async knockState(room: string, peer: PeerId): Promise<KnockState> {
    return await knockState(this.#roles, room, peer);
  }

  /** Deletes a knock whose socket left or closed. */
  async withdrawKnock(room: string, peer: PeerId): Promise<void> {
    await withdrawKnock(this.#roles, room, peer);
  }

  /**
   * Records that these knocks' sockets on `isolate` are still waiting; knocks not beaten for
   * `heartbeatTimeoutMs` leave snapshots and are deleted by `sweep`.
   */
  async beatKnocks(entries: { room: string; peer: PeerId }[], isolate: string): Promise<void> {
    await beatKnocks(this.#roles, entries, isolate);
  }

  /**
   * Records that these members' sockets on `isolate` are alive, in as few KV calls as the limits
   * allow. A member marked disconnected meanwhile (another server took this one for stopped,
   * e.g. while KV writes failed here) whose socket is still here is marked connected again.
   */
  async heartbeat(entries: { room: string; peer: PeerId }[], isolate: string): Promise<void> {
    await this.#beat(entries, isolate, "heartbeat");
  }

  /**
   * A clean exit: marks these members' server as stopped (`STOPPED_BEAT`), so that any running
   * server treats them as it would after a crash, at once: they stay members and their grace
   * period starts when a running server sees this (or, when none runs, when one starts again).
   * Members resumed elsewhere meanwhile are left alone.
   */
  async serverStopped(entries: { room: string; peer: PeerId }[], isolate: string): Promise<void> {
    await this.#beat(entries, isolate, "stopped");
  }

  async #beat(
    entries: { room: string; peer: PeerId }[],
    isolate: string,
    kind: "heartbeat" | "stopped",
  ): Promise<void> {
    const unique = new Map<string, { room: string; peer: PeerId }>();
    for (const e of entries) unique.set(JSON.stringify([e.room, e.peer]), e);
    // Only members that exist, and are still held by this isolate, get a beat: a beat cannot
    // resurrect a removed member nor mark one resumed elsewhere. A removal between this read and
    // the write below can leave an orphan beat; sweep/remove clean it.
    const found = await Promise.all(
      chunk([...unique.values()], KV_LIMITS.getManyKeys).map((part) =>
        retryKv(
          kind,
          () => this.#kv.getMany<Member[]>(part.map((e) => keys.member(e.room, e.peer))),
        )
      ),
    );
    const held = found.flat().filter((e): e is Deno.KvEntry<Member> =>
      e.value !== null && e.value.isolate === isolate
    );
    const now = kind === "stopped" ? STOPPED_BEAT : this.#now();
    const beats = held.map((e) => keys.beat(e.key[1] as string, e.value.peer));
    for (const part of chunkForAtomic(beats)) {
      await commitUnchecked(kind, () => {
        const op = this.#kv.atomic();
        for (const key of part) op.set(key, now, { expireIn: this.#beatExpiryMs });
        return op;
      });
    }
    if (kind === "stopped") return;
    for (const entry of held) {
      if (entry.value.connected) continue;
      const member: Member = { ...entry.value, connected: true, disconnectedAt: null };
      // One try: a conflict means someone else changed the member, and the next beat looks again.
      await this.#kv.atomic().check(entry).set(entry.key, member).commit();
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

  /**
   * The room with every member's heartbeat and links and the live knocks, from one read; null if
   * it does not exist.
   */
  async snapshot(room: string): Promise<RoomSnapshot | null> {
    const read = await retryKv("snapshot", () => readRoom(this.#kv, room));
    return toSnapshot(read, this.#now() - this.#heartbeatTimeoutMs);
  }

  /**
   * Removes the room's members whose grace period has run out, marks disconnected those whose
   * server has stopped (their grace period starts now), deletes knocks nobody beats anymore, and
   * deletes keys that races left behind.
   */
  async sweep(room: string): Promise<SweepResult> {
    const read = await retryKv("sweep", () => readRoom(this.#kv, room));
    const { meta: { value: meta }, members, beats, keys: stored } = read;
    const result: SweepResult = { removed: [], lost: [] };
    if (!meta) {
      if (stored.length > 0) await deleteLeftovers(this.#kv, room);
      return result;
    }
    const now = this.#now();
    await deleteStaleKnocks(this.#kv, read, now - this.#heartbeatTimeoutMs);
    for (const peer of meta.members) {
      const member = members.get(peer)?.value;
      if (!member) continue;
      const standing = this.#standing(member, beats.get(peer)?.value ?? null, now);
      if (standing === "server-lost") {
        if (await this.#markLost(room, peer)) result.lost.push(peer);
      } else if (standing === "grace-expired") {
        // Decide again inside the removal's own transaction: the member may have resumed meanwhile.
        const removal = await removeMember(this.#kv, room, peer, {
          guard: (m, beat) =>
            m !== null && this.#standing(m, beat, this.#now()) === "grace-expired",
          hostFallback: this.#roles.hostFallback,
          now: this.#now(),
        });
        if (removal.removed) result.removed.push(peer);
      }
    }
    if (meta.members.length === 0) await deleteEmptyRoom(this.#kv, room);
    // Orphans (keys of non-members) come only from rare races; look again only if this read saw one.
    if (orphanKeys(read).length > 0) await deleteOrphans(this.#kv, room);
    return result;
  }

  /** Marks a member of a stopped server disconnected, if it still is one (read again here). */
  async #markLost(room: string, peer: PeerId): Promise<boolean> {
    return await retryKv("sweep", async () => {
      const [memberEntry, beatEntry] = await this.#kv.getMany<[Member, number]>([
        keys.member(room, peer),
        keys.beat(room, peer),
      ]);
      const member = memberEntry.value;
      if (!member || this.#standing(member, beatEntry.value, this.#now()) !== "server-lost") {
        return false;
      }
      const next: Member = { ...member, connected: false, disconnectedAt: this.#now() };
      const res = await this.#kv.atomic()
        .check(memberEntry)
        .check(beatEntry)
        .set(memberEntry.key, next)
        .commit();
      return res.ok ? true : CONFLICT;
    });
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

  /** How the member stands at `now` (see `Standing`). */
  #standing(member: Member, beatAt: number | null, now: number): Standing {
    if (!member.connected) {
      // A disconnected member has no socket, hence no heartbeats: only its grace period counts.
      return now - (member.disconnectedAt ?? member.joinedAt) > this.#graceMs
        ? "grace-expired"
        : null;
    }
    // A missing beat (only after the lazy expiry of a very old one) counts as one at join time.
    return now - (beatAt ?? member.joinedAt) > this.#heartbeatTimeoutMs ? "server-lost" : null;
  }
}

function assertDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number >= 0`);
}

function resumeFailed(message: string): ResumeResult {
  return { ok: false, code: "resume-failed", message };
}
