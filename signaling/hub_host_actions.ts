/**
 * Host actions on this isolate (PROTOCOL.md, "Roles"): `lock`, `lobby`, `admit`, `remove`,
 * `role`, `mute` and `end`. The store decides and applies each one in one KV transaction that
 * checks the sender is a host (`RoomStore.hostAction`); this module carries out what follows from
 * it on the sockets: the removed member's socket is evicted, waiting sockets hear of decisions
 * about them, muted members are told, and an ended room's members are evicted. Sockets on other
 * isolates are reached over the bus.
 */
import type { Bus, DeliverNote } from "./bus.ts";
import type { Connection } from "./connection.ts";
import type { Lobby } from "./hub_lobby.ts";
import { bump, type IsolateMetrics } from "./metrics.ts";
import type { HostAction, ServerMessage } from "./protocol.ts";
import type { RoomCache } from "./room_cache.ts";
import type { RoomStore } from "./store.ts";
import type { PeerId } from "./types.ts";

/** What `HostActions` works with. */
export interface HostActionsOptions {
  isolate: string;
  store: RoomStore;
  cache: RoomCache;
  bus: Bus;
  metrics: IsolateMetrics;
  lobby: Lobby;
}

/** The `reason` of a removed member's `evicted`. */
const KICKED = "A host removed you from the meeting.";
/** The `reason` of every member's `evicted` when a host ends the meeting. */
const ENDED = "A host ended the meeting for everyone.";

/** A member and the isolate holding its socket, as the store reports them. */
interface Placed {
  peer: PeerId;
  isolate: string;
}

/**
 * Carries out host actions.
 *
 * @example
 * ```ts
 * // a frame from a member
 * if (isHostAction(message)) await hostActions.act(conn, conn.peer, message);
 * // a bus note from another isolate
 * hostActions.deliver(note);
 * ```
 */
export class HostActions {
  readonly #opts: HostActionsOptions;

  constructor(opts: HostActionsOptions) {
    this.#opts = opts;
  }

  /**
   * Applies `action` from the member `by` (its socket `conn`), or answers `forbidden` or
   * `unknown-peer` (non-fatal: nothing changed). Everyone then gets the new roster.
   */
  async act(conn: Connection, by: PeerId, action: HostAction): Promise<void> {
    const { store, cache, lobby, metrics } = this.#opts;
    const room = conn.room;
    const res = await store.hostAction(room, by, action);
    if (!res.ok) return conn.reject(res.code, res.message);
    bump(metrics.hostActions ??= {}, action.type);
    if (res.removed) this.#evict(room, res.removed, "kicked", KICKED, by);
    if (res.decided) lobby.tell(room, res.decided);
    if (res.mute && action.type === "mute") {
      for (const target of res.mute) {
        this.#send(room, target, { type: "muted", what: action.what, by });
      }
    }
    if (res.ended) {
      for (const member of res.ended.members) this.#evict(room, member, "ended", ENDED, by);
      lobby.tell(room, res.ended.knocks, true);
      // The room is gone, so the roster below reaches nobody elsewhere: let the other isolates
      // drop it now (after the closes above, which the bus delivers first).
      const isolates = new Set([...res.ended.members, ...res.ended.knocks].map((m) => m.isolate));
      isolates.delete(this.#opts.isolate);
      for (const isolate of isolates) this.#opts.bus.send(isolate, { kind: "roster", room });
    }
    cache.changed(room);
  }

  /** Delivers a message another isolate sent for a member's socket here; dropped if it is gone. */
  deliver(note: DeliverNote): void {
    const target = this.#opts.cache.get(note.room)?.conns.get(note.to);
    if (target && !target.detached) target.send(note.message);
  }

  /** Sends `message` to a member's socket, here or on its isolate. */
  #send(room: string, target: Placed, message: ServerMessage): void {
    const { isolate, cache, bus } = this.#opts;
    if (target.isolate !== isolate) {
      bus.send(target.isolate, { kind: "deliver", room, to: target.peer, message });
      return;
    }
    const conn = cache.get(room)?.conns.get(target.peer);
    if (conn && !conn.detached) conn.send(message);
  }

  /** Evicts a member's socket (the store has removed the member), here or on its isolate. */
  #evict(
    room: string,
    target: Placed,
    code: "kicked" | "ended",
    reason: string,
    by: PeerId,
  ): void {
    const { isolate, cache, bus, metrics } = this.#opts;
    bump(metrics.evictions, code);
    if (target.isolate !== isolate) {
      bus.send(target.isolate, {
        kind: "close",
        room,
        peer: target.peer,
        code: "evicted",
        evictionCode: code,
        reason,
        by,
      });
      return;
    }
    const conn = cache.get(room)?.conns.get(target.peer);
    if (conn) cache.detach(conn, code, reason, { by });
  }
}
