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
  connectedIsolates,
  heldBeat,
  type IsolateBeat,
  isolateLive,
  readIsolateBeats,
} from "./isolate_beats.ts";
import {
  type EndedRoom,
  HEALTH_PROBE_TTL_MS,
  healthKey,
  roomKeys as keys,
  ROOMS_PREFIX,
  STATS_KEYS,
  sweepKeys,
} from "./keys.ts";
import { chunk } from "./kv_chunks.ts";
import { kvHealth, KvProbeError } from "./kv_health.ts";
import { commitUnchecked, CONFLICT, retryKv } from "./kv_retry.ts";
import { CONFIG_DEFAULTS, KV_LIMITS, MAX_CAPACITY } from "./limits.ts";
import { changedLinkReport } from "./link_reports.ts";
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
  type RoomRead,
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
  /**
   * A connected member whose isolate has not beaten for longer than this has lost its server: it is
   * marked disconnected, and its grace period starts.
   */
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
 * What a member of a cleanly stopped server counts as last seen alive: as old as a beat can be, so
 * the next sweep anywhere treats it as a member of a stopped server at once (isolate_beats.ts).
 */
export { STOPPED_BEAT } from "./isolate_beats.ts";

/**
 * A member's own beat (its placement) is written with expireIn only as a garbage collector.
 * Correctness never depends on it: expiry is lazy, a member's liveness is its isolate's beat, and
 * every decision uses the stored timestamps.
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
  /** Isolate beats snapshots read lately, and when (`#snapshotBeats`). */
  readonly #beatCache = new Map<string, { entry: Deno.KvEntryMaybe<IsolateBeat>; at: number }>();
  /** Isolates whose beat this store has made sure exists (`#register`). */
  readonly #registered = new Map<string, Promise<void>>();
  /** When each isolate beating through this store last compared KV with its sockets. */
  readonly #reconciledAt = new Map<string, number>();
  /** Isolates that must compare KV with their sockets at their next beat (`#reconcile`). */
  readonly #recheck = new Set<string>();

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
    input: {
      name: string;
      isolate: string;
      mayCreate?: boolean;
      secret?: string;
      card?: JsonValue;
    },
  ): Promise<JoinResult> {
    // "" is a member whose name travels sealed between members, never through the server.
    if (input.name !== "" && input.name.trim() === "") {
      throw new TypeError('name must not be blank: pass a name, or "" for none');
    }
    const token = newToken();
    const tokenHash = sha256Hex(token.secret);
    const secretHash = input.secret ? sha256Hex(input.secret) : null;
    const peer = token.peer;
    await this.#register(input.isolate);
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
      if (input.card !== undefined) member.card = input.card;
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
    await this.#register(isolate);
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
      if (knock.card !== undefined) member.card = knock.card;
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
      // Its isolate holds it now: when that isolate's beat stops, a sweep finds this room.
      .set(sweepKeys.servedMember(member.isolate, room, peer), joinedAt)
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
    await this.#register(isolate);
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
      const op = this.#kv.atomic()
        .check(memberEntry)
        .set(keys.member(room, peer), member)
        .set(keys.beat(room, peer), now, { expireIn: this.#beatExpiryMs })
        .set(sweepKeys.servedMember(isolate, room, peer), now);
      if (old.isolate !== isolate) op.delete(sweepKeys.servedMember(old.isolate, room, peer));
      const res = await op.commit();
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
      const now = this.#now();
      const member: Member = { ...entry.value, connected: false, disconnectedAt: now };
      // Its isolate no longer answers for it, and its grace period's end is due: indexed in the
      // same operation, so a sweep anywhere removes it in time even if nobody serves the room.
      const res = await this.#kv.atomic().check(entry).set(entry.key, member)
        .delete(sweepKeys.servedMember(entry.value.isolate, room, peer))
        .set(sweepKeys.due(this.#graceEnd(now), room), now)
        .commit();
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
    input: { isolate: string; secret?: string; name?: string; card?: JsonValue },
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
   * Records that `isolate` is alive, which keeps every member it holds alive: one key, however
   * many members (isolate_beats.ts). `entries` are the members whose sockets are open here; they
   * are compared with KV (`#reconcile`) when another server took this one for lost or stopped
   * meanwhile (then members marked disconnected whose sockets are still here are marked connected
   * again), and otherwise once per `heartbeatTimeoutMs` (then members KV says this isolate holds
   * but whose sockets are gone are marked disconnected: their close could not be written).
   */
  async heartbeat(entries: { room: string; peer: PeerId }[], isolate: string): Promise<void> {
    const now = this.#now();
    const key = sweepKeys.isolate(isolate);
    const beat: IsolateBeat = { beatAt: now, stopped: false, lostAt: null };
    const recover = await retryKv("heartbeat", async () => {
      const entry = await this.#kv.get<IsolateBeat>(key);
      // Checked: a sweep that takes this isolate for lost right now either commits first (and
      // this beat sees its mark) or fails its own check against this beat.
      if (!(await this.#kv.atomic().check(entry).set(key, beat).commit()).ok) return CONFLICT;
      const old = entry.value;
      // Missing: a sweep visited this isolate's rooms (or it never beat, then this is cheap).
      return old === null || old.stopped || old.lostAt !== null;
    });
    kvHealth.writeSucceeded("heartbeat");
    // Until a recovery went through in full, every beat tries again.
    if (recover) this.#recheck.add(isolate);
    const recovering = this.#recheck.has(isolate);
    const last = this.#reconciledAt.get(isolate);
    if (!recovering && last !== undefined && now - last < this.#heartbeatTimeoutMs) return;
    if (await this.#reconcile(entries, isolate, recovering)) this.#recheck.delete(isolate);
    this.#reconciledAt.set(isolate, now);
  }

  /**
   * A clean exit: marks `isolate` as stopped, one key (`entries`, the members it served, need no
   * writes of their own), so that any running server treats its members as it would after a
   * crash, at once: they stay members and their grace period starts when a running server sees
   * this (or, when none runs, when one starts again). Members resumed elsewhere meanwhile are held
   * by another isolate and left alone.
   */
  async serverStopped(_entries: { room: string; peer: PeerId }[], isolate: string): Promise<void> {
    const beat: IsolateBeat = { beatAt: this.#now(), stopped: true, lostAt: null };
    await commitUnchecked("stopped", () => this.#kv.atomic().set(sweepKeys.isolate(isolate), beat));
  }

  /**
   * Makes sure `isolate` has a beat before it holds its first member, so that a sweep finds it,
   * and its members, even if it crashes before its first heartbeat. Once per isolate and store.
   */
  async #register(isolate: string): Promise<void> {
    let registered = this.#registered.get(isolate);
    if (!registered) {
      const key = sweepKeys.isolate(isolate);
      const beat: IsolateBeat = { beatAt: this.#now(), stopped: false, lostAt: null };
      registered = retryKv("register", async () => {
        // An existing beat stays: it may carry a mark that the next heartbeat must see.
        await this.#kv.atomic().check(absent(key)).set(key, beat).commit();
        return undefined;
      });
      this.#registered.set(isolate, registered);
      registered.catch(() => this.#registered.delete(isolate));
    }
    await registered;
  }

  /**
   * Compares what KV says `isolate` holds with the sockets open here (`entries`). Members held
   * here in KV, connected, without a socket here, and placed longer than `heartbeatTimeoutMs` ago
   * (a socket between its join's commit and its arrival in `entries` is not one of them), are
   * marked disconnected. Members with a socket here and held here but missing from the index are
   * indexed; when `recovering` (another server took this isolate for lost, or it stopped), those
   * marked disconnected are marked connected again. Not otherwise: then a member disconnected
   * while its socket is in `entries` is one whose close is being written right now. Reads only
   * the served index of this isolate, and the members where the two disagree. True when
   * everything agreed or was settled.
   */
  async #reconcile(
    entries: { room: string; peer: PeerId }[],
    isolate: string,
    recovering: boolean,
  ): Promise<boolean> {
    const id = (room: string, peer: PeerId) => JSON.stringify([room, peer]);
    const sockets = new Map(entries.map((e) => [id(e.room, e.peer), e]));
    const indexed = new Map<string, { room: string; peer: PeerId }>();
    await retryKv("heartbeat", async () => {
      indexed.clear();
      for await (const e of this.#kv.list<number>({ prefix: sweepKeys.served(isolate) })) {
        const [, , room, peer] = e.key;
        if (typeof room === "string" && typeof peer === "string") {
          indexed.set(id(room, peer), { room, peer });
        }
      }
      return undefined;
    });
    const gone = [...indexed].filter(([k]) => !sockets.has(k)).map(([, e]) => e);
    const unindexed = [...sockets].filter(([k]) => !indexed.has(k)).map(([, e]) => e);
    let settled = true;
    for (const part of chunk(gone, KV_LIMITS.getManyKeys / 2)) {
      const read = await retryKv("heartbeat", () =>
        this.#kv.getMany<(Member | number)[]>(
          part.flatMap((e) => [keys.member(e.room, e.peer), keys.beat(e.room, e.peer)]),
        ));
      for (const [i, e] of part.entries()) {
        const entry = read[2 * i] as Deno.KvEntryMaybe<Member>;
        const m = entry.value;
        const placedAt = (read[2 * i + 1].value as number | null) ?? m?.joinedAt ?? 0;
        if (!m || !m.connected || m.isolate !== isolate) continue;
        if (this.#now() - placedAt <= this.#heartbeatTimeoutMs) continue;
        await this.disconnect(e.room, e.peer, isolate, entry.versionstamp!);
      }
    }
    for (const part of chunk(unindexed, KV_LIMITS.getManyKeys)) {
      const found = await retryKv(
        "heartbeat",
        () => this.#kv.getMany<Member[]>(part.map((e) => keys.member(e.room, e.peer))),
      );
      for (const [i, entry] of found.entries()) {
        // Gone, or held by another isolate (resumed there): not this socket's to claim.
        if (entry.value === null || entry.value.isolate !== isolate) continue;
        if (!entry.value.connected && !recovering) continue;
        const { room, peer } = part[i];
        const member: Member = { ...entry.value, connected: true, disconnectedAt: null };
        // One try: a conflict means someone else changed the member; the next beat looks again.
        const res = await this.#kv.atomic().check(entry).set(entry.key, member)
          .set(sweepKeys.servedMember(isolate, room, peer), this.#now()).commit();
        if (!res.ok) settled = false;
      }
    }
    return settled;
  }

  /**
   * Stores a member's own report of its links (to current members only). Returns the stored report
   * when it changed, or null when nothing was written (the same report again, or not a member).
   */
  async reportLinks(
    room: string,
    peer: PeerId,
    states: Record<PeerId, LinkState>,
  ): Promise<Links | null> {
    return await retryKv<Links | null>("reportLinks", async () => {
      const [metaEntry, linksEntry] = await this.#kv.getMany<[RoomMeta, Links]>([
        keys.room(room),
        keys.links(room, peer),
      ]);
      const next = changedLinkReport(
        metaEntry.value?.members,
        peer,
        linksEntry.value,
        states,
        this.#now(),
      );
      if (!next) return null;
      // The meta check keeps a peer removed meanwhile from reappearing in the report.
      const res = await this.#kv.atomic()
        .check(metaEntry)
        .check(linksEntry)
        .set(keys.links(room, peer), next)
        .commit();
      return res.ok ? next : CONFLICT;
    });
  }

  /**
   * The room with every member's heartbeat and links and the live knocks, from one read; null if
   * it does not exist.
   */
  async snapshot(room: string): Promise<RoomSnapshot | null> {
    const read = await retryKv("snapshot", () => readRoom(this.#kv, room));
    const isolates = await this.#snapshotBeats(read);
    return toSnapshot(read, this.#now() - this.#heartbeatTimeoutMs, beatValues(isolates));
  }

  /**
   * The isolate beats a snapshot needs, read at most once per `SNAPSHOT_BEATS_MS` per isolate:
   * a room read would otherwise cost a second KV call, on every roster and welcome. A beat read
   * that long ago is at most that much older than the truth, far inside the heartbeat timeout
   * (a snapshot only shows and schedules; sweeps, which decide, read beats afresh).
   */
  async #snapshotBeats(read: RoomRead): Promise<Map<string, Deno.KvEntryMaybe<IsolateBeat>>> {
    const ids = connectedIsolates([...read.members.values()].map((e) => e.value));
    const now = this.#now();
    const beats = new Map<string, Deno.KvEntryMaybe<IsolateBeat>>();
    const missing = new Set<string>();
    for (const id of ids) {
      const cached = this.#beatCache.get(id);
      if (cached && now - cached.at <= SNAPSHOT_BEATS_MS) beats.set(id, cached.entry);
      else missing.add(id);
    }
    if (missing.size === 0) return beats;
    const fresh = await retryKv("snapshot", () => readIsolateBeats(this.#kv, missing));
    for (const [id, entry] of fresh) {
      beats.set(id, entry);
      this.#beatCache.set(id, { entry, at: now });
    }
    // Isolates come and go with restarts: forget beats nobody asked for in a while.
    if (this.#beatCache.size > 256) {
      for (const [id, c] of this.#beatCache) {
        if (now - c.at > SNAPSHOT_BEATS_MS) this.#beatCache.delete(id);
      }
    }
    return beats;
  }

  /**
   * Removes the room's members whose grace period has run out, marks disconnected those whose
   * server has stopped (their grace period starts now), deletes knocks nobody beats anymore, and
   * deletes keys that races left behind. Every decision is taken again inside the transaction
   * that carries it out, so sweeping a room with nothing due (a stale index entry) is harmless.
   *
   * With `reindex` (the sweeps of `due_sweep.ts`), also writes the room's next due entry for what
   * is left pending that nothing else indexes: grace periods of members disconnected by an older
   * version, connected members whose isolate has no live beat (not yet lost, because they were
   * placed there recently, or held by an older version that beat per member), and knocks still
   * waiting (their isolate may stop without withdrawing them).
   */
  async sweep(room: string, opts: { reindex?: boolean } = {}): Promise<SweepResult> {
    const read = await retryKv("sweep", () => readRoom(this.#kv, room));
    const { meta: { value: meta }, members, beats, keys: stored } = read;
    const result: SweepResult = { removed: [], lost: [] };
    if (!meta) {
      if (stored.length > 0) await deleteLeftovers(this.#kv, room);
      return result;
    }
    const now = this.#now();
    const isolates = await this.#isolateBeats("sweep", read);
    const liveSince = now - this.#heartbeatTimeoutMs;
    await deleteStaleKnocks(this.#kv, read, liveSince);
    let next = Infinity;
    // A knock still waiting is looked at again once it could have gone stale.
    for (const { value: knock } of read.knocks.values()) {
      if (knock.beatAt >= liveSince) {
        next = Math.min(next, knock.beatAt + this.#heartbeatTimeoutMs + 1);
      }
    }
    for (const peer of meta.members) {
      const member = members.get(peer)?.value;
      if (!member) continue;
      const isolate = isolates.get(member.isolate)?.value ?? null;
      const held = heldBeat(member, beats.get(peer)?.value ?? null, isolate);
      const standing = this.#standing(member, held, now);
      if (standing === "server-lost") {
        if (await this.#markLost(room, peer, member.isolate)) result.lost.push(peer);
      } else if (standing === "grace-expired") {
        // Decide again inside the removal's own transaction: the member may have resumed meanwhile.
        const removal = await removeMember(this.#kv, room, peer, {
          guard: (m, beat) =>
            m !== null && this.#standing(m, beat, this.#now()) === "grace-expired",
          departure: "connection-lost",
          hostFallback: this.#roles.hostFallback,
          now: this.#now(),
        });
        if (removal.removed) result.removed.push(peer);
      } else if (!member.connected) {
        next = Math.min(next, this.#graceEnd(member.disconnectedAt ?? member.joinedAt));
      } else if (!isolateLive(isolate, now, this.#heartbeatTimeoutMs)) {
        next = Math.min(next, held + this.#heartbeatTimeoutMs + 1);
      }
    }
    if (meta.members.length === 0) await deleteEmptyRoom(this.#kv, room);
    // Orphans (keys of non-members) come only from rare races; look again only if this read saw one.
    if (orphanKeys(read).length > 0) await deleteOrphans(this.#kv, room);
    if (opts.reindex && Number.isFinite(next)) {
      await commitUnchecked("sweep", () => this.#kv.atomic().set(sweepKeys.due(next, room), now));
    }
    return result;
  }

  /**
   * Marks a member of a stopped server disconnected, if it still is one (read again here, with
   * its isolate's beat), starts its grace period's due entry, and marks its isolate as taken for
   * lost, so that the isolate, should it beat again, puts back members whose sockets it still has.
   */
  async #markLost(room: string, peer: PeerId, isolate: string): Promise<boolean> {
    return await retryKv("sweep", async () => {
      const [memberEntry, beatEntry, isolateEntry] = await this.#kv.getMany<
        [Member, number, IsolateBeat]
      >([keys.member(room, peer), keys.beat(room, peer), sweepKeys.isolate(isolate)]);
      const member = memberEntry.value;
      // Resumed on another isolate since the caller looked: alive.
      if (!member || member.isolate !== isolate) return false;
      const now = this.#now();
      const held = heldBeat(member, beatEntry.value, isolateEntry.value);
      if (this.#standing(member, held, now) !== "server-lost") return false;
      const next: Member = { ...member, connected: false, disconnectedAt: now };
      const op = this.#kv.atomic()
        .check(memberEntry)
        .check(beatEntry)
        .check(isolateEntry)
        .set(memberEntry.key, next)
        .delete(sweepKeys.servedMember(isolate, room, peer))
        .set(sweepKeys.due(this.#graceEnd(now), room), now);
      if (isolateEntry.value && isolateEntry.value.lostAt === null) {
        op.set(isolateEntry.key, { ...isolateEntry.value, lostAt: now });
      }
      return (await op.commit()).ok ? true : CONFLICT;
    });
  }

  /** The beats of the isolates holding the room's connected members (none read if none is). */
  async #isolateBeats(
    what: string,
    read: RoomRead,
  ): Promise<Map<string, Deno.KvEntryMaybe<IsolateBeat>>> {
    const ids = connectedIsolates([...read.members.values()].map((e) => e.value));
    if (ids.size === 0) return new Map();
    return await retryKv(what, () => readIsolateBeats(this.#kv, ids));
  }

  /** When a member disconnected at `at` is due for removal: the first moment its grace is over. */
  #graceEnd(at: number): number {
    return at + this.#graceMs + 1;
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

  /**
   * How the member stands at `now` (see `Standing`); `beatAt` is when it was last known alive
   * (`heldBeat`; for a disconnected member it does not count).
   */
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

/** The values of beat entries, by isolate (a missing beat is null). */
function beatValues(
  entries: Map<string, Deno.KvEntryMaybe<IsolateBeat>>,
): Map<string, IsolateBeat | null> {
  return new Map([...entries].map(([id, entry]) => [id, entry.value]));
}

/** How long a snapshot may reuse an isolate beat it read (`#snapshotBeats`). */
const SNAPSHOT_BEATS_MS = 1_000;

function assertDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite number >= 0`);
}

function resumeFailed(message: string): ResumeResult {
  return { ok: false, code: "resume-failed", message };
}
