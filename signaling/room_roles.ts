/**
 * Host controls in Deno KV: what hosts may do to a room (`hostAction`), and the lobby they guard
 * (knocks of newcomers waiting to be let in). `RoomStore` calls these; see PROTOCOL.md, "Roles".
 *
 * Every host action is one atomic operation that checks the room's meta at the version it read,
 * and the rule "the actor is a host" is decided on that same read: a host demoted (or removed)
 * concurrently either acted before, or is refused. Nothing changes on a refusal.
 */
import {
  ENDED_ROOM_TTL_MS,
  type EndedRoom,
  roomKeys as keys,
  STATS_KEYS,
  sweepKeys,
} from "./keys.ts";
import { chunk } from "./kv_chunks.ts";
import { CONFLICT, retryKv } from "./kv_retry.ts";
import { KV_LIMITS, MAX_KNOCK_BYTES, MAX_LOBBY } from "./limits.ts";
import type { HostAction, JsonValue } from "./protocol.ts";
import { addRemoval, minus, MINUS_ONE, withHost } from "./room_cleanup.ts";
import { absent, liveKnocks, readRoom, type RoomRead } from "./room_read.ts";
import { newToken, sha256Hex } from "./tokens.ts";
import type { HostFallback, KnockRecord, Member, PeerId, RoomMeta } from "./types.ts";

/** The store settings host controls need. */
export interface RolesContext {
  kv: Deno.Kv;
  now: () => number;
  /** Knocks not beaten for this long are dead (their waiting server stopped). */
  heartbeatTimeoutMs: number;
  hostFallback: HostFallback;
}

/** A socket somewhere: the member or knock's peer id and the isolate holding its socket. */
export interface PeerAt {
  peer: PeerId;
  isolate: string;
}

/**
 * What a host action did. `meta` is the room afterwards (null after `end`). The hub tells the
 * sockets listed: `removed` (evicted `kicked`), `ended` (every member evicted `ended`, every
 * waiting socket `room-ended`), `decided` (knocks a host admitted or denied; the waiting socket's
 * isolate joins or fails it), `mute` (members to send `muted`).
 */
export type HostActionResult =
  | { ok: false; code: "forbidden" | "unknown-peer"; message: string }
  | {
    ok: true;
    meta: RoomMeta | null;
    removed?: PeerAt;
    ended?: { members: PeerAt[]; knocks: PeerAt[] };
    decided?: (PeerAt & { allow: boolean })[];
    mute?: PeerAt[];
  };

/** What `knock` did: a reserved place in the lobby, or why there is none. */
export type KnockResult =
  | {
    ok: true;
    peer: PeerId;
    /** The resume token the knock becomes a member with once admitted (only its hash is stored). */
    token: string;
    /**
     * "admit" when the lobby was turned off between the `join` that sent here and this knock: the
     * caller may `joinAdmitted` at once. Null: waiting for a host.
     */
    decision: null | "admit";
  }
  | {
    ok: false;
    /** `denied`: no host is here to open the lobby. The others as for `join`. */
    code: "room-full" | "no-room" | "room-ended" | "denied" | "removed" | "room-locked";
  };

/** Where a knock stands: `ended` when the room was ended by a host, `gone` when it no longer exists. */
export type KnockState = "waiting" | "admit" | "deny" | "gone" | "ended";

/** What each action is, for "only a host can …" messages. */
const ACTION_NAMES: Readonly<Record<HostAction["type"], string>> = {
  lock: "lock or unlock the meeting",
  lobby: "turn the lobby on or off",
  admit: "let people in",
  remove: "remove participants",
  role: "make or unmake hosts",
  mute: "ask participants to mute",
  end: "end the meeting",
};

/** Whether a tombstone read at `now` still ends the room (expiry is lazy: the time decides). */
export function endedAt(ended: EndedRoom | null, now: number): boolean {
  return ended !== null && now - ended.at < ENDED_ROOM_TTL_MS;
}

/**
 * Applies a host's action in one atomic operation guarded by the meta's version (see the module
 * comment). Refusals: `forbidden` when `by` is not a host (or not a member), or the rule of the
 * action forbids it (removing a host or oneself, demoting the last host); `unknown-peer` when the
 * target is not a member (or, for `admit`, not waiting).
 */
export async function hostAction(
  ctx: RolesContext,
  room: string,
  by: PeerId,
  action: HostAction,
): Promise<HostActionResult> {
  return await retryKv("hostAction", async () => {
    const read = await readRoom(ctx.kv, room);
    const meta = read.meta.value;
    if (!meta || !meta.members.includes(by)) {
      return refuse("forbidden", "You are not in this meeting (anymore), so you cannot act in it.");
    }
    if (!meta.hosts.includes(by)) {
      return refuse(
        "forbidden",
        `Only a host can ${ACTION_NAMES[action.type]}; ask a host to do it or to make you one.`,
      );
    }
    switch (action.type) {
      case "lock":
        return await commitMeta(ctx, read, { ...meta, locked: action.locked });
      case "lobby":
        return await setLobby(ctx, read, action.on);
      case "admit":
        return await admit(ctx, read, action.knock, action.allow);
      case "remove":
        return await removeByHost(ctx, read, by, action.peer);
      case "role":
        return await setRole(ctx, read, action.peer, action.host);
      case "mute":
        return await mute(ctx, read, action.peer);
      case "end":
        return await end(ctx, read, by);
    }
  });
}

function refuse(code: "forbidden" | "unknown-peer", message: string): HostActionResult {
  return { ok: false, code, message };
}

function notMember(peer: PeerId): HostActionResult {
  return refuse("unknown-peer", `${peer} is not in this meeting (they left or were removed).`);
}

type Step = Promise<HostActionResult | typeof CONFLICT>;

async function commitMeta(
  ctx: RolesContext,
  read: RoomRead,
  next: RoomMeta,
  extra: Omit<Extract<HostActionResult, { ok: true }>, "ok" | "meta"> = {},
  build: (op: Deno.AtomicOperation) => void = () => {},
): Step {
  const op = ctx.kv.atomic().check(read.meta).set(read.meta.key, next);
  build(op);
  return (await op.commit()).ok ? { ok: true, meta: next, ...extra } : CONFLICT;
}

/** Lobby off admits everyone still waiting: nobody would be left to let them in otherwise. */
function setLobby(ctx: RolesContext, read: RoomRead, on: boolean): Step {
  const meta = read.meta.value!;
  const decided: (PeerAt & { allow: boolean })[] = [];
  const admitted: Deno.KvEntry<KnockRecord>[] = [];
  if (!on) {
    for (const entry of read.knocks.values()) {
      if (entry.value.decision !== null) continue;
      admitted.push(entry);
      decided.push({ peer: entry.value.peer, isolate: entry.value.isolate, allow: true });
    }
  }
  return commitMeta(ctx, read, { ...meta, lobby: on }, on ? {} : { decided }, (op) => {
    for (const entry of admitted) {
      op.check(entry).set(entry.key, { ...entry.value, decision: "admit" });
    }
  });
}

/**
 * A decision is final: once a knock is admitted or denied, another `admit` for it changes nothing
 * and reports the decision already taken (the hub may tell the waiting socket again, harmlessly).
 */
async function admit(ctx: RolesContext, read: RoomRead, peer: PeerId, allow: boolean): Step {
  const entry = read.knocks.get(peer);
  const liveSince = ctx.now() - ctx.heartbeatTimeoutMs;
  if (!entry || entry.value.beatAt < liveSince) {
    return refuse(
      "unknown-peer",
      "Nobody with that id is waiting to be let in (they left, or were let in already).",
    );
  }
  const knock = entry.value;
  if (knock.decision !== null) {
    const decided = [{ peer, isolate: knock.isolate, allow: knock.decision === "admit" }];
    return { ok: true, meta: read.meta.value, decided };
  }
  const next: KnockRecord = { ...knock, decision: allow ? "admit" : "deny" };
  // The meta is checked, not written: the decision is the knock's, and the check is what makes
  // "still a host" hold at the commit.
  const op = ctx.kv.atomic().check(read.meta).check(entry).set(entry.key, next);
  if (!(await op.commit()).ok) return CONFLICT;
  return { ok: true, meta: read.meta.value, decided: [{ peer, isolate: knock.isolate, allow }] };
}

/** Removal by a host: like any removal, plus its secret banned and the removal recorded. */
async function removeByHost(ctx: RolesContext, read: RoomRead, by: PeerId, peer: PeerId): Step {
  const meta = read.meta.value!;
  if (peer === by) {
    return refuse("forbidden", "You cannot remove yourself; leave the meeting instead.");
  }
  const member = read.members.get(peer)?.value;
  if (!member || !meta.members.includes(peer)) return notMember(peer);
  if (meta.hosts.includes(peer)) {
    return refuse("forbidden", "You cannot remove a host: remove their host role first.");
  }
  const op = ctx.kv.atomic().check(read.meta);
  const next = addRemoval(op, read, peer, {
    record: { code: "kicked", by, unreachable: [] },
    ban: true,
    hostFallback: ctx.hostFallback,
    now: ctx.now(),
  });
  if (!(await op.commit()).ok) return CONFLICT;
  return { ok: true, meta: next, removed: { peer, isolate: member.isolate } };
}

/**
 * Promote: a host, its secret a reclaim secret. Demote: neither, unless it is the last host
 * (someone must be able to act). Already so: nothing changes.
 */
function setRole(ctx: RolesContext, read: RoomRead, peer: PeerId, host: boolean): Step {
  const meta = read.meta.value!;
  const member = read.members.get(peer)?.value;
  if (!member || !meta.members.includes(peer)) return Promise.resolve(notMember(peer));
  if (meta.hosts.includes(peer) === host) return Promise.resolve({ ok: true, meta });
  if (host) return commitMeta(ctx, read, withHost(meta, member));
  const hosts = meta.hosts.filter((p) => p !== peer);
  if (hosts.length === 0) {
    return Promise.resolve(refuse(
      "forbidden",
      "You are the only host: make someone else host first, then give up the role.",
    ));
  }
  // Another host with the same secret (the same browser in two tabs) keeps it as theirs.
  const shared = hosts.some((p) => read.members.get(p)?.value.secretHash === member.secretHash);
  const hostSecrets = member.secretHash === null || shared
    ? meta.hostSecrets
    : meta.hostSecrets.filter((h) => h !== member.secretHash);
  return commitMeta(ctx, read, { ...meta, hosts, host: hosts[0], hostSecrets });
}

/** Read-only, but committed as a check of the meta, so "still a host" holds at that moment. */
async function mute(ctx: RolesContext, read: RoomRead, target: PeerId | "all"): Step {
  const meta = read.meta.value!;
  let targets: Member[];
  if (target === "all") {
    targets = meta.members.filter((p) => !meta.hosts.includes(p))
      .map((p) => read.members.get(p)?.value)
      .filter((m): m is Member => m !== undefined && m.connected);
  } else {
    const member = read.members.get(target)?.value;
    if (!member || !meta.members.includes(target)) return notMember(target);
    targets = [member];
  }
  if (!(await ctx.kv.atomic().check(read.meta).commit()).ok) return CONFLICT;
  return { ok: true, meta, mute: targets.map((m) => ({ peer: m.peer, isolate: m.isolate })) };
}

/**
 * Deletes the room and every key of it, counts its members and the room out of the stats, and
 * writes the tombstone that refuses joins for `ENDED_ROOM_TTL_MS`.
 */
async function end(ctx: RolesContext, read: RoomRead, by: PeerId): Step {
  const meta = read.meta.value!;
  const now = ctx.now();
  const tombstone: EndedRoom = { at: now, by };
  const op = ctx.kv.atomic().check(read.meta)
    .delete(read.meta.key)
    .set(keys.ended(meta.id), tombstone, { expireIn: ENDED_ROOM_TTL_MS })
    .sum(STATS_KEYS.rooms, MINUS_ONE);
  if (meta.members.length > 0) op.sum(STATS_KEYS.participants, minus(meta.members.length));
  // Far below the mutation limit (see `addRemoval`); leftovers are swept as those of a room gone.
  for (const key of read.keys.slice(0, KV_LIMITS.mutations - 3)) op.delete(key);
  if (!(await op.commit()).ok) return CONFLICT;
  const members = meta.members.map((peer) => read.members.get(peer)?.value)
    .filter((m): m is Member => m !== undefined)
    .map((m) => ({ peer: m.peer, isolate: m.isolate }));
  const knocks = [...read.knocks.values()].map((e) => ({
    peer: e.value.peer,
    isolate: e.value.isolate,
  }));
  return { ok: true, meta: null, ended: { members, knocks } };
}

// ---------------------------------------------------------------------------------------------
// The lobby

/**
 * Reserves a place in the lobby for a newcomer (a fresh peer id and resume token) and writes its
 * knock. Refused like a `join` (the room may have changed since the `join` that sent here), with
 * `denied` when no host is here to let anyone in, and `room-full` beyond `MAX_LOBBY` live knocks.
 * Stale knocks are deleted in the same operation, and the meta is rewritten (unchanged) so that
 * concurrent knocks are serialized by its version check: the bound holds under any concurrency.
 */
export async function knock(
  ctx: RolesContext,
  room: string,
  input: { isolate: string; secret?: string; name?: string; card?: JsonValue },
): Promise<KnockResult> {
  const token = newToken();
  const peer = token.peer;
  const tokenHash = sha256Hex(token.secret);
  const secretHash = input.secret ? sha256Hex(input.secret) : null;
  return await retryKv<KnockResult>("knock", async () => {
    const [read, ended] = await Promise.all([
      readRoom(ctx.kv, room),
      ctx.kv.get<EndedRoom>(keys.ended(room)),
    ]);
    const now = ctx.now();
    const meta = read.meta.value;
    if (endedAt(ended.value, now)) return { ok: false, code: "room-ended" };
    if (!meta) return { ok: false, code: "no-room" };
    if (secretHash !== null && meta.banned.includes(secretHash)) {
      return { ok: false, code: "removed" };
    }
    if (meta.hosts.length === 0) return { ok: false, code: "denied" };
    if (meta.locked) return { ok: false, code: "room-locked" };
    const liveSince = now - ctx.heartbeatTimeoutMs;
    if (liveKnocks(read, liveSince).length >= MAX_LOBBY) return { ok: false, code: "room-full" };
    const decision = meta.lobby ? null : "admit";
    const record: KnockRecord = {
      peer,
      name: input.name ?? "",
      isolate: input.isolate,
      payload: null,
      at: now,
      beatAt: now,
      tokenHash,
      secretHash,
      decision,
    };
    if (input.card !== undefined) record.card = input.card;
    const op = ctx.kv.atomic().check(read.meta).set(read.meta.key, meta)
      // 96 random bits never collide in practice; the checks make a collision a retry.
      .check(absent(keys.knock(room, peer)))
      .check(absent(keys.member(room, peer)))
      .set(keys.knock(room, peer), record)
      // Should its isolate stop without withdrawing it, a due sweep finds the knock gone stale
      // (its beats then re-index it for as long as it waits: store.sweep).
      .set(sweepKeys.due(now + ctx.heartbeatTimeoutMs + 1, room), now);
    for (const entry of read.knocks.values()) {
      if (entry.value.beatAt < liveSince) op.check(entry).delete(entry.key);
    }
    if (!(await op.commit()).ok) return CONFLICT;
    return { ok: true, peer, token: token.text, decision };
  });
}

/**
 * Stores the sealed payload of a waiting knock, the first one only (a host may already have
 * read it). False when the knock is gone (withdrawn, decided and used, or the room is gone).
 */
export async function knockPayload(
  ctx: RolesContext,
  room: string,
  peer: PeerId,
  payload: JsonValue,
): Promise<boolean> {
  if (new TextEncoder().encode(JSON.stringify(payload)).length > MAX_KNOCK_BYTES) {
    throw new RangeError(`a knock payload must be at most ${MAX_KNOCK_BYTES} bytes as JSON`);
  }
  return await retryKv("knock", async () => {
    const entry = await ctx.kv.get<KnockRecord>(keys.knock(room, peer));
    if (!entry.value) return false;
    if (entry.value.payload !== null) return true;
    const next: KnockRecord = { ...entry.value, payload };
    const res = await ctx.kv.atomic().check(entry).set(entry.key, next).commit();
    return res.ok ? true : CONFLICT;
  });
}

/** Where a knock stands (see `KnockState`); the waiting isolate asks on every heartbeat. */
export async function knockState(
  ctx: RolesContext,
  room: string,
  peer: PeerId,
): Promise<KnockState> {
  const [entry, ended] = await retryKv(
    "knock",
    () => ctx.kv.getMany<[KnockRecord, EndedRoom]>([keys.knock(room, peer), keys.ended(room)]),
  );
  if (entry.value) return entry.value.decision ?? "waiting";
  return endedAt(ended.value, ctx.now()) ? "ended" : "gone";
}

/** Deletes a knock (its socket left or closed); nothing if it is gone already. */
export async function withdrawKnock(ctx: RolesContext, room: string, peer: PeerId): Promise<void> {
  await retryKv("knock", async () => {
    await ctx.kv.delete(keys.knock(room, peer));
    return undefined;
  });
}

/**
 * Records that these knocks' sockets on `isolate` are still waiting. Knocks of another isolate
 * or gone are left alone; a knock changed meanwhile (decided) keeps that change, and the next
 * beat refreshes it.
 */
export async function beatKnocks(
  ctx: RolesContext,
  entries: { room: string; peer: PeerId }[],
  isolate: string,
): Promise<void> {
  const found = await Promise.all(
    chunk(entries, KV_LIMITS.getManyKeys).map((part) =>
      retryKv(
        "knock",
        () => ctx.kv.getMany<KnockRecord[]>(part.map((e) => keys.knock(e.room, e.peer))),
      )
    ),
  );
  const now = ctx.now();
  await Promise.all(
    found.flat().filter((e): e is Deno.KvEntry<KnockRecord> =>
      e.value !== null && e.value.isolate === isolate
    ).map((entry) =>
      retryKv("knock", async () => {
        // One try: a conflict means the knock changed (decided, or its payload came).
        await ctx.kv.atomic().check(entry).set(entry.key, { ...entry.value, beatAt: now }).commit();
        return undefined;
      })
    ),
  );
}
