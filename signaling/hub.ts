/**
 * The signaling server of one isolate: accepts sockets, validates every frame, and dispatches it
 * to the part that handles it. The parts, each in its own module:
 *
 * - `upgrade.ts`: which upgrade requests are refused (room id, origin); `forwarded.ts`: who the
 *   client is (its address, its origin behind a trusted proxy);
 * - `client_limits.ts`: the budgets of each client address (sockets, joins, rooms, frames);
 * - `connection.ts`: one socket, its rate limit, and every write to it;
 * - `relay.ts`: signals to a socket here, or over the bus to the isolate holding it;
 * - `room_cache.ts`: the rooms served here, their rosters, and the welcome after a join;
 * - `mesh_enforcer.ts`: per room, the timer that removes members whose grace ran out, starts
 *   the grace of members whose server stopped, and evicts whoever breaks the full mesh;
 * - `isolate_timers.ts`: this isolate's heartbeat and the sweep of what is due (due_sweep.ts);
 * - `link_writer.ts`: members' link reports, written in batches beside the frame queue;
 * - `hub_lobby.ts`: sockets waiting in a room's lobby until a host lets them in;
 * - `hub_host_actions.ts`: what follows from a host action (lock, admit, remove, mute, end...);
 * - `store.ts` (rooms in KV, the state of record), `bus.ts` (messages between isolates, with
 *   backpressure), `health.ts` and `kv_health.ts` (whether KV answers; `/healthz`, `/metrics`).
 *
 * This module holds what ties them together: the upgrade, the order of frames per socket, join
 * and resume, leave, closes, and the clean stop.
 */
import { Bus, type BusMessage, type BusStats } from "./bus.ts";
import type { SignalingConfig } from "./config.ts";
import { type ClientLease, ClientLimits } from "./client_limits.ts";
import { Connection } from "./connection.ts";
import { clientAddress } from "./forwarded.ts";
import { HealthCheck } from "./health.ts";
import { HostActions } from "./hub_host_actions.ts";
import { Lobby } from "./hub_lobby.ts";
import { kvHealth } from "./kv_health.ts";
import { LinkWriter } from "./link_writer.ts";
import { IsolateTimers } from "./isolate_timers.ts";
import { JOIN_TIMEOUT_MS } from "./limits.ts";
import { MeshEnforcer } from "./mesh_enforcer.ts";
import { bump, emptyMetrics, type IsolateMetrics, MetricsPage, renderMetrics } from "./metrics.ts";
import { parseClientMessage } from "./parse_client_message.ts";
import { type ClientMessage, CLOSE_NORMAL, type JoinMessage } from "./protocol.ts";
import { Relay } from "./relay.ts";
import { RoomCache } from "./room_cache.ts";
import { RoomInfoEndpoint } from "./room_info.ts";
import { RoomStore } from "./store.ts";
import { TaskTracker } from "./task_tracker.ts";
import { randomBase64url } from "./tokens.ts";
import type { LinkState, PeerId } from "./types.ts";
import { type Refusal, refuseUpgrade, tooManySockets } from "./upgrade.ts";

/** What a hub needs; one hub per isolate (see hub_singleton.ts), or several in tests. */
export interface HubOptions {
  config: SignalingConfig;
  kv: Deno.Kv;
  /** Unique id of this isolate; random by default. */
  isolate?: string;
  /** How soon a socket must send `join` after opening. Default JOIN_TIMEOUT_MS; tests use less. */
  joinTimeoutMs?: number;
  /**
   * Whether the bus reaches this process's isolates over a channel (default true); tests of the
   * KV path between processes turn it off (bus_local.ts).
   */
  busChannel?: boolean;
}

/** How long a stopping hub tries to mark its members as members of a stopped server. */
const STOP_MARK_MS = 2_000;

/** Longest a batch of link reports waits for this isolate's joins (see `#joinsQuiet`). */
const LINKS_YIELD_MS = 200;

/** What a socket is told when its member was resumed on another socket. */
const REPLACED = "You joined from another tab or connection.";

/**
 * The signaling server of one isolate. State of record lives in KV (`store`); the hub keeps only
 * its sockets and a cached snapshot per room it serves.
 *
 * @example
 * ```ts
 * const hub = new SignalingHub({ config: configFromEnv(), kv: await Deno.openKv() });
 * hub.start();
 * Deno.serve((req, info) =>
 *   hub.handleUpgrade(req, new URL(req.url).pathname.split("/")[3], info.remoteAddr)
 * );
 * ```
 */
export class SignalingHub {
  /** This isolate's id, as written in the member records of its sockets. */
  readonly isolate: string;
  /** The rooms in KV, the state of record (health checks and tests read it directly). */
  readonly store: RoomStore;
  /** This isolate's counters (`/metrics`). */
  readonly metrics: IsolateMetrics;
  /** `/healthz`: whether KV can be written and read, within a time limit. */
  readonly health = new HealthCheck({ ping: () => this.store.ping(this.isolate) });
  readonly #config: SignalingConfig;
  readonly #joinTimeoutMs: number;
  readonly #kv: Deno.Kv;
  readonly #bus: Bus;
  readonly #tasks = new TaskTracker();
  readonly #conns = new Set<Connection>();
  readonly #cache: RoomCache;
  readonly #relay: Relay;
  readonly #enforcer: MeshEnforcer;
  readonly #timers: IsolateTimers;
  readonly #lobby: Lobby;
  readonly #hostActions: HostActions;
  readonly #linkWriter: LinkWriter;
  readonly #roomInfo: RoomInfoEndpoint;
  /** Joins and resumes in progress, and who waits for them to be done (`#joinsQuiet`). */
  #joining = 0;
  #joinsDone: PromiseWithResolvers<void> | null = null;
  /** Per-client-address budgets, made on the first upgrade with a known address. */
  #clientLimits: ClientLimits | null = null;
  readonly #metricsPage = new MetricsPage(() => {
    this.#timers.updateGauges();
    return renderMetrics(this.#kv, this.metrics);
  });

  constructor(opts: HubOptions) {
    const { config, kv } = opts;
    this.#config = config;
    this.#joinTimeoutMs = opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS;
    this.#kv = kv;
    this.#roomInfo = new RoomInfoEndpoint({
      kv,
      capacity: config.capacity,
      trustProxy: config.trustProxy,
    });
    const isolate = this.isolate = opts.isolate ?? randomBase64url(9);
    const metrics = this.metrics = emptyMetrics(isolate);
    const tasks = this.#tasks;
    const store = this.store = new RoomStore({
      kv,
      capacity: config.capacity,
      graceMs: config.graceMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      hostFallback: config.hostFallback,
    });
    const bus = this.#bus = new Bus({
      kv,
      isolate,
      pollMs: config.inboxPollMs,
      maxQueuedBytes: config.busMaxQueuedBytes,
      onMessage: (m) => this.#onBus(m),
      local: opts.busChannel,
    });
    const session = {
      linkDeadlineMs: config.linkDeadlineMs,
      graceMs: config.graceMs,
      heartbeatMs: config.heartbeatMs,
    };
    const cache = this.#cache = new RoomCache({
      isolate,
      store,
      bus,
      tasks,
      session,
      onRefreshed: (room, snapshot) => this.#enforcer.schedule(room, snapshot),
      disputes: (snapshot) => this.#enforcer.disputes(snapshot),
      checkWaiting: (conns) => this.#lobby.check(conns),
    });
    this.#relay = new Relay({ isolate, cache, bus, store, metrics });
    this.#enforcer = new MeshEnforcer({ isolate, config, store, bus, cache, metrics, tasks });
    const lobby = this.#lobby = new Lobby({
      isolate,
      store,
      cache,
      bus,
      metrics,
      enqueue: (conn, what, work) => this.#enqueue(conn, what, work),
    });
    this.#hostActions = new HostActions({ isolate, store, cache, bus, metrics, lobby });
    this.#linkWriter = new LinkWriter({
      kv,
      store,
      track: (task) => tasks.track(task),
      // Only this isolate's mesh enforcer and, if the disputed links changed, the hosts need it.
      stored: (report, links) => cache.linksChanged(report.room, report.peer, links),
      quiet: () => this.#joinsQuiet(),
      failed: (report, err) => {
        if (!kvHealth.reported(err)) {
          console.error(`Signaling links report in room ${report.room} failed:`, err);
        }
        const conn = cache.get(report.room)?.conns.get(report.peer);
        conn?.reject("internal", "The server could not store your link report; send it again.");
      },
    });
    this.#timers = new IsolateTimers({
      kv,
      isolate,
      heartbeatMs: config.heartbeatMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      store,
      cache,
      connections: this.#conns,
      metrics,
      tasks,
      beatLobby: () => lobby.beat(),
    });
  }

  /** Starts reading the bus, the heartbeat and the sweep. */
  start(): void {
    this.#bus.start();
    this.#timers.start();
  }

  /**
   * Stops timers and the bus and closes every socket (tests, shutdown). Members whose sockets
   * were here keep their places: they are marked as members of a stopped server, so they may
   * resume on any server, and their grace period starts when a running server sees that (or one
   * starts again). Bounded by `STOP_MARK_MS` so a failing KV cannot hold up an exit.
   */
  async stop(): Promise<void> {
    const served = this.#cache.servedMembers();
    const waiting = this.#cache.waitingKnocks();
    if (served.length + waiting.length > 0 && !this.#tasks.stopped) {
      // Waiting sockets have no place to keep: their knocks go (hosts see them gone).
      const marked = Promise.all([
        this.store.serverStopped(served, this.isolate),
        this.#lobby.stop(),
      ]).then(() => {
        const rooms = new Set([...served, ...waiting].map((e) => e.room));
        for (const room of rooms) this.#cache.changed(room);
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, STOP_MARK_MS));
      await Promise.race([
        marked.catch((err) => console.error("Marking members failed:", err)),
        timeout,
      ]);
      clearTimeout(timer);
      // Let the roster notes for the other isolates go out before the bus stops.
      await this.#bus.settle();
    }
    this.#tasks.stop();
    this.#timers.stop();
    this.#enforcer.stop();
    for (const conn of this.#conns) {
      conn.detached = true;
      if (conn.socket.readyState <= WebSocket.OPEN) conn.socket.close(1001, "server stopping");
    }
    await this.settle();
    await this.#bus.stop();
  }

  /** Waits until every piece of work started so far has finished. */
  async settle(): Promise<void> {
    await this.#tasks.settle();
    await this.#bus.settle();
  }

  /** `GET /api/rooms/{room}`: who is in the room, for the pre-join screen (room_info.ts). */
  handleRoomInfo(req: Request, room: string, remoteAddr?: Deno.Addr): Promise<Response> {
    return this.#roomInfo.handle(req, room, remoteAddr);
  }

  /**
   * `GET /api/rooms/{room}/ws`: refuses with a JSON error, or upgrades to a signaling socket.
   * `remoteAddr` (`Deno.serve`'s handler info) is the client's address for the per-client limits
   * (client_limits.ts), unless trusted proxies name it (`MOOZ_TRUST_PROXY`). Those limits do not
   * apply when clients cannot be told apart (no address, or a local proxy: see forwarded.ts).
   */
  handleUpgrade(req: Request, room: string, remoteAddr?: Deno.Addr): Response {
    const refuse = (refusal: Refusal) => {
      bump(this.metrics.rejected, refusal.code);
      const headers: Record<string, string> = refusal.retryAfterS
        ? { "Retry-After": String(refusal.retryAfterS) }
        : {};
      return Response.json({ error: refusal.code, message: refusal.message }, {
        status: refusal.status,
        headers,
      });
    };
    const refusal = refuseUpgrade(req, room, this.#config);
    if (refusal) return refuse(refusal);
    const address = clientAddress(req, remoteAddr, this.#config.trustProxy);
    let lease: ClientLease | null = null;
    if (address !== null) {
      const limits = this.#clientLimits ??= new ClientLimits({
        maxSockets: this.#config.clientMaxSockets,
        joinsPerMin: this.#config.clientJoinsPerMin,
        roomsPerMin: this.#config.clientRoomsPerMin,
        messagesPerS: this.#config.clientMessagesPerS,
      });
      lease = limits.open(address);
      if (!lease) return refuse(tooManySockets(limits.options.maxSockets));
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: this.#config.idleTimeoutS });
    } catch {
      lease?.release();
      // "Upgrade: websocket" without the rest of the handshake (Connection: Upgrade,
      // Sec-WebSocket-Key): the client's fault, not a 500 with a logged stack trace.
      return refuse({
        status: 400,
        code: "bad-upgrade",
        message: "Malformed WebSocket handshake.",
      });
    }
    const { socket, response } = upgraded;
    const conn = new Connection(socket, room, this.metrics);
    conn.lease = lease;
    // The address's socket count goes down with the close event, which Deno fires also when
    // the handshake never completes.
    if (lease) socket.addEventListener("close", () => lease?.release());
    this.#conns.add(conn);
    // Counted from the upgrade rather than from the open event (a few ms later): one handler
    // less per socket. Error events need no handler either: a close event follows.
    conn.requireJoinWithin(this.#joinTimeoutMs);
    socket.onmessage = (e) => this.#onFrame(conn, e.data);
    socket.onclose = () => this.#onClose(conn);
    return response;
  }

  /** The bus's counters: bytes queued towards other isolates, refusals, lost writes (tests). */
  get busStats(): BusStats {
    return this.#bus.stats;
  }

  /** `/metrics` text of every live isolate (rendered at most once a second). */
  metricsText(): Promise<string> {
    return this.#metricsPage.text();
  }

  #onFrame(conn: Connection, data: unknown): void {
    if (conn.closed || conn.detached) return;
    if (!conn.takeToken()) return;
    if (conn.lease && !conn.lease.takeMessage()) {
      return conn.dropFrame(
        `Too many messages from your network address: at most ${this.#config.clientMessagesPerS} ` +
          "a second across all its connections.",
      );
    }
    const parsed = parseClientMessage(data as string | ArrayBuffer | Blob | Uint8Array);
    if (!parsed.ok) {
      conn.reject(parsed.code, parsed.message);
      return;
    }
    const message = parsed.message;
    // Fast path for the bulk of the traffic: with no earlier frame of this socket still being
    // handled, a signal to a peer the cache knows is relayed right here, without a promise chain
    // per frame. Order is kept: nothing of this socket is waiting.
    if (
      conn.queue === null && conn.peer !== null && message.type === "signal" &&
      this.#relay.forward(conn, message.to, message.payload)
    ) return;
    if (conn.queue === null && conn.peer !== null && message.type === "links") {
      return this.#reportLinks(conn, conn.peer, message.links);
    }
    this.#enqueue(conn, `message ${message.type}`, () => this.#handle(conn, message));
  }

  /**
   * Runs `work` for the socket once the work queued for it before is done: its frames, and the
   * lobby's decisions about it, are handled one at a time, in order, even when they await KV.
   */
  #enqueue(conn: Connection, what: string, work: () => Promise<void>): void {
    const queue: Promise<void> = (conn.queue ?? Promise.resolve())
      .then(work)
      .catch((err) => {
        if (!kvHealth.reported(err)) { // KV failures: logged once by kv_health.ts, then counted
          console.error(`Signaling ${what} in room ${conn.room} failed:`, err);
        }
        conn.reject("internal", "The server could not handle that message; try again.");
      })
      .finally(() => {
        if (conn.queue === queue) conn.queue = null;
      });
    conn.queue = queue;
    this.#tasks.track(queue);
  }

  #onClose(conn: Connection): void {
    conn.closed = true;
    conn.clearJoinTimer();
    this.#conns.delete(conn);
    const { peer, room } = conn;
    // A waiting socket withdraws its knock (unless the hub is stopping: `stop` withdrew it).
    if (conn.lobby && !conn.detached) this.#lobby.closed(conn);
    if (!peer) return;
    const cached = this.#cache.get(room);
    if (cached?.conns.get(peer) === conn) cached.conns.delete(peer);
    if (conn.detached) return;
    // The member keeps its place for the grace period and may resume. Not if another socket
    // resumed it meanwhile (its resume may be in flight right now): the versionstamp tells.
    const version = conn.version ?? undefined;
    this.#tasks.track((async () => {
      await this.store.disconnect(room, peer, this.isolate, version);
      this.#cache.changed(room);
    })());
  }

  async #handle(conn: Connection, message: ClientMessage): Promise<void> {
    // A `leave` still counts when the socket closed before it was handled (the client closes
    // right after sending it, and earlier messages may still be awaiting KV): otherwise the
    // member would linger as disconnected for the whole grace period.
    if (conn.detached || (conn.closed && message.type !== "leave")) return;
    if (conn.lobby) return await this.#lobby.handle(conn, message);
    if (message.type === "join") return await this.#join(conn, message);
    const peer = conn.peer;
    // PROTOCOL.md: anything but `join` first, `ping` included, is `not-joined`.
    if (!peer) return conn.reject("not-joined", "Send join first.");
    switch (message.type) {
      case "ping":
        return conn.send({ type: "pong", t: message.t });
      case "signal":
        if (this.#relay.forward(conn, message.to, message.payload)) return;
        return await this.#relay.forwardUncached(conn, peer, message.to, message.payload);
      case "links":
        return this.#reportLinks(conn, peer, message.links);
      case "leave":
        conn.detached = true;
        await this.store.remove(conn.room, peer);
        this.#cache.changed(conn.room);
        this.metrics.leaves++;
        conn.close(CLOSE_NORMAL, "left");
        return;
      case "knock":
        return conn.reject(
          "forbidden",
          "Only a newcomer waiting in the lobby knocks, and you are in the meeting already.",
        );
      default:
        // Checked against the room's hosts inside the store's own transaction.
        return await this.#hostActions.act(conn, peer, message);
    }
  }

  /**
   * A member's link report goes to the link writer, beside the socket's frame queue: signals
   * never wait for a report's write, and reports are written in batches (link_writer.ts).
   */
  #reportLinks(conn: Connection, peer: PeerId, states: Record<PeerId, LinkState>): void {
    this.#linkWriter.report({ room: conn.room, peer, states });
  }

  /**
   * Resolves once no join is in progress here, or after `LINKS_YIELD_MS`: link reports wait for
   * joins (link_writer.ts), but never for long, since their deadlines run too.
   */
  #joinsQuiet(): Promise<void> {
    if (this.#joining === 0) return Promise.resolve();
    const done = this.#joinsDone ??= Promise.withResolvers<void>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => timer = setTimeout(resolve, LINKS_YIELD_MS));
    return Promise.race([done.promise, waited]).finally(() => clearTimeout(timer));
  }

  async #join(conn: Connection, message: JoinMessage): Promise<void> {
    this.#joining++;
    try {
      await this.#joinNow(conn, message);
    } finally {
      if (--this.#joining === 0) {
        this.#joinsDone?.resolve();
        this.#joinsDone = null;
      }
    }
  }

  async #joinNow(conn: Connection, message: JoinMessage): Promise<void> {
    const { name, resume, secret, card } = message;
    if (conn.peer) return conn.reject("already-joined", "This socket has joined already.");
    const room = conn.room;
    let peer: PeerId, version: string, token: string;
    let previousIsolate: string | null = null;
    if (resume) {
      const res = await this.store.resume(room, resume, this.isolate);
      if (!res.ok) return conn.reject("resume-failed", res.message);
      peer = res.member.peer;
      version = res.versionstamp;
      token = res.token;
      previousIsolate = res.previousIsolate;
      this.metrics.resumes++;
    } else {
      const lease = conn.lease;
      const joinWaitMs = lease?.takeJoin() ?? 0;
      if (joinWaitMs > 0) {
        return conn.reject(
          "join-limited",
          `Too many joins from your network address (at most ${this.#config.clientJoinsPerMin} ` +
            `a minute). Try again in ${Math.ceil(joinWaitMs / 1000)} s.`,
        );
      }
      // Without room creations left, the address may still join rooms that exist.
      const mayCreate = (lease?.roomWaitMs() ?? 0) === 0;
      const input = { name, isolate: this.isolate, mayCreate, secret, card };
      let res = await this.store.join(room, input);
      if (!res.ok && res.code === "lobby") {
        if (await this.#lobby.wait(conn, { name, secret, card })) return;
        // Everyone left between the join and the knock: this is a join into a new room now.
        res = await this.store.join(room, input);
      }
      if (res.ok && res.created) lease?.roomCreated();
      if (!res.ok) {
        if (res.code === "no-room") {
          const waitS = Math.max(1, Math.ceil((lease?.roomWaitMs() ?? 0) / 1000));
          return conn.reject(
            "create-limited",
            "Too many new meetings from your network address (at most " +
              `${this.#config.clientRoomsPerMin} a minute). Try again in ${waitS} s, or join a ` +
              "meeting that has already started.",
          );
        }
        if (res.code === "lobby") {
          // A new room with its lobby on already: it changed twice while we looked.
          return conn.reject("denied", "The meeting changed while you joined; try again.");
        }
        const hints: Record<typeof res.code, string> = {
          "room-full": `The meeting is full (${this.#config.capacity} people). Ask someone to ` +
            "leave, or start a new meeting.",
          "room-locked": "A host locked this meeting. Ask them to unlock it.",
          removed: "A host removed you from this meeting, so you cannot rejoin it.",
          "room-ended":
            "A host ended this meeting for everyone. Start a new meeting to meet again.",
        };
        return conn.reject(res.code, hints[res.code]);
      }
      peer = res.member.peer;
      version = res.versionstamp;
      token = res.token;
      this.metrics.joins++;
    }
    if (conn.closed) {
      // The socket went away while we were joining: it is a disconnect like any other.
      await this.store.disconnect(room, peer, this.isolate, version);
      this.#cache.changed(room);
      return;
    }
    conn.clearJoinTimer();
    conn.peer = peer;
    conn.version = version;
    const cached = this.#cache.open(room);
    const older = cached.conns.get(peer);
    if (older && older !== conn) this.#cache.detach(older, "replaced", REPLACED);
    if (previousIsolate && previousIsolate !== this.isolate) {
      this.#bus.send(previousIsolate, {
        kind: "close",
        room,
        peer,
        code: "replaced",
        reason: REPLACED,
        after: version,
      });
    }
    await this.#cache.admit(cached, conn, { token, resumed: Boolean(resume) });
  }

  #onBus(message: BusMessage): void {
    switch (message.kind) {
      case "signal":
        return this.#relay.deliver(message);
      case "roster":
        return this.#cache.heardOfChange(message.room);
      case "deliver":
        return this.#hostActions.deliver(message);
      case "lobby":
        return this.#lobby.decide(message.room, message.knock, message.ended);
      case "close": {
        const target = this.#cache.get(message.room)?.conns.get(message.peer);
        if (!target) return;
        // Versionstamps grow with every commit: a socket that resumed after the one that sent
        // this note (they raced to this isolate) is the member's newest and stays.
        if (
          message.code === "replaced" && message.after && (target.version ?? "") > message.after
        ) {
          return;
        }
        // The bus carries JSON written by other servers, maybe of another version: an eviction
        // without a code is still an eviction.
        if (message.code === "replaced") {
          return this.#cache.detach(target, "replaced", message.reason);
        }
        const { by, unreachable } = message;
        this.#cache.detach(target, message.evictionCode ?? "kicked", message.reason, {
          by,
          unreachable,
        });
        return;
      }
    }
  }
}
