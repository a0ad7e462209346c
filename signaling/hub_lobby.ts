/**
 * The lobby on this isolate (PROTOCOL.md, "Lobby"): a fresh join into a room whose lobby is on
 * does not make a member. The store reserves a peer id and token and writes a knock; the socket
 * waits here, not as a member (no roster, no signals), and may send only `knock` (once), `ping`
 * and `leave` until a host decides. The decision is made in KV by the host's isolate, which tells
 * this one at once (a bus note, or directly when it is this one); this isolate then joins the
 * socket with its reserved place and sends `welcome`, or closes it with `denied` or `room-ended`.
 * The heartbeat beats the knocks of the sockets waiting here and reads their decisions again, so a
 * lost note still gets carried out within a heartbeat.
 */
import type { Bus } from "./bus.ts";
import type { Connection, LobbyPlace } from "./connection.ts";
import { MAX_LOBBY } from "./limits.ts";
import { bump, type IsolateMetrics } from "./metrics.ts";
import { type ClientMessage, CLOSE_NORMAL, type JsonValue } from "./protocol.ts";
import type { RoomCache } from "./room_cache.ts";
import type { RoomStore } from "./store.ts";
import type { PeerId } from "./types.ts";

/** What a `Lobby` works with. */
export interface LobbyOptions {
  /** This isolate's id, as written in the knocks of its waiting sockets. */
  isolate: string;
  store: RoomStore;
  cache: RoomCache;
  bus: Bus;
  metrics: IsolateMetrics;
  /**
   * Runs `work` for the socket after its frames and decisions queued before (hub.ts): a
   * decision never overtakes the socket's own `knock` or `leave`, nor another decision.
   */
  enqueue: (conn: Connection, what: string, work: () => Promise<void>) => void;
}

/** Why a waiting socket is turned away when a host ends the meeting, or when everyone left. */
const ENDED = "A host ended this meeting for everyone. Start a new meeting to meet again.";
const REMOVED = "A host removed you from this meeting, so you cannot rejoin it.";
const LEFT = "Everyone has left the meeting, so nobody can let you in. Ask for a new invitation.";

/**
 * The sockets waiting in lobbies on this isolate.
 *
 * @example
 * ```ts
 * // join: the store answered "lobby"
 * if (!(await lobby.wait(conn, secret))) { ... } // the room went away meanwhile: join again
 * // a host's isolate, after store.hostAction(admit):
 * lobby.tell(room, result.decided ?? []);
 * ```
 */
export class Lobby {
  readonly #opts: LobbyOptions;
  /** Places whose decision is queued to be read, so heartbeats do not queue it twice. */
  readonly #queued = new WeakSet<LobbyPlace>();

  constructor(opts: LobbyOptions) {
    this.#opts = opts;
  }

  /**
   * Puts a socket whose join found the lobby on into the lobby: a knock with a reserved place,
   * then `waiting`. False when the room went away in between (the caller joins again, and may
   * create it); true when the socket waits or was refused (too many waiting, no host, ended).
   */
  async wait(
    conn: Connection,
    input: { name: string; secret?: string; card?: JsonValue },
  ): Promise<boolean> {
    const { isolate, store, cache, metrics } = this.#opts;
    const room = conn.room;
    const res = await store.knock(room, { isolate, ...input });
    if (!res.ok) {
      switch (res.code) {
        case "no-room":
          return false;
        case "room-locked":
          conn.reject("room-locked", "A host locked this meeting. Ask them to unlock it.");
          return true;
        case "removed":
          conn.reject("removed", REMOVED);
          return true;
        case "room-full":
          conn.reject(
            "room-full",
            `Too many people are waiting to be let in (at most ${MAX_LOBBY}). Try again later.`,
          );
          return true;
        case "denied":
          conn.reject("denied", "No host is here to let you in. Try again later.");
          return true;
        case "room-ended":
          conn.reject("room-ended", ENDED);
          return true;
      }
    }
    if (conn.closed) {
      // Gone while the knock was written: nobody is waiting.
      await store.withdrawKnock(room, res.peer);
      return true;
    }
    conn.clearJoinTimer();
    conn.lobby = { peer: res.peer, token: res.token, knocked: false };
    cache.open(room).waiting.set(res.peer, conn);
    bump(metrics.hostActions ??= {}, "waiting");
    conn.send({ type: "waiting", knock: res.peer });
    // Hosts see the knock (payload null until it comes).
    cache.changed(room);
    // The lobby was turned off since the join found it on: in at once.
    if (res.decision === "admit") this.#queue(conn);
    return true;
  }

  /** A frame from a waiting socket: only `knock` (once), `ping` and `leave` are allowed. */
  async handle(conn: Connection, message: ClientMessage): Promise<void> {
    const { store, cache } = this.#opts;
    const place = conn.lobby!;
    const room = conn.room;
    switch (message.type) {
      case "ping":
        return conn.send({ type: "pong", t: message.t });
      case "knock":
        if (place.knocked) {
          return conn.reject(
            "forbidden",
            "You have knocked already; wait for a host to let you in.",
          );
        }
        place.knocked = true;
        if (await store.knockPayload(room, place.peer, message.payload)) cache.changed(room);
        // The knock is gone or decided: carry that out now rather than at the next heartbeat.
        else await this.#settle(conn);
        return;
      case "leave":
        conn.detached = true;
        this.#release(conn);
        await store.withdrawKnock(room, place.peer);
        cache.changed(room);
        conn.close(CLOSE_NORMAL, "left");
        return;
      default:
        return conn.reject(
          "forbidden",
          `You are waiting in the lobby: until a host lets you in you may send only knock, ` +
            `ping and leave, so "${message.type}" was ignored.`,
        );
    }
  }

  /** A waiting socket closed: its knock is withdrawn (after anything queued for it). */
  closed(conn: Connection): void {
    this.#opts.enqueue(conn, "lobby close", async () => {
      const place = conn.lobby;
      if (!place) return; // let in, turned away or left meanwhile
      this.#release(conn);
      await this.#opts.store.withdrawKnock(conn.room, place.peer);
      this.#opts.cache.changed(conn.room);
    });
  }

  /**
   * Tells the isolates of these waiting sockets to read their knocks now (a host decided, or
   * ended the room: `ended`); directly when the socket is here.
   */
  tell(room: string, knocks: { peer: PeerId; isolate: string }[], ended = false): void {
    const { isolate, bus } = this.#opts;
    for (const knock of knocks) {
      if (knock.isolate === isolate) this.decide(room, knock.peer, ended);
      else bus.send(knock.isolate, { kind: "lobby", room, knock: knock.peer, ended });
    }
  }

  /** Reads the knock of a socket waiting here and carries out what was decided about it. */
  decide(room: string, peer: PeerId, ended = false): void {
    const conn = this.#opts.cache.get(room)?.waiting.get(peer);
    if (!conn?.lobby) return;
    if (ended) conn.lobby.ended = true;
    this.#queue(conn);
  }

  /**
   * Reads these waiting sockets' knocks and carries out what was decided (a read of the room
   * found them decided or gone, or the room is no longer served here).
   */
  check(conns: Connection[]): void {
    for (const conn of conns) this.#queue(conn);
  }

  /**
   * The heartbeat: knocks of sockets still waiting here stay live (a stale knock is dropped by
   * the sweep), and decisions whose note was lost are read and carried out.
   */
  async beat(): Promise<void> {
    const { isolate, store, cache } = this.#opts;
    const entries = cache.waitingKnocks();
    if (entries.length === 0) return;
    await store.beatKnocks(entries, isolate);
    for (const { room, peer } of entries) this.decide(room, peer);
  }

  /** A clean stop: the knocks of this isolate's waiting sockets are withdrawn. */
  async stop(): Promise<void> {
    const { store } = this.#opts;
    await Promise.all(
      this.#opts.cache.waitingKnocks().map(({ room, peer }) => {
        const conn = this.#opts.cache.get(room)?.waiting.get(peer);
        if (conn) this.#release(conn);
        return store.withdrawKnock(room, peer);
      }),
    );
  }

  #queue(conn: Connection): void {
    const place = conn.lobby;
    if (!place || this.#queued.has(place)) return;
    this.#queued.add(place);
    this.#opts.enqueue(conn, "lobby decision", async () => {
      this.#queued.delete(place);
      if (conn.lobby === place) await this.#settle(conn);
    });
  }

  /** Carries out the decision about the socket's knock, if one was taken. */
  async #settle(conn: Connection): Promise<void> {
    const { isolate, store, cache, metrics } = this.#opts;
    const place = conn.lobby;
    // A closed socket's knock is withdrawn by its close handler, queued after this.
    if (!place || conn.closed || conn.detached) return;
    const room = conn.room;
    const state = await store.knockState(room, place.peer);
    if (conn.lobby !== place || conn.closed) return;
    switch (state) {
      case "waiting":
        return;
      case "deny":
        this.#release(conn);
        await store.withdrawKnock(room, place.peer);
        cache.changed(room);
        return conn.reject("denied", "A host did not let you in.");
      case "ended":
        this.#release(conn);
        return conn.reject("room-ended", ENDED);
      case "gone":
        // The note of an `end` may come before the tombstone can be read (it cannot: the end
        // is committed first), but a note is what this isolate was told: trust either.
        this.#release(conn);
        return place.ended ? conn.reject("room-ended", ENDED) : conn.reject("denied", LEFT);
      case "admit":
        break;
    }
    const res = await store.joinAdmitted(room, place.peer, isolate);
    this.#release(conn);
    if (!res.ok) {
      cache.changed(room);
      switch (res.code) {
        case "room-full":
          return conn.reject(
            "room-full",
            "A host let you in, but the meeting is full. Ask someone to leave, then try again.",
          );
        case "room-ended":
          return conn.reject("room-ended", ENDED);
        case "removed":
          return conn.reject("removed", REMOVED);
        default:
          // The room or the knock went away meanwhile.
          return conn.reject("denied", LEFT);
      }
    }
    metrics.joins++;
    const peer = place.peer;
    if (conn.closed) {
      // The socket went away while it was being let in: a disconnect like any other.
      await store.disconnect(room, peer, isolate, res.versionstamp);
      cache.changed(room);
      return;
    }
    conn.peer = peer;
    conn.version = res.versionstamp;
    await cache.admit(cache.open(room), conn, { token: place.token, resumed: false });
  }

  /** The socket no longer waits (let in, turned away, left or closed). */
  #release(conn: Connection): void {
    const place = conn.lobby;
    if (!place) return;
    conn.lobby = null;
    const waiting = this.#opts.cache.get(conn.room)?.waiting;
    if (waiting?.get(place.peer) === conn) waiting.delete(place.peer);
  }
}
