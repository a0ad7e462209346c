/**
 * Passing signals between members (PROTOCOL.md, "Relay rule"): straight to the target's socket
 * when it is on this isolate, else over the bus to the isolate holding it. A signal goes to one
 * socket found by peer id, never a scan, so relay cost does not grow with the number of rooms.
 *
 * Every signal is delivered or refused to its sender, never dropped unsaid (PROTOCOL.md,
 * "Backpressure between isolates"): the bus refuses what is over its caps (`relay-busy`) and
 * reports writes that failed (`relay-failed`), and the relay tells the sending socket.
 */
import type { Bus, BusMessage, BusSender, BusSendResult, SignalNote } from "./bus.ts";
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
 * if (!relay.forward(conn, to, payload)) await relay.forwardUncached(conn, conn.peer, to, payload);
 * ```
 */
export class Relay {
  readonly #opts: RelayOptions;
  /** Each socket's handle on the bus: the bus caps and reports per handle. */
  readonly #senders = new WeakMap<Connection, BusSender>();

  constructor(opts: RelayOptions) {
    this.#opts = opts;
  }

  /**
   * Passes a signal from `conn`'s member on: straight to the target's socket when it is on this
   * isolate, else over the bus to the isolate holding it (`member`, by default from the cached
   * roster), or refuses it to `conn` when the bus is over its caps (`relay-busy`). True when the
   * signal was dealt with (also when refused), false when the target cannot be reached that way.
   */
  forward(
    conn: Connection,
    to: PeerId,
    payload: JsonValue,
    member?: CachedMember,
  ): boolean {
    const { room, peer: from } = conn;
    if (from === null || to === from) return false;
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
      const note: SignalNote = { kind: "signal", room, from, to, payload };
      const result = bus.send(member.isolate, note, this.#senderOf(conn));
      if (result === "queued") metrics.relayed.bus = (metrics.relayed.bus ?? 0) + 1;
      else refuse(conn, to, result);
      return true;
    }
    return false;
  }

  /** The socket's bus handle: one per socket, so its bytes are counted together. */
  #senderOf(conn: Connection): BusSender {
    let sender = this.#senders.get(conn);
    if (!sender) {
      sender = { failed: (message) => reportFailure(conn, message) };
      this.#senders.set(conn, sender);
    }
    return sender;
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
    if (member && this.forward(conn, to, payload, member)) return;
    const why = member ? "is reconnecting; it will renegotiate when back" : "is not in this room";
    conn.reject("unknown-peer", `Peer ${to} ${why}.`, to);
  }

  /** Delivers a signal another isolate sent for a socket here; dropped if it is gone. */
  deliver(note: SignalNote): void {
    const target = this.#opts.cache.get(note.room)?.conns.get(note.to);
    if (target && !target.detached) {
      target.send({ type: "signal", from: note.from, payload: note.payload });
    }
  }
}

/** Tells the sender its signal was not queued, and why. */
function refuse(conn: Connection, to: PeerId, result: Exclude<BusSendResult, "queued">): void {
  switch (result) {
    case "sender-busy":
      return conn.reject(
        "relay-busy",
        `Your signal to ${to} was not sent: the server is still passing on your earlier ` +
          "signals. Send it again in a moment.",
        to,
      );
    case "bus-busy":
      return conn.reject(
        "relay-busy",
        `Your signal to ${to} was not sent: the server is busy passing on other signals. Send ` +
          "it again in a moment.",
        to,
      );
    case "stopped":
      return conn.reject(
        "relay-failed",
        `Your signal to ${to} was not sent: this server is shutting down. Rejoin in a moment.`,
        to,
      );
  }
}

/** Tells the sender that one of its queued signals is lost: the bus could not write it. */
function reportFailure(conn: Connection, message: BusMessage): void {
  if (message.kind !== "signal") return;
  conn.reject(
    "relay-failed",
    `Your signal to ${message.to} was lost: the server could not pass it on. Send it again; ` +
      "if it keeps failing, rejoin.",
    message.to,
  );
}
