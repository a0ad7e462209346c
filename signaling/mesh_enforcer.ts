/**
 * The full-mesh guarantee and member expiry for the rooms this isolate serves: after every
 * refresh of a room, one timer is armed for the next moment a decision could change (a link
 * deadline, the end of a grace period, another isolate's heartbeat timeout), never a poll. When
 * it fires, members whose grace ran out are removed, members of a stopped server start their
 * grace period, and whoever breaks the full mesh is evicted (`evaluateMesh`,
 * PROTOCOL.md "Full-mesh guarantee"). Links whose two ends disagree and that the policy leaves to
 * the hosts (`disputedPairs`) are shown in hosts' rosters; the timer notices when they change.
 */
import type { Bus } from "./bus.ts";
import type { SignalingConfig } from "./config.ts";
import { disputedPairs, evaluateMesh, nextDeadline, type PolicyMember } from "./mesh_policy.ts";
import { bump, type IsolateMetrics } from "./metrics.ts";
import type { CachedRoom, RoomCache } from "./room_cache.ts";
import type { RoomStore } from "./store.ts";
import type { TaskTracker } from "./task_tracker.ts";
import type { PeerId, RoomSnapshot } from "./types.ts";

/** A timer fires this long after the moment it waits for, so that moment has surely passed. */
const TIMER_SLACK_MS = 20;

/** What a `MeshEnforcer` works with. */
export interface MeshEnforcerOptions {
  isolate: string;
  config: Pick<SignalingConfig, "graceMs" | "heartbeatTimeoutMs" | "linkDeadlineMs">;
  store: RoomStore;
  bus: Bus;
  cache: RoomCache;
  metrics: IsolateMetrics;
  tasks: TaskTracker;
}

/**
 * Keeps each served room a full mesh of live members.
 *
 * @example
 * ```ts
 * const enforcer = new MeshEnforcer({ isolate, config, store, bus, cache, metrics, tasks });
 * // from RoomCache's onRefreshed:
 * enforcer.schedule(room, snapshot);
 * ```
 */
export class MeshEnforcer {
  readonly #opts: MeshEnforcerOptions;

  constructor(opts: MeshEnforcerOptions) {
    this.#opts = opts;
  }

  /**
   * Arms the room's timer for the next moment a decision could change. Drops the room from the
   * cache instead when this isolate has neither members nor sockets in it any more.
   */
  schedule(room: CachedRoom, snapshot: RoomSnapshot): void {
    const { isolate, config, cache, tasks } = this.#opts;
    clearTimeout(room.timer);
    if (tasks.stopped) return;
    const mine = snapshot.members.some((m) => m.isolate === isolate);
    // A socket waiting in the lobby keeps the room served here: its admission needs the room.
    if (!mine && room.conns.size === 0 && room.waiting.size === 0) return cache.drop(room);
    const now = Date.now();
    const times = [
      nextDeadline(policyMembers(snapshot, config.heartbeatTimeoutMs, now), {
        now,
        deadlineMs: config.linkDeadlineMs,
      }),
    ];
    for (const m of snapshot.members) {
      if (!m.connected && m.disconnectedAt !== null) times.push(m.disconnectedAt + config.graceMs);
      // Only a connected member's beat matters: once marked lost, its grace period counts.
      if (m.connected && m.isolate !== isolate) {
        times.push(m.heartbeatAt + config.heartbeatTimeoutMs);
      }
    }
    const next = Math.min(...times.filter((t): t is number => t !== null));
    if (!Number.isFinite(next)) return;
    room.timer = setTimeout(
      () => tasks.track(this.#check(room)),
      Math.max(TIMER_SLACK_MS, next - now + TIMER_SLACK_MS),
    );
  }

  /**
   * Links whose two ends disagree and which the policy leaves to the hosts to settle, sorted
   * (`disputedPairs`); hosts' rosters carry them.
   */
  disputes(snapshot: RoomSnapshot): [PeerId, PeerId][] {
    const { config } = this.#opts;
    const now = Date.now();
    return disputedPairs(policyMembers(snapshot, config.heartbeatTimeoutMs, now), {
      now,
      deadlineMs: config.linkDeadlineMs,
    });
  }

  /** Clears every room's timer (the hub is stopping). */
  stop(): void {
    for (const room of this.#opts.cache.values()) clearTimeout(room.timer);
  }

  /** Sweeps stale members and evicts whoever breaks the full mesh. */
  async #check(room: CachedRoom): Promise<void> {
    const { config, store, bus, cache, metrics, tasks } = this.#opts;
    if (tasks.stopped) return;
    const id = room.id;
    const swept = await store.sweep(id);
    let changed = swept.lost.length > 0;
    for (const peer of swept.removed) {
      bump(metrics.evictions, "grace-expired");
      changed = true;
      const conn = room.conns.get(peer);
      if (conn) cache.detach(conn, "grace-expired", "Your connection timed out.");
    }
    const snapshot = await store.snapshot(id);
    if (!snapshot) return cache.drop(room);
    const evictions = evaluateMesh(policyMembers(snapshot, config.heartbeatTimeoutMs), {
      now: Date.now(),
      deadlineMs: config.linkDeadlineMs,
    });
    for (const eviction of evictions) {
      const member = snapshot.members.find((m) => m.peer === eviction.peer);
      const { unreachable } = eviction;
      // The removal is recorded in the room (`room.removals`), so everyone's UI can say why.
      await store.remove(id, eviction.peer, { code: "mesh-incomplete", by: null, unreachable });
      bump(metrics.evictions, "mesh-incomplete");
      cache.changed(id);
      const conn = room.conns.get(eviction.peer);
      if (conn) cache.detach(conn, "mesh-incomplete", eviction.reason, { unreachable });
      else if (member) {
        bus.send(member.isolate, {
          kind: "close",
          room: id,
          peer: eviction.peer,
          code: "evicted",
          evictionCode: "mesh-incomplete",
          reason: eviction.reason,
          unreachable,
        });
      }
      changed = true;
    }
    if (changed) cache.changed(id);
    else if (JSON.stringify(this.disputes(snapshot)) !== room.disputes) {
      // A link became disputed (or stopped being) with no membership change: only hosts' view
      // changes, and every isolate with members here runs this timer, so a local refresh does.
      cache.heardOfChange(id);
    } else this.schedule(room, snapshot);
  }
}

/**
 * Members in their grace period are left to the grace timer, not judged on stale links; so are
 * members whose server stopped beating (a restart): their links may be fine, and their own
 * reconnect, or its absence within the grace period, decides.
 */
function policyMembers(
  s: RoomSnapshot,
  heartbeatTimeoutMs: number,
  now = Date.now(),
): PolicyMember[] {
  const live = (m: RoomSnapshot["members"][number]) =>
    m.connected && now - m.heartbeatAt <= heartbeatTimeoutMs;
  const hosts = new Set(s.meta.hosts);
  return s.members.filter(live).map((m) => ({
    peer: m.peer,
    joinedAt: m.joinedAt,
    // The policy never evicts a host to satisfy a non-host (PROTOCOL.md, "Full-mesh guarantee").
    host: hosts.has(m.peer),
    links: m.links,
  }));
}
