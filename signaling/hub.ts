/**
 * The signaling server of one isolate: accepts sockets, validates every frame, relays signals,
 * keeps rosters current across isolates, and enforces the full-mesh guarantee.
 *
 * State of record lives in KV (`store.ts`). This isolate keeps only its sockets and a cached
 * snapshot per room it serves, refreshed on every change it makes or hears of on the bus.
 * Signals between two sockets of this isolate go directly; others go through the bus.
 */
import { Bus, type BusMessage } from "./bus.ts";
import type { SignalingConfig } from "./config.ts";
import { evaluateMesh, nextDeadline, type PolicyMember } from "./mesh_policy.ts";
import {
  bump,
  emptyMetrics,
  type IsolateMetrics,
  publishMetrics,
  renderMetrics,
} from "./metrics.ts";
import {
  type ClientMessage,
  type ErrorCode,
  ERRORS,
  type EvictionCode,
  EVICTIONS,
  type JsonValue,
  type MemberView,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  serverMessage,
} from "./protocol.ts";
import { isRoomId } from "./room_id.ts";
import { RoomStore } from "./store.ts";
import type { PeerId, RemovalReason, RoomSnapshot } from "./types.ts";

/** A socket's send buffer beyond this means the client stopped reading: cut it. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** A socket must send `join` this soon after opening (default of `HubOptions.joinTimeoutMs`). */
const JOIN_TIMEOUT_MS = 10_000;
/** Rate limit per socket: a burst of 100 frames, refilled at 50 per second. */
const BUCKET_SIZE = 100;
const BUCKET_REFILL_PER_MS = 50 / 1000;
/** Dropping this many frames within the window marks the socket as abusive. */
const ABUSE_DROPS = 200;
const ABUSE_WINDOW_MS = 10_000;

interface Conn {
  socket: WebSocket;
  room: string;
  peer: PeerId | null;
  /** Versionstamp of the member record this socket's join or resume wrote (store.disconnect). */
  version: string | null;
  /**
   * Frames are handled one after another, in order, even when handling awaits KV: the last
   * frame's handling, or null when none is in progress (then a signal may take the fast path).
   */
  queue: Promise<void> | null;
  /**
   * Set from a successful join until the welcome is sent: the welcome comes from the first room
   * refresh that reads the room after this socket was registered (`after`: LocalRoom.reads then).
   */
  welcome?: { token: string; resumed: boolean; after: number };
  tokens: number;
  refilledAt: number;
  drops: number;
  dropsSince: number;
  lastRateError: number;
  /** Set when this socket no longer speaks for its member (left, evicted, replaced). */
  detached: boolean;
  closed: boolean;
  joinTimer?: ReturnType<typeof setTimeout>;
}

interface LocalRoom {
  id: string;
  conns: Map<PeerId, Conn>;
  members: Map<PeerId, { isolate: string; connected: boolean }>;
  timer?: ReturnType<typeof setTimeout>;
  refresh?: { propagate: boolean };
  /** The refresh in progress; the next one waits for it, so rosters never go back in time. */
  refreshing?: Promise<void>;
  /** Refreshes that have started reading the room so far. */
  reads: number;
}

export interface HubOptions {
  config: SignalingConfig;
  kv: Deno.Kv;
  /** Unique id of this isolate; random by default. */
  isolate?: string;
  /** How soon a socket must send `join` after opening. Default 10 s; tests use less. */
  joinTimeoutMs?: number;
}

export class SignalingHub {
  readonly isolate: string;
  readonly store: RoomStore;
  readonly metrics: IsolateMetrics;
  readonly #config: SignalingConfig;
  readonly #joinTimeoutMs: number;
  readonly #kv: Deno.Kv;
  readonly #bus: Bus;
  readonly #conns = new Set<Conn>();
  readonly #rooms = new Map<string, LocalRoom>();
  readonly #pending = new Set<Promise<unknown>>();
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopped = false;

  constructor(opts: HubOptions) {
    this.#config = opts.config;
    this.#joinTimeoutMs = opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS;
    this.#kv = opts.kv;
    this.isolate = opts.isolate ?? randomId();
    this.metrics = emptyMetrics(this.isolate);
    this.store = new RoomStore({
      kv: opts.kv,
      capacity: opts.config.capacity,
      graceMs: opts.config.graceMs,
      heartbeatTimeoutMs: opts.config.heartbeatTimeoutMs,
    });
    this.#bus = new Bus({
      kv: opts.kv,
      isolate: this.isolate,
      pollMs: opts.config.inboxPollMs,
      onMessage: (m) => this.#onBus(m),
    });
  }

  start(): void {
    this.#bus.start();
    const { heartbeatMs, heartbeatTimeoutMs } = this.#config;
    this.#timers.push(setInterval(() => this.#track(this.#beat()), heartbeatMs));
    // Rooms whose server died are nobody's local room: sweep all of them now and then.
    const sweepEvery = Math.max(1_000, heartbeatTimeoutMs / 2);
    this.#timers.push(setInterval(() => this.#track(this.#sweepAll()), sweepEvery));
  }

  /** Stops timers and the bus and closes every socket (tests, shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timers.forEach(clearInterval);
    for (const room of this.#rooms.values()) clearTimeout(room.timer);
    for (const conn of this.#conns) {
      conn.detached = true;
      if (conn.socket.readyState <= WebSocket.OPEN) conn.socket.close(1001, "server stopping");
    }
    await this.settle();
    await this.#bus.stop();
  }

  /** Waits until every piece of work started so far has finished. */
  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
    await this.#bus.settle();
  }

  /** `GET /api/rooms/{room}/ws`. */
  handleUpgrade(req: Request, room: string): Response {
    const refuse = (status: number, code: string, message: string) => {
      bump(this.metrics.rejected, code);
      return Response.json({ error: code, message }, { status });
    };
    if (!isRoomId(room)) {
      return refuse(404, "bad-room", "No such meeting: the room id in the URL is malformed.");
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return refuse(426, "upgrade-required", "Connect with a WebSocket to this URL.");
    }
    if (!this.#originAllowed(req)) {
      return refuse(
        403,
        "bad-origin",
        "This origin may not connect. Add it to MOOZ_ALLOWED_ORIGINS on the server.",
      );
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: this.#config.idleTimeoutS });
    } catch {
      // "Upgrade: websocket" without the rest of the handshake (Connection: Upgrade,
      // Sec-WebSocket-Key): the client's fault, not a 500 with a logged stack trace.
      return refuse(400, "bad-upgrade", "Malformed WebSocket handshake.");
    }
    const { socket, response } = upgraded;
    const now = Date.now();
    const conn: Conn = {
      socket,
      room,
      peer: null,
      version: null,
      queue: null,
      tokens: BUCKET_SIZE,
      refilledAt: now,
      drops: 0,
      dropsSince: now,
      lastRateError: 0,
      detached: false,
      closed: false,
    };
    this.#conns.add(conn);
    // Counted from the upgrade rather than from the open event (a few ms later): one handler
    // less per socket. Error events need no handler either: a close event follows.
    conn.joinTimer = setTimeout(() => {
      if (!conn.peer) {
        this.#fail(conn, "not-joined", `No join message within ${this.#joinTimeoutMs / 1000} s.`);
      }
    }, this.#joinTimeoutMs);
    socket.onmessage = (e) => this.#onFrame(conn, e.data);
    socket.onclose = () => this.#onClose(conn);
    return response;
  }

  /** `/metrics` text of every live isolate. */
  async metricsText(): Promise<string> {
    this.#updateGauges();
    return await renderMetrics(this.#kv, this.metrics);
  }

  #originAllowed(req: Request): boolean {
    const origin = req.headers.get("origin");
    // Browsers always send Origin with WebSockets; only non-browser clients omit it, and they
    // are not the cross-site threat this check exists for.
    if (origin === null) return true;
    const allowed = this.#config.allowedOrigins;
    if (allowed) return allowed.includes(origin);
    try {
      return new URL(origin).host === (req.headers.get("host") ?? new URL(req.url).host);
    } catch {
      return false;
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    p.catch((err) => console.error("Signaling task failed:", err))
      .finally(() => this.#pending.delete(p));
    return p;
  }

  // ---- Sockets ----

  #onFrame(conn: Conn, data: unknown): void {
    if (conn.closed || conn.detached) return;
    if (!this.#takeToken(conn)) return;
    const parsed = parseClientMessage(data as string | ArrayBuffer | Blob | Uint8Array);
    if (!parsed.ok) {
      this.#reject(conn, parsed.code, parsed.message);
      return;
    }
    const message = parsed.message;
    // Fast path for the bulk of the traffic: with no earlier frame of this socket still being
    // handled, a signal to a peer the cache knows is relayed right here, without a promise chain
    // per frame. Order is kept: nothing of this socket is waiting.
    if (
      conn.queue === null && conn.peer !== null && message.type === "signal" &&
      this.#relay(conn.room, conn.peer, message.to, message.payload)
    ) return;
    const queue: Promise<void> = (conn.queue ?? Promise.resolve())
      .then(() => this.#handle(conn, message))
      .catch((err) => {
        console.error(`Signaling message ${message.type} in room ${conn.room} failed:`, err);
        this.#reject(conn, "internal", "The server could not handle that message; try again.");
      })
      .finally(() => {
        if (conn.queue === queue) conn.queue = null;
      });
    conn.queue = queue;
    this.#track(queue);
  }

  /** Token bucket; refuses the frame and, for sustained floods, the socket. */
  #takeToken(conn: Conn): boolean {
    const now = Date.now();
    conn.tokens = Math.min(
      BUCKET_SIZE,
      conn.tokens + (now - conn.refilledAt) * BUCKET_REFILL_PER_MS,
    );
    conn.refilledAt = now;
    if (conn.tokens >= 1) {
      conn.tokens -= 1;
      return true;
    }
    if (now - conn.dropsSince > ABUSE_WINDOW_MS) {
      conn.drops = 0;
      conn.dropsSince = now;
    }
    conn.drops++;
    bump(this.metrics.rejected, "rate-limited");
    if (conn.drops >= ABUSE_DROPS) {
      this.#close(conn, 1008, "flooding");
    } else if (now - conn.lastRateError >= 1_000) {
      // One error a second is enough for a flooding client to notice.
      conn.lastRateError = now;
      this.#send(conn, error("rate-limited", "Too many messages: at most 50 a second."));
    }
    return false;
  }

  #reject(conn: Conn, code: ErrorCode, message: string): void {
    bump(this.metrics.rejected, code);
    if (ERRORS[code].fatal) this.#fail(conn, code, message);
    else this.#send(conn, error(code, message));
  }

  /** Sends a fatal error and closes with its close code. */
  #fail(conn: Conn, code: ErrorCode, message: string): void {
    this.#send(conn, error(code, message, true));
    this.#close(conn, ERRORS[code].closeCode, code);
  }

  #send(conn: Conn, message: ServerMessage): void {
    this.#sendText(conn, serverMessage(message));
  }

  /** Sends an encoded message (one encoding for a message that goes to many sockets). */
  #sendText(conn: Conn, text: string): void {
    if (conn.closed || conn.socket.readyState !== WebSocket.OPEN) return;
    if (conn.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      bump(this.metrics.rejected, "slow-consumer");
      this.#close(conn, ERRORS["slow-consumer"].closeCode, "slow consumer");
      return;
    }
    conn.socket.send(text);
  }

  #close(conn: Conn, code: number, reason: string): void {
    if (conn.socket.readyState === WebSocket.CLOSED) return;
    try {
      conn.socket.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  /** Timers are objects here (node-style Timeout): drop the reference too, not just the timer. */
  #clearJoinTimer(conn: Conn): void {
    clearTimeout(conn.joinTimer);
    conn.joinTimer = undefined;
  }

  #onClose(conn: Conn): void {
    conn.closed = true;
    this.#clearJoinTimer(conn);
    this.#conns.delete(conn);
    const { peer, room } = conn;
    if (!peer) return;
    const local = this.#rooms.get(room);
    if (local?.conns.get(peer) === conn) local.conns.delete(peer);
    if (conn.detached) return;
    // The member keeps its place for the grace period and may resume. Not if another socket
    // resumed it meanwhile (its resume may be in flight right now): the versionstamp tells.
    const version = conn.version ?? undefined;
    this.#track((async () => {
      await this.store.disconnect(room, peer, this.isolate, version);
      this.#changed(room);
    })());
  }

  // ---- Messages ----

  async #handle(conn: Conn, message: ClientMessage): Promise<void> {
    // A `leave` still counts when the socket closed before it was handled (the client closes
    // right after sending it, and earlier messages may still be awaiting KV): otherwise the
    // member would linger as disconnected for the whole grace period.
    if (conn.detached || (conn.closed && message.type !== "leave")) return;
    if (message.type === "join") return await this.#join(conn, message.name, message.resume);
    const peer = conn.peer;
    // PROTOCOL.md: anything but `join` first, `ping` included, is `not-joined`.
    if (!peer) return this.#reject(conn, "not-joined", "Send join first.");
    switch (message.type) {
      case "ping":
        return this.#send(conn, { type: "pong", t: message.t });
      case "signal":
        if (this.#relay(conn.room, peer, message.to, message.payload)) return;
        return await this.#relayUncached(conn, peer, message.to, message.payload);
      case "links":
        if (await this.store.reportLinks(conn.room, peer, message.links)) this.#changed(conn.room);
        return;
      case "leave":
        conn.detached = true;
        await this.#remove(conn.room, peer, "left");
        this.metrics.leaves++;
        this.#close(conn, 1000, "left");
        return;
    }
  }

  async #join(conn: Conn, name: string, resume: string | undefined): Promise<void> {
    if (conn.peer) return this.#reject(conn, "already-joined", "This socket has joined already.");
    const room = conn.room;
    let peer: PeerId, version: string, token: string | undefined;
    let previousIsolate: string | null = null;
    if (resume) {
      const res = await this.store.resume(room, resume, this.isolate);
      if (!res.ok) return this.#reject(conn, "resume-failed", res.message);
      peer = res.member.peer;
      version = res.versionstamp;
      previousIsolate = res.previousIsolate;
      this.metrics.resumes++;
    } else {
      const res = await this.store.join(room, { name, isolate: this.isolate });
      if (!res.ok) {
        const hint = res.code === "room-full"
          ? `The meeting is full (${this.#config.capacity} people). Ask someone to leave, or start a new meeting.`
          : "The host locked this meeting. Ask them to unlock it.";
        return this.#reject(conn, res.code, hint);
      }
      peer = res.member.peer;
      version = res.versionstamp;
      token = res.token;
      this.metrics.joins++;
    }
    if (conn.closed) {
      // The socket went away while we were joining: it is a disconnect like any other.
      await this.store.disconnect(room, peer, this.isolate, version);
      this.#changed(room);
      return;
    }
    this.#clearJoinTimer(conn);
    conn.peer = peer;
    conn.version = version;
    const local = this.#localRoom(room);
    const older = local.conns.get(peer);
    if (older && older !== conn) {
      this.#detach(older, "replaced", "You joined from another tab or connection.");
    }
    if (previousIsolate && previousIsolate !== this.isolate) {
      this.#bus.send(previousIsolate, {
        kind: "close",
        room,
        peer,
        code: "replaced",
        reason: "You joined from another tab or connection.",
      });
    }
    local.conns.set(peer, conn);
    // The welcome and the others' rosters come from one read of the room: the refresh this
    // change schedules (or one already scheduled that has not read yet). Frames that follow the
    // join wait until that refresh is done. If the room is gone by then, the refresh drops it and
    // this socket is told so instead.
    conn.welcome = { token: token ?? resume!, resumed: Boolean(resume), after: local.reads };
    this.#changed(room);
    await local.refreshing;
  }

  #sendWelcome(conn: Conn, snapshot: RoomSnapshot, members: MemberView[]): void {
    const welcome = conn.welcome!;
    conn.welcome = undefined;
    this.#send(conn, {
      type: "welcome",
      v: PROTOCOL_VERSION,
      peer: conn.peer!,
      token: welcome.token,
      resumed: welcome.resumed,
      room: roomView(snapshot),
      members,
      config: {
        linkDeadlineMs: this.#config.linkDeadlineMs,
        graceMs: this.#config.graceMs,
        heartbeatMs: this.#config.heartbeatMs,
      },
    });
  }

  /**
   * Passes a signal on: straight to the target's socket when it is on this isolate, else over
   * the bus to the isolate holding it (`member`, by default from the cached roster). False when
   * the target cannot be reached that way.
   */
  #relay(
    room: string,
    from: PeerId,
    to: PeerId,
    payload: JsonValue,
    member = this.#rooms.get(room)?.members.get(to),
  ): boolean {
    if (to === from) return false;
    const target = this.#rooms.get(room)?.conns.get(to);
    if (target && !target.detached) {
      this.metrics.relayed.local = (this.metrics.relayed.local ?? 0) + 1;
      this.#send(target, { type: "signal", from, payload });
      return true;
    }
    if (member?.connected && member.isolate !== this.isolate) {
      this.metrics.relayed.bus = (this.metrics.relayed.bus ?? 0) + 1;
      this.#bus.send(member.isolate, { kind: "signal", room, from, to, payload });
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
  async #relayUncached(conn: Conn, from: PeerId, to: PeerId, payload: JsonValue): Promise<void> {
    const snapshot = to === from ? null : await this.store.snapshot(conn.room);
    const member = snapshot?.members.find((m) => m.peer === to);
    if (member) {
      this.#rooms.get(conn.room)?.members.set(to, {
        isolate: member.isolate,
        connected: member.connected,
      });
    }
    if (member && this.#relay(conn.room, from, to, payload, member)) return;
    const why = member ? "is reconnecting; it will renegotiate when back" : "is not in this room";
    this.#reject(conn, "unknown-peer", `Peer ${to} ${why}.`);
  }

  #onBus(message: BusMessage): void {
    const local = this.#rooms.get(message.room);
    switch (message.kind) {
      case "signal": {
        const target = local?.conns.get(message.to);
        if (target && !target.detached) {
          this.#send(target, { type: "signal", from: message.from, payload: message.payload });
        }
        return;
      }
      case "roster":
        if (local) this.#scheduleRefresh(local, false);
        return;
      case "close": {
        const target = local?.conns.get(message.peer);
        if (!target) return;
        if (message.code === "replaced") this.#detach(target, "replaced", message.reason);
        else {
          this.#detach(target, (message.evictionCode ?? "kicked") as EvictionCode, message.reason);
        }
        return;
      }
    }
  }

  /** Ends a socket's membership role without touching the member record, then closes it. */
  #detach(conn: Conn, code: EvictionCode, reason: string): void {
    conn.detached = true;
    const local = conn.peer ? this.#rooms.get(conn.room) : undefined;
    if (local && conn.peer && local.conns.get(conn.peer) === conn) local.conns.delete(conn.peer);
    this.#send(conn, { type: "evicted", code, reason });
    this.#close(conn, EVICTIONS[code].closeCode, code);
  }

  // ---- Rooms ----

  #localRoom(id: string): LocalRoom {
    let room = this.#rooms.get(id);
    if (!room) {
      room = { id, conns: new Map(), members: new Map(), reads: 0 };
      this.#rooms.set(id, room);
    }
    return room;
  }

  #applySnapshot(local: LocalRoom, snapshot: RoomSnapshot): void {
    local.members = new Map(
      snapshot.members.map((m) => [m.peer, { isolate: m.isolate, connected: m.connected }]),
    );
  }

  /** This isolate changed the room: refresh it here and tell the other isolates serving it. */
  #changed(room: string): void {
    const local = this.#rooms.get(room);
    if (local) this.#scheduleRefresh(local, true);
    else {
      // No socket here any more; still tell whoever serves the room.
      this.#track(this.store.snapshot(room).then((s) => s && this.#propagate(room, s)));
    }
  }

  /**
   * Coalesces refreshes: changes made before a refresh starts reading share that read. It starts
   * once the previous refresh of the room is done (at the earliest, a microtask later): under load
   * changes pile up meanwhile and share one read, and an idle server answers without a timer's
   * delay (a join waits for this refresh's welcome).
   */
  #scheduleRefresh(local: LocalRoom, propagate: boolean): void {
    if (local.refresh) {
      local.refresh.propagate ||= propagate;
      return;
    }
    local.refresh = { propagate };
    const previous = local.refreshing;
    local.refreshing = this.#track((async () => {
      await previous?.catch(() => {});
      await this.#refresh(local);
    })());
  }

  async #refresh(local: LocalRoom): Promise<void> {
    const propagate = local.refresh?.propagate ?? false;
    local.refresh = undefined;
    if (this.#stopped) return;
    const read = ++local.reads;
    const snapshot = await this.store.snapshot(local.id);
    if (!snapshot) return this.#dropRoom(local);
    this.#applySnapshot(local, snapshot);
    const members = memberViews(snapshot);
    let roster: string | undefined;
    for (const conn of local.conns.values()) {
      if (!conn.welcome) {
        roster ??= serverMessage({ type: "roster", room: roomView(snapshot), members });
        this.#sendText(conn, roster);
      } else if (conn.welcome.after < read) {
        this.#sendWelcome(conn, snapshot, members);
      }
      // Else the socket joined after this read began: no roster before its welcome.
    }
    if (propagate) this.#propagate(local.id, snapshot);
    this.#schedule(local, snapshot);
  }

  #propagate(room: string, snapshot: RoomSnapshot): void {
    const isolates = new Set(snapshot.members.map((m) => m.isolate));
    isolates.delete(this.isolate);
    for (const isolate of isolates) this.#bus.send(isolate, { kind: "roster", room });
  }

  #dropRoom(local: LocalRoom): void {
    clearTimeout(local.timer);
    for (const conn of local.conns.values()) {
      // Our member is gone from the store (swept or evicted elsewhere): its socket has no room.
      this.#detach(conn, "kicked", "You are no longer a member of this meeting.");
    }
    this.#rooms.delete(local.id);
  }

  /** Arms the room's timer for the next moment a decision could change. */
  #schedule(local: LocalRoom, snapshot: RoomSnapshot): void {
    clearTimeout(local.timer);
    if (this.#stopped) return;
    const mine = snapshot.members.some((m) => m.isolate === this.isolate);
    if (!mine && local.conns.size === 0) return this.#dropRoom(local);
    const { graceMs, heartbeatTimeoutMs, linkDeadlineMs } = this.#config;
    const now = Date.now();
    const times = [nextDeadline(policyMembers(snapshot), { now, deadlineMs: linkDeadlineMs })];
    for (const m of snapshot.members) {
      if (!m.connected && m.disconnectedAt !== null) times.push(m.disconnectedAt + graceMs);
      if (m.isolate !== this.isolate) times.push(m.heartbeatAt + heartbeatTimeoutMs);
    }
    const next = Math.min(...times.filter((t): t is number => t !== null));
    if (!Number.isFinite(next)) return;
    local.timer = setTimeout(
      () => this.#track(this.#maintain(local)),
      Math.max(20, next - now + 20),
    );
  }

  /** Sweeps stale members and evicts whoever breaks the full mesh. */
  async #maintain(local: LocalRoom): Promise<void> {
    if (this.#stopped) return;
    const room = local.id;
    let changed = false;
    for (const { peer, reason } of await this.store.sweep(room)) {
      bump(this.metrics.evictions, reason);
      changed = true;
      const conn = local.conns.get(peer);
      if (conn) this.#detach(conn, reason as EvictionCode, "Your connection timed out.");
    }
    const snapshot = await this.store.snapshot(room);
    if (!snapshot) return this.#dropRoom(local);
    const evictions = evaluateMesh(policyMembers(snapshot), {
      now: Date.now(),
      deadlineMs: this.#config.linkDeadlineMs,
    });
    for (const eviction of evictions) {
      const member = snapshot.members.find((m) => m.peer === eviction.peer);
      await this.#remove(room, eviction.peer, "mesh-incomplete");
      const conn = local.conns.get(eviction.peer);
      if (conn) this.#detach(conn, "mesh-incomplete", eviction.reason);
      else if (member) {
        this.#bus.send(member.isolate, {
          kind: "close",
          room,
          peer: eviction.peer,
          code: "evicted",
          evictionCode: "mesh-incomplete",
          reason: eviction.reason,
        });
      }
      changed = true;
    }
    if (changed) this.#changed(room);
    else this.#schedule(local, snapshot);
  }

  async #remove(room: string, peer: PeerId, reason: RemovalReason): Promise<void> {
    await this.store.remove(room, peer);
    if (reason !== "left") bump(this.metrics.evictions, reason);
    this.#changed(room);
  }

  // ---- Timers ----

  /** Records that this isolate's sockets are alive, in one batch. */
  async #beat(): Promise<void> {
    const entries: { room: string; peer: PeerId }[] = [];
    for (const local of this.#rooms.values()) {
      for (const peer of local.conns.keys()) entries.push({ room: local.id, peer });
    }
    if (entries.length) await this.store.heartbeat(entries);
    this.#updateGauges();
    await publishMetrics(this.#kv, this.metrics);
  }

  async #sweepAll(): Promise<void> {
    for await (const room of this.store.rooms()) {
      if (this.#stopped) return;
      if (this.#rooms.has(room)) continue; // maintained by its own timer
      const removed = await this.store.sweep(room);
      if (removed.length === 0) continue;
      for (const { reason } of removed) bump(this.metrics.evictions, reason);
      this.#changed(room);
    }
  }

  #updateGauges(): void {
    this.metrics.connections = this.#conns.size;
    this.metrics.rooms = [...this.#rooms.values()].filter((r) => r.conns.size > 0).length;
  }
}

function error(code: ErrorCode, message: string, fatal = ERRORS[code].fatal): ServerMessage {
  return { type: "error", code, message, fatal };
}

function roomView(s: RoomSnapshot) {
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

/** Members in their grace period are left to the grace timer, not judged on stale links. */
function policyMembers(s: RoomSnapshot): PolicyMember[] {
  return s.members.filter((m) => m.connected).map((m) => ({
    peer: m.peer,
    joinedAt: m.joinedAt,
    links: m.links,
  }));
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}
