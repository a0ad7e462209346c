/**
 * This isolate's view of the rooms it serves: their sockets by peer id, and the member list of
 * each room as last read from the store, refreshed on every change this isolate makes or hears of
 * on the bus. A refresh sends the roster to the room's sockets here and the welcome to sockets
 * that just joined, so a joiner's welcome and the others' roster come from the same read.
 *
 * Refreshes of one room run one after another (rosters never go back in time), and changes made
 * before a refresh starts reading share its read. Hosts get a roster of their own, with the lobby's
 * knocks and the disputed links; both variants are encoded once per refresh.
 *
 * Sockets waiting in the lobby are kept here too (`waiting`): they are not members and get no
 * roster, but the room stays cached for them so its refreshes and timers go on.
 */
import type { Bus } from "./bus.ts";
import type { Connection, EvictionDetails } from "./connection.ts";
import {
  type EvictionCode,
  type KnockView,
  type MemberView,
  PROTOCOL_VERSION,
  type RoomView,
  serverMessage,
  type SessionConfig,
} from "./protocol.ts";
import type { RoomStore } from "./store.ts";
import type { TaskTracker } from "./task_tracker.ts";
import type { Links, PeerId, RoomSnapshot } from "./types.ts";

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
  /** This isolate's sockets waiting in the room's lobby, by their reserved peer id. */
  waiting: Map<PeerId, Connection>;
  /** The disputed links the last refresh showed hosts (JSON), so a change can be noticed. */
  disputes: string;
  /** Every member, from the last read of the room. */
  members: Map<PeerId, CachedMember>;
  /** The mesh enforcer's next check of the room (mesh_enforcer.ts); cleared when it is dropped. */
  timer?: ReturnType<typeof setTimeout>;
  /** A refresh that has been asked for and has not started reading yet (see `RefreshKind`). */
  refresh?: RefreshKind;
  /** The refresh in progress; the next one waits for it, so rosters never go back in time. */
  refreshing?: Promise<void>;
  /** Refreshes that have started reading the room so far. */
  reads: number;
  /** The last read of the room (with link reports written here since patched in). */
  snapshot?: RoomSnapshot;
  /** Refreshes asked for and not finished: while any is, a link report is not patched in. */
  busy: number;
}

/**
 * What a refresh owes: `propagate`, a "room changed" note to the other isolates serving the room;
 * `rosters`, a roster to every member here. A refresh for a link report alone owes neither: it
 * re-arms the mesh enforcer, and only when the disputed links changed do hosts (here and on the
 * other isolates) get a roster (PROTOCOL.md, "Roster semantics").
 */
interface RefreshKind {
  propagate: boolean;
  rosters: boolean;
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
  /** The room's disputed links, for hosts' rosters (mesh_enforcer.ts). */
  disputes: (snapshot: RoomSnapshot) => [PeerId, PeerId][];
  /**
   * These sockets wait in the room's lobby, and a read of the room found their knocks decided or
   * gone (or the room is no longer served here): carry that out (hub_lobby.ts).
   */
  checkWaiting: (conns: Connection[]) => void;
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
      room = {
        id,
        conns: new Map(),
        waiting: new Map(),
        members: new Map(),
        disputes: "[]",
        reads: 0,
        busy: 0,
      };
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
    if (room) this.#scheduleRefresh(room, { propagate: true, rosters: true });
    else {
      // No socket here any more; still tell whoever serves the room.
      const { store, tasks } = this.#opts;
      tasks.track(store.snapshot(id).then((s) => s && this.#propagate(id, s)));
    }
  }

  /** Another isolate changed the room: refresh it here, if served here. */
  heardOfChange(id: string): void {
    const room = this.#rooms.get(id);
    if (room) this.#scheduleRefresh(room, { propagate: false, rosters: true });
  }

  /**
   * A member here changed its link report: the mesh enforcer here re-arms from a new read, and
   * hosts hear of it only if the disputed links changed. Nobody else needs a link report: the
   * full-mesh decision is the server's, and each enforcer reads the room afresh before it acts.
   */
  linksChanged(id: string, peer: PeerId, links: Links): void {
    const room = this.#rooms.get(id);
    if (!room) return this.changed(id);
    const last = room.snapshot;
    // A read settles it when the last one may be stale: a refresh is in flight (its read may
    // predate the report), or members elsewhere report to their own isolates (a dispute is
    // judged on both ends' reports). So does a change of the disputed links, which hosts here
    // and elsewhere must hear of.
    const here = this.#opts.isolate;
    if (
      !last || room.busy > 0 || !last.members.some((m) => m.peer === peer) ||
      last.members.some((m) => m.isolate !== here)
    ) {
      return this.#scheduleRefresh(room, { propagate: false, rosters: false });
    }
    // Otherwise the room is as last read but for this report: no read needed.
    const snapshot = {
      ...last,
      members: last.members.map((m) => m.peer === peer ? { ...m, links } : m),
    };
    if (JSON.stringify(this.#opts.disputes(snapshot)) !== room.disputes) {
      return this.#scheduleRefresh(room, { propagate: false, rosters: false });
    }
    room.snapshot = snapshot;
    this.#opts.onRefreshed(room, snapshot);
  }

  /**
   * Ends a socket's membership role without touching the member record, then closes it. `extra`
   * goes into its `evicted` message (the host who did it, the members it could not reach).
   */
  detach(conn: Connection, code: EvictionCode, reason: string, extra?: EvictionDetails): void {
    const room = conn.peer ? this.#rooms.get(conn.room) : undefined;
    if (room && conn.peer && room.conns.get(conn.peer) === conn) room.conns.delete(conn.peer);
    conn.evict(code, reason, extra);
  }

  /**
   * Stops serving the room; its sockets here are no longer members of it, and those waiting in
   * its lobby are handed to `checkWaiting`.
   */
  drop(room: CachedRoom): void {
    clearTimeout(room.timer);
    for (const conn of room.conns.values()) {
      // Our member is gone from the store (swept or evicted elsewhere): its socket has no room.
      this.detach(conn, "kicked", "You are no longer a member of this meeting.");
    }
    this.#rooms.delete(room.id);
    if (room.waiting.size > 0) {
      const waiting = [...room.waiting.values()];
      room.waiting.clear();
      this.#opts.checkWaiting(waiting);
    }
  }

  /** Every member with a socket here, for the heartbeat. */
  servedMembers(): { room: string; peer: PeerId }[] {
    const entries: { room: string; peer: PeerId }[] = [];
    for (const room of this.#rooms.values()) {
      for (const peer of room.conns.keys()) entries.push({ room: room.id, peer });
    }
    return entries;
  }

  /** Every socket waiting in a lobby here, by room and reserved peer id (the heartbeat). */
  waitingKnocks(): { room: string; peer: PeerId }[] {
    const entries: { room: string; peer: PeerId }[] = [];
    for (const room of this.#rooms.values()) {
      for (const peer of room.waiting.keys()) entries.push({ room: room.id, peer });
    }
    return entries;
  }

  /** Rooms with at least one socket here, joined or waiting (the `rooms` gauge). */
  activeRoomCount(): number {
    return [...this.#rooms.values()].filter((r) => r.conns.size + r.waiting.size > 0).length;
  }

  /**
   * Coalesces refreshes: changes made before a refresh starts reading share that read. It starts
   * once the previous refresh of the room is done (at the earliest, a microtask later): under load
   * changes pile up meanwhile and share one read, and an idle server answers without a timer's
   * delay (a join waits for this refresh's welcome).
   */
  #scheduleRefresh(room: CachedRoom, kind: RefreshKind): void {
    if (room.refresh) {
      room.refresh.propagate ||= kind.propagate;
      room.refresh.rosters ||= kind.rosters;
      return;
    }
    room.refresh = { ...kind };
    const previous = room.refreshing;
    room.busy++;
    room.refreshing = this.#opts.tasks.track((async () => {
      try {
        await previous?.catch(() => {});
        await this.#refresh(room);
      } finally {
        room.busy--;
      }
    })());
  }

  async #refresh(room: CachedRoom): Promise<void> {
    let { propagate, rosters } = room.refresh ?? { propagate: false, rosters: false };
    room.refresh = undefined;
    if (this.#opts.tasks.stopped) return;
    const read = ++room.reads;
    const snapshot = await this.#opts.store.snapshot(room.id);
    if (!snapshot) return this.drop(room);
    room.snapshot = snapshot;
    room.members = new Map(
      snapshot.members.map((m) => [m.peer, { isolate: m.isolate, connected: m.connected }]),
    );
    const view = roomView(snapshot);
    const members = memberViews(snapshot);
    const disputes = this.#opts.disputes(snapshot);
    const disputesJson = JSON.stringify(disputes);
    if (!rosters && disputesJson !== room.disputes) propagate = true;
    const hostRosters = rosters || disputesJson !== room.disputes;
    room.disputes = disputesJson;
    const hostOnly = { knocks: knockViews(snapshot), disputes };
    const hosts = new Set(snapshot.meta.hosts);
    let roster: string | undefined;
    let hostRoster: string | undefined;
    for (const [peer, conn] of room.conns) {
      const host = hosts.has(peer);
      if (!conn.welcome) {
        if (!(host ? hostRosters : rosters)) continue;
        const text = host
          ? hostRoster ??= serverMessage({ type: "roster", room: view, members, ...hostOnly })
          : roster ??= serverMessage({ type: "roster", room: view, members });
        conn.sendText(text);
      } else if (conn.welcome.after < read) {
        this.#sendWelcome(conn, view, members, host ? hostOnly : null);
      }
      // Else the socket joined after this read began: no roster before its welcome.
    }
    if (room.waiting.size > 0) {
      // A decision taken without a note to this isolate (no host left, the lobby closed by a
      // host's leaving): carried out now rather than at the next heartbeat.
      const open = new Map(snapshot.knocks.map((k) => [k.peer, k.decision === null]));
      const decided = [...room.waiting].filter(([peer]) => !open.get(peer)).map(([, c]) => c);
      if (decided.length > 0) this.#opts.checkWaiting(decided);
    }
    if (propagate) this.#propagate(room.id, snapshot);
    this.#opts.onRefreshed(room, snapshot);
  }

  #sendWelcome(
    conn: Connection,
    room: RoomView,
    members: MemberView[],
    hostOnly: { knocks: KnockView[]; disputes: [PeerId, PeerId][] } | null,
  ): void {
    const welcome = conn.welcome!;
    conn.sendWelcome({
      type: "welcome",
      v: PROTOCOL_VERSION,
      peer: conn.peer!,
      token: welcome.token,
      resumed: welcome.resumed,
      room,
      members,
      config: this.#opts.session,
      ...hostOnly,
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
  const { id, capacity, locked, host, hosts, lobby, removals, departures } = s.meta;
  const view: RoomView = { id, capacity, locked, host, hosts, lobby, removals };
  // Only when there are some: most rooms never have one, and older clients never need it.
  if (departures?.length) view.departures = departures;
  return view;
}

/** The lobby as hosts see it: the store's snapshot lists only live knocks. */
function knockViews(s: RoomSnapshot): KnockView[] {
  return s.knocks.map((k) => ({ id: k.peer, payload: k.payload, at: k.at }));
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
