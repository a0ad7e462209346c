/**
 * The browser's signaling client: joins a room over one WebSocket, relays signals, reports
 * link states, and outlasts drops and server outages by reconnecting and resuming with the token
 * of the latest `welcome` (same peer id, so the WebRTC mesh stays up). Framework-free; also runs
 * in Deno for tests and benchmarks.
 *
 * Once joined, the client never gives up by itself: the meeting goes on between the browsers
 * while the server is away, and whether the place is still there when it is back is the
 * server's decision (`resume-failed` then joins afresh). Only a refusal (fatal error), an
 * eviction, `leave()` or `close()` end it. A host's decisions are refusals like any other:
 * `denied`, `removed`, `room-ended` and the evictions `kicked` and `ended` end the client, which
 * never tries to get back in by itself (the server would refuse it anyway: a removal bans this
 * browser's `secret`).
 *
 * With the lobby on, a join is answered with `waiting` instead of `welcome`: the client is in
 * state `waiting` (no attempt timeout: a host may take minutes), may `send` one `knock`, pings,
 * and becomes `joined` with the `welcome` once a host lets it in.
 *
 * @example
 * ```ts
 * const client = new SignalingClient({ url: socketUrl(location.origin, room), name: "Ada" });
 * client.on("signal", ({ from, payload }) => links.receive(from, payload));
 * client.on("state", (state) => console.log(state, client.reachable));
 * ```
 */
import {
  type ClientMessage,
  describeCloseCode,
  type ErrorCode,
  ERRORS,
  type EvictedMessage,
  EVICTIONS,
  type HostAction,
  type JsonValue,
  type KnockMessage,
  type MemberView,
  type MutedMessage,
  parseServerMessage,
  PROTOCOL_VERSION,
  type RoomView,
  type RosterMessage,
  type WaitingMessage,
  type WelcomeMessage,
} from "./protocol.ts";
import type { LinkState, PeerId } from "./types.ts";

export type ClientState =
  /** Opening the first connection. */
  | "connecting"
  /**
   * In the lobby: the server answered `waiting`, a host has to let us in. Also while
   * reconnecting from there (the server forgets a knock whose socket closed, so the next
   * attempt knocks anew).
   */
  | "waiting"
  /** In the room. */
  | "joined"
  /** The connection dropped (or the server went silent); retrying until it is back. */
  | "reconnecting"
  /** Done: left, refused, evicted, or never reached the server. See `closeReason`. */
  | "closed";

export interface ClientEvents {
  state: ClientState;
  welcome: WelcomeMessage;
  roster: RosterMessage;
  signal: { from: PeerId; payload: unknown };
  /** Non-fatal server errors (fatal ones end in `state: closed` with `closeReason`). */
  error: { code: ErrorCode; message: string; to?: PeerId };
  evicted: EvictedMessage;
  /** The lobby: wait for a host; `knock` is our peer id to be (seal the knock as from it). */
  waiting: WaitingMessage;
  /** A host turned our microphone, camera or screen share off (the page does the turning off). */
  muted: MutedMessage;
}

export interface ClientOptions {
  /** `ws(s)://host/api/rooms/{room}/ws`; see `socketUrl`. */
  url: string;
  /**
   * The display name to give the server, or none: the meeting (mesh/session.ts) gives none and
   * seals names end to end instead, so the server never learns them.
   */
  name?: string;
  /**
   * This browser's secret for the meeting (`SECRET_PATTERN`; mesh/browser_secret.ts), sent in
   * every join, resumes included: it makes the room's creator its host and lets a host take its
   * role back after a reload.
   */
  secret?: string;
  /**
   * What people about to join may see of us (`join.card`, PROTOCOL.md "Room info"): the
   * meeting seals `{ name }` with the meeting key (mesh/member_card.ts). Sent with every fresh
   * join, not with a resume (the server keeps the first).
   */
  card?: JsonValue;
  /**
   * Reconnect delays in ms; the last one repeats for as long as it takes. Each is shortened by
   * up to 40% at random, so a room's members do not all come back at the same instant: the last
   * one is the longest wait between two attempts. Default 250 ms rising to 5 s.
   */
  backoffMs?: number[];
  /**
   * How long one attempt may take from opening the socket to `welcome` before it is given up
   * and retried (a server that accepts connections but does not answer). Default 15 s.
   */
  attemptTimeoutMs?: number;
  /**
   * How long the server may stay silent while joined before the connection counts as dead (a
   * half-open connection: the network went away without a close). The client pings every
   * `heartbeatMs` of the welcome, so a live server is never silent that long. Default: three
   * heartbeats, at least 15 s.
   */
  silenceMs?: number;
  /** For tests: a WebSocket constructor. */
  WebSocket?: typeof WebSocket;
}

/** The signaling URL of a room, from the page's location. */
export function socketUrl(origin: string, room: string): string {
  const url = new URL(`/api/rooms/${encodeURIComponent(room)}/ws`, origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

const DEFAULT_BACKOFF_MS = [250, 500, 1_000, 2_000, 4_000, 5_000];
const DEFAULT_ATTEMPT_TIMEOUT_MS = 15_000;
/** A server busy enough to answer a ping late must not be taken for a dead one. */
const MIN_SILENCE_MS = 15_000;
/**
 * Before the first welcome, the first attempt and this many retries failing mean the server
 * cannot be reached.
 */
const FIRST_JOIN_RETRIES = 3;
/**
 * Refusals that are worth another attempt once joined: our place is gone (join afresh), or the
 * server hit an error of its own (typically while it starts again after an outage).
 */
const RETRYABLE: readonly ErrorCode[] = ["resume-failed", "internal"];

type Listener<T> = (value: T) => void;

/** One participant's signaling connection; see the module comment. */
export class SignalingClient {
  state: ClientState = "connecting";
  peer: PeerId | null = null;
  members: MemberView[] = [];
  /** Why the client closed, in words for the UI. */
  closeReason = "";
  /**
   * Why the client closed, for code: `left`, `closed`, `unreachable`, a fatal error code
   * (`room-full`, `room-locked`, `denied`, `removed`, `room-ended`, ...) or `evicted`.
   */
  closeKind = "";
  /**
   * With `closeKind` `evicted`: the eviction (its `by` for `kicked` and `ended`, `unreachable`
   * for `mesh-incomplete`). When only the close code arrived, one made from it (no `by`).
   */
  evicted: EvictedMessage | null = null;
  /** The room as of the latest welcome or roster (hosts, lock, lobby, removals). */
  room: RoomView | null = null;
  /** While `waiting`: the peer id we knock as (from `waiting`). */
  knock: PeerId | null = null;
  readonly #opts: ClientOptions;
  readonly #WebSocket: typeof WebSocket;
  #socket: WebSocket | null = null;
  /** The token of the latest welcome: a server may issue a new one on every resume. */
  #token: string | null = null;
  #heartbeatMs = 5_000;
  /** When the oldest ping the server has not answered (nor said anything since) went out. */
  #unansweredSince: number | null = null;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #attemptTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #final = false;
  /** Whether a welcome ever came: from then on the client never gives up by itself. */
  #joinedOnce = false;
  #listeners = new Map<keyof ClientEvents, Set<Listener<never>>>();

  constructor(opts: ClientOptions) {
    this.#opts = opts;
    this.#WebSocket = opts.WebSocket ?? WebSocket;
    this.#open();
  }

  /** Whether the server can be reached right now: joined on an open connection. */
  get reachable(): boolean {
    return this.state === "joined";
  }

  on<K extends keyof ClientEvents>(event: K, fn: Listener<ClientEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(fn as Listener<never>);
    return () => set.delete(fn as Listener<never>);
  }

  /**
   * Sends an opaque signaling payload to one member of the room. False when it cannot be sent
   * (not joined right now): it is dropped, not queued, so the caller redoes what it needs once
   * the client is joined again.
   */
  signal(to: PeerId, payload: unknown): boolean {
    return this.#sendRaw({ type: "signal", to, payload });
  }

  /** Reports this browser's view of its links to every other member; false as for `signal`. */
  reportLinks(links: Record<PeerId, LinkState>): boolean {
    return this.#sendRaw({ type: "links", links });
  }

  /**
   * Sends a host action (while joined; the server refuses it with a non-fatal `forbidden` from
   * a member who is not a host) or the lobby's `knock` (while waiting). False when it cannot go
   * in this state: it is dropped, not queued.
   */
  send(message: HostAction | KnockMessage): boolean {
    if (message.type === "knock") {
      return this.state === "waiting" && this.#sendRaw(message, "waiting");
    }
    return this.#sendRaw(message);
  }

  /** Leaves the room (or the lobby) at once (no grace period) and closes. */
  leave(): void {
    this.#sendRaw({ type: "leave" }, this.state === "waiting" ? "waiting" : "joined");
    this.#finish("left", "You left the meeting.");
  }

  /** Closes without leaving: the server keeps the place for the grace period. */
  close(): void {
    this.#finish("closed", "Closed.");
  }

  #emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    for (const fn of this.#listeners.get(event) ?? []) (fn as Listener<ClientEvents[K]>)(value);
  }

  #setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.#emit("state", state);
  }

  /**
   * Sends on the open socket while in state `when` (joined, unless said otherwise; waiting
   * sockets may send only knock, ping and leave). While waiting, a socket that is not open yet
   * (reconnecting from the lobby) counts as not waiting.
   */
  #sendRaw(
    // A signal's payload is whatever the caller gives; JSON.stringify is what checks it.
    message: ClientMessage | { type: "signal"; to: PeerId; payload: unknown },
    when: "joined" | "waiting" = "joined",
  ): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== this.#WebSocket.OPEN || this.state !== when) {
      return false;
    }
    if (when === "waiting" && this.knock === null) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  #open(): void {
    const socket = new this.#WebSocket(this.#opts.url);
    this.#socket = socket;
    this.#attemptTimer = setTimeout(
      () => this.#abandon(socket),
      this.#opts.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    );
    socket.onopen = () => {
      const join: Record<string, unknown> = { type: "join", v: PROTOCOL_VERSION };
      if (this.#opts.name !== undefined) join.name = this.#opts.name;
      if (this.#token) join.resume = this.#token;
      if (this.#opts.secret !== undefined) join.secret = this.#opts.secret;
      if (this.#opts.card !== undefined && !this.#token) join.card = this.#opts.card;
      socket.send(JSON.stringify(join));
    };
    socket.onmessage = (e) => {
      if (socket !== this.#socket || typeof e.data !== "string") return;
      this.#unansweredSince = null;
      this.#onMessage(e.data);
    };
    socket.onclose = (e) => {
      if (socket !== this.#socket) return;
      this.#onDrop(e.code);
    };
  }

  #onMessage(text: string): void {
    const message = parseServerMessage(text);
    if (!message) return;
    switch (message.type) {
      case "welcome":
        clearTimeout(this.#attemptTimer);
        this.peer = message.peer;
        this.#token = message.token;
        this.#heartbeatMs = message.config.heartbeatMs;
        this.#attempt = 0;
        this.#joinedOnce = true;
        this.knock = null;
        this.members = message.members;
        this.room = message.room;
        this.#startPings();
        this.#setState("joined");
        this.#emit("welcome", message);
        return;
      case "roster":
        // A roster can only be for a member; a confused server's one to a waiting socket is not.
        if (this.state === "waiting") return;
        this.members = message.members;
        this.room = message.room;
        this.#emit("roster", message);
        return;
      case "waiting":
        // Only an answer to a fresh join: a member (joined or resuming) is never put back in the
        // lobby, and a resume token we hold says we are one.
        if (this.#token !== null || this.state === "joined") return;
        // A host may take minutes: no attempt timeout, but pings, so a dead socket is noticed.
        clearTimeout(this.#attemptTimer);
        this.#attempt = 0;
        this.knock = message.knock;
        this.#startPings();
        this.#setState("waiting");
        this.#emit("waiting", message);
        return;
      case "muted":
        if (this.state === "joined") this.#emit("muted", message);
        return;
      case "signal":
        this.#emit("signal", { from: message.from, payload: message.payload });
        return;
      case "error":
        if (message.fatal && this.#retryable(message.code)) {
          // The server closes this socket; the reconnect joins afresh (resume-failed: our place
          // is gone) or tries again (internal).
          if (message.code === "resume-failed") this.#forgetPlace();
          return;
        }
        if (message.fatal) this.#finish(message.code, message.message);
        else {
          const { code, message: text, to } = message;
          this.#emit(
            "error",
            to === undefined ? { code, message: text } : { code, message: text, to },
          );
        }
        return;
      case "evicted":
        this.evicted = message;
        this.#emit("evicted", message);
        this.#finish("evicted", message.reason);
        return;
      case "pong":
        return;
    }
  }

  /** Whether a fatal refusal is worth another attempt: only once we have been in the room. */
  #retryable(code: ErrorCode): boolean {
    return this.state !== "connecting" && RETRYABLE.includes(code);
  }

  #forgetPlace(): void {
    this.#token = null;
    this.peer = null;
    // A new place is to be had now, not after the backoff built up while the server was away.
    this.#attempt = 0;
  }

  #onDrop(code: number): void {
    if (this.#final) return;
    this.#stopTimers();
    this.#socket = null;
    // The closing frame can be lost (PROTOCOL.md, "Close codes"); the close code still says why.
    const known = describeCloseCode(code);
    if (known?.kind === "evicted") {
      const hint = EVICTIONS[known.code].hint;
      this.evicted = { type: "evicted", code: known.code, reason: hint };
      this.#emit("evicted", this.evicted);
      return this.#finish("evicted", hint);
    }
    if (known?.kind === "error" && ERRORS[known.code].fatal) {
      if (!this.#retryable(known.code)) return this.#finish(known.code, ERRORS[known.code].hint);
      if (known.code === "resume-failed" && this.#token) this.#forgetPlace();
    }
    // The lobby's knock went with the socket: the next attempt knocks anew.
    this.knock = null;
    // Never joined and never will: the server is unreachable or does not answer.
    const beforeWelcome = this.state === "connecting" ||
      (this.state === "waiting" && !this.#joinedOnce);
    if (beforeWelcome && this.#attempt >= FIRST_JOIN_RETRIES) {
      return this.#finish(
        "unreachable",
        "Cannot reach the meeting server. Check your connection and reload.",
      );
    }
    if (this.state === "joined") this.#setState("reconnecting");
    const delays = this.#opts.backoffMs ?? DEFAULT_BACKOFF_MS;
    const delay = delays[Math.min(this.#attempt, delays.length - 1)];
    this.#attempt++;
    this.#retryTimer = setTimeout(() => this.#open(), delay * (0.6 + Math.random() * 0.4));
  }

  /**
   * Gives up on a socket that does not get anywhere (no welcome in time, or silent while
   * joined) without waiting for its close, which can take minutes on a dead network.
   */
  #abandon(socket: WebSocket): void {
    if (socket !== this.#socket || this.#final) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close();
    // 1006: abnormal closure, as the browser would report a connection that died.
    this.#onDrop(1006);
  }

  /**
   * Pings every heartbeat so that a dead connection is noticed even in a quiet room. Silence is
   * counted from the oldest unanswered ping, not from the last message: a throttled timer in a
   * background tab must not make a live server look silent.
   */
  #startPings(): void {
    clearInterval(this.#pingTimer);
    this.#unansweredSince = null;
    const silenceMs = this.#opts.silenceMs ?? Math.max(MIN_SILENCE_MS, 3 * this.#heartbeatMs);
    const socket = this.#socket;
    this.#pingTimer = setInterval(() => {
      if (!socket) return;
      const now = Date.now();
      if (this.#unansweredSince !== null && now - this.#unansweredSince > silenceMs) {
        return this.#abandon(socket);
      }
      const sent = this.#sendRaw({ type: "ping" }, this.state === "waiting" ? "waiting" : "joined");
      if (sent) this.#unansweredSince ??= now;
    }, Math.min(this.#heartbeatMs, silenceMs));
  }

  #stopTimers(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#attemptTimer);
    clearInterval(this.#pingTimer);
  }

  #finish(kind: string, reason: string): void {
    if (this.#final) return;
    this.#final = true;
    this.closeKind = kind;
    this.closeReason = reason;
    this.#stopTimers();
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= this.#WebSocket.OPEN) socket.close(1000);
    this.#setState("closed");
  }
}
