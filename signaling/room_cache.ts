/**
 * This isolate's view of the rooms it serves: their sockets by peer id, and the member list of
 * each room as last read from the store, refreshed on every change this isolate makes or hears of
 * on the bus. A refresh sends the roster to the room's sockets here and the welcome to sockets
 * that just joined, so a joiner's welcome and the others' roster come from the same read.
 *
 * Refreshes of one room run one after another (rosters never go back in time), and changes made
 * before a refresh starts reading share its read.
 */
import type { Bus } from "./bus.ts";
import type { Connection } from "./connection.ts";
import {
  type EvictionCode,
  type MemberView,
  PROTOCOL_VERSION,
  type RoomView,
  serverMessage,
  type SessionConfig,
} from "./protocol.ts";
import type { RoomStore } from "./store.ts";
import type { TaskTracker } from "./task_tracker.ts";
import type { PeerId, RoomSnapshot } from "./types.ts";

/** Where a member's socket is, as far as this isolate knows. */
export interface CachedMember {
  isolate: string;
  connected: boolean;
}

/** A room with at least one socket on this isolate, or one it keeps an eye on. */
export interface CachedRoom {
  id: string;
  /** This isolate's joined sockets in the room. */
  conns: Map<PeerId, Connection>;
  /** Every member, from the last read of the room. */
  members: Map<PeerId, CachedMember>;
  /** The mesh enforcer's next check of the room (mesh_enforcer.ts); cleared when it is dropped. */
  timer?: ReturnType<typeof setTimeout>;
  /** A refresh that has been asked for and has not started reading yet. */
  refresh?: { propagate: boolean };
  /** The refresh in progress; the next one waits for it, so rosters never go back in time. */
  refreshing?: Promise<void>;
  /** Refreshes that have started reading the room so far. */
  reads: number;
}

/** What a `RoomCache` works with. */
export interface RoomCacheOptions {
  /** This isolate's id: members held elsewhere hear of changes over the bus. */
  isolate: string;
  store: RoomStore;
  bus: Bus;
  tasks: TaskTracker;
  /** The settings every welcome carries. */
  session: SessionConfig;
  /** Called after each successful refresh (the mesh enforcer arms its timer from it). */
  onRefreshed: (room: CachedRoom, snapshot: RoomSnapshot) => void;
}

/**
 * The rooms this isolate serves.
 *
 * @example
 * ```ts
 * const room = cache.open(roomId);
 * await cache.admit(room, conn, { token, resumed: false }); // welcome sent
 * cache.changed(roomId); // after any other change: rosters here and on other isolates
 * ```
 */
export class RoomCache {
  readonly #opts: RoomCacheOptions;
  readonly #rooms = new Map<string, CachedRoom>();

  constructor(opts: RoomCacheOptions) {
    this.#opts = opts;
  }

  /** The cached room, if this isolate serves it. */
  get(id: string): CachedRoom | undefined {
    return this.#rooms.get(id);
  }

  /** Every cached room. */
  values(): IterableIterator<CachedRoom> {
    return this.#rooms.values();
  }

  /** The cached room, created empty if this isolate did not serve it yet. */
  open(id: string): CachedRoom {
    let room = this.#rooms.get(id);
    if (!room) {
      room = { id, conns: new Map(), members: new Map(), reads: 0 };
      this.#rooms.set(id, room);
    }
    return room;
  }

  /**
   * Registers a socket that has just joined (`conn.peer` set) and resolves once its welcome is
   * sent. The welcome and the others' rosters come from one read of the room: the refresh this
   * change schedules (or one already scheduled that has not read yet). Frames that follow the
   * join wait until that refresh is done. If the room is gone by then, the refresh drops it and
   * this socket is told so instead.
   */
  async admit(
    room: CachedRoom,
    conn: Connection,
    welcome: { token: string; resumed: boolean },
  ): Promise<void> {
    room.conns.set(conn.peer!, conn);
    conn.welcome = { ...welcome, after: room.reads };
    this.changed(room.id);
    await room.refreshing;
  }

  /** This isolate changed the room: refresh it here and tell the other isolates serving it. */
  changed(id: string): void {
    const room = this.#rooms.get(id);
    if (room) this.#scheduleRefresh(room, true);
    else {
      // No socket here any more; still tell whoever serves the room.
      const { store, tasks } = this.#opts;
      tasks.track(store.snapshot(id).then((s) => s && this.#propagate(id, s)));
    }
  }

  /** Another isolate changed the room: refresh it here, if served here. */
  heardOfChange(id: string): void {
    const room = this.#rooms.get(id);
    if (room) this.#scheduleRefresh(room, false);
  }

  /** Ends a socket's membership role without touching the member record, then closes it. */
  detach(conn: Connection, code: EvictionCode, reason: string): void {
    const room = conn.peer ? this.#rooms.get(conn.room) : undefined;
    if (room && conn.peer && room.conns.get(conn.peer) === conn) room.conns.delete(conn.peer);
    conn.evict(code, reason);
  }

  /** Stops serving the room; its sockets here are no longer members of it. */
  drop(room: CachedRoom): void {
    clearTimeout(room.timer);
    for (const conn of room.conns.values()) {
      // Our member is gone from the store (swept or evicted elsewhere): its socket has no room.
      this.detach(conn, "kicked", "You are no longer a member of this meeting.");
    }
    this.#rooms.delete(room.id);
  }

  /** Every member with a socket here, for the heartbeat. */
  servedMembers(): { room: string; peer: PeerId }[] {
    const entries: { room: string; peer: PeerId }[] = [];
    for (const room of this.#rooms.values()) {
      for (const peer of room.conns.keys()) entries.push({ room: room.id, peer });
    }
    return entries;
  }

  /** Rooms with at least one socket here (the `rooms` gauge). */
  activeRoomCount(): number {
    return [...this.#rooms.values()].filter((r) => r.conns.size > 0).length;
  }

  /**
   * Coalesces refreshes: changes made before a refresh starts reading share that read. It starts
   * once the previous refresh of the room is done (at the earliest, a microtask later): under load
   * changes pile up meanwhile and share one read, and an idle server answers without a timer's
   * delay (a join waits for this refresh's welcome).
   */
  #scheduleRefresh(room: CachedRoom, propagate: boolean): void {
    if (room.refresh) {
      room.refresh.propagate ||= propagate;
      return;
    }
    room.refresh = { propagate };
    const previous = room.refreshing;
    room.refreshing = this.#opts.tasks.track((async () => {
      await previous?.catch(() => {});
      await this.#refresh(room);
    })());
  }

  async #refresh(room: CachedRoom): Promise<void> {
    const propagate = room.refresh?.propagate ?? false;
    room.refresh = undefined;
    if (this.#opts.tasks.stopped) return;
    const read = ++room.reads;
    const snapshot = await this.#opts.store.snapshot(room.id);
    if (!snapshot) return this.drop(room);
    room.members = new Map(
      snapshot.members.map((m) => [m.peer, { isolate: m.isolate, connected: m.connected }]),
    );
    const members = memberViews(snapshot);
    let roster: string | undefined;
    for (const conn of room.conns.values()) {
      if (!conn.welcome) {
        roster ??= serverMessage({ type: "roster", room: roomView(snapshot), members });
        conn.sendText(roster);
      } else if (conn.welcome.after < read) {
        this.#sendWelcome(conn, snapshot, members);
      }
      // Else the socket joined after this read began: no roster before its welcome.
    }
    if (propagate) this.#propagate(room.id, snapshot);
    this.#opts.onRefreshed(room, snapshot);
  }

  #sendWelcome(conn: Connection, snapshot: RoomSnapshot, members: MemberView[]): void {
    const welcome = conn.welcome!;
    conn.welcome = undefined;
    conn.send({
      type: "welcome",
      v: PROTOCOL_VERSION,
      peer: conn.peer!,
      token: welcome.token,
      resumed: welcome.resumed,
      room: roomView(snapshot),
      members,
      config: this.#opts.session,
    });
  }

  /** Tells every other isolate holding a member of the room to refresh it. */
  #propagate(id: string, snapshot: RoomSnapshot): void {
    const isolates = new Set(snapshot.members.map((m) => m.isolate));
    isolates.delete(this.#opts.isolate);
    for (const isolate of isolates) this.#opts.bus.send(isolate, { kind: "roster", room: id });
  }
}

function roomView(s: RoomSnapshot): RoomView {
  return { id: s.meta.id, capacity: s.meta.capacity, locked: s.meta.locked, host: s.meta.host };
}

function memberViews(s: RoomSnapshot): MemberView[] {
  return s.members.map((m) => ({
    peer: m.peer,
    name: m.name,
    joinedAt: m.joinedAt,
    connected: m.connected,
    links: Object.fromEntries(Object.entries(m.links).map(([p, l]) => [p, l.state])),
  }));
}
