/**
 * Passing signals between members (PROTOCOL.md, "Relay rule"): straight to the target's socket
 * when it is on this isolate, else over the bus to the isolate holding it. A signal goes to one
 * socket found by peer id, never a scan, so relay cost does not grow with the number of rooms.
 */
import type { Bus, SignalNote } from "./bus.ts";
import type { Connection } from "./connection.ts";
import type { IsolateMetrics } from "./metrics.ts";
import type { JsonValue } from "./protocol.ts";
import type { CachedMember, RoomCache } from "./room_cache.ts";
import type { RoomStore } from "./store.ts";
import type { PeerId } from "./types.ts";

/** What a `Relay` works with. */
export interface RelayOptions {
  isolate: string;
  cache: RoomCache;
  bus: Bus;
  store: RoomStore;
  metrics: IsolateMetrics;
}

/**
 * The relay of one isolate.
 *
 * @example
 * ```ts
 * if (!relay.forward(room, from, to, payload)) await relay.forwardUncached(conn, from, to, payload);
 * ```
 */
export class Relay {
  readonly #opts: RelayOptions;

  constructor(opts: RelayOptions) {
    this.#opts = opts;
  }

  /**
   * Passes a signal on: straight to the target's socket when it is on this isolate, else over
   * the bus to the isolate holding it (`member`, by default from the cached roster). False when
   * the target cannot be reached that way.
   */
  forward(
    room: string,
    from: PeerId,
    to: PeerId,
    payload: JsonValue,
    member?: CachedMember,
  ): boolean {
    if (to === from) return false;
    const { isolate, cache, bus, metrics } = this.#opts;
    const cached = cache.get(room);
    member ??= cached?.members.get(to);
    const target = cached?.conns.get(to);
    if (target && !target.detached) {
      metrics.relayed.local = (metrics.relayed.local ?? 0) + 1;
      target.send({ type: "signal", from, payload });
      return true;
    }
    if (member?.connected && member.isolate !== isolate) {
      metrics.relayed.bus = (metrics.relayed.bus ?? 0) + 1;
      bus.send(member.isolate, { kind: "signal", room, from, to, payload });
      return true;
    }
    return false;
  }

  /**
   * The cached roster lags joins and resumes on other isolates: their news comes over the bus and
   * is applied by an asynchronous refresh, so the answer to a newcomer's offer can arrive before
   * the newcomer is in the cache. Look the target up in the store before refusing the signal, and
   * note what was found so the signals that follow (the ICE candidates) take the fast path.
   * (Frames of one socket are handled in order, so later signals wait for this lookup.)
   */
  async forwardUncached(
    conn: Connection,
    from: PeerId,
    to: PeerId,
    payload: JsonValue,
  ): Promise<void> {
    const { cache, store } = this.#opts;
    const snapshot = to === from ? null : await store.snapshot(conn.room);
    const member = snapshot?.members.find((m) => m.peer === to);
    if (member) {
      cache.get(conn.room)?.members.set(to, {
        isolate: member.isolate,
        connected: member.connected,
      });
    }
    if (member && this.forward(conn.room, from, to, payload, member)) return;
    const why = member ? "is reconnecting; it will renegotiate when back" : "is not in this room";
    conn.reject("unknown-peer", `Peer ${to} ${why}.`);
  }

  /** Delivers a signal another isolate sent for a socket here; dropped if it is gone. */
  deliver(note: SignalNote): void {
    const target = this.#opts.cache.get(note.room)?.conns.get(note.to);
    if (target && !target.detached) {
      target.send({ type: "signal", from: note.from, payload: note.payload });
    }
  }
}
