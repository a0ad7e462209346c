/**
 * The browser's signaling client: joins a room over one WebSocket, relays signals, reports
 * link states, and survives brief drops by resuming with the token from `welcome` (same peer
 * id, so the WebRTC mesh stays up). Framework-free; also runs in Deno for tests and benchmarks.
 */
import {
  type ErrorCode,
  type EvictedMessage,
  type MemberView,
  parseServerMessage,
  PROTOCOL_VERSION,
  type RosterMessage,
  type WelcomeMessage,
} from "./protocol.ts";
import type { LinkState, PeerId } from "./types.ts";

export type ClientState =
  /** Opening the first connection. */
  | "connecting"
  /** In the room. */
  | "joined"
  /** The connection dropped; trying to resume within the grace period. */
  | "reconnecting"
  /** Done: left, refused, evicted, or could not resume. See `closeReason`. */
  | "closed";

export interface ClientEvents {
  state: ClientState;
  welcome: WelcomeMessage;
  roster: RosterMessage;
  signal: { from: PeerId; payload: unknown };
  /** Non-fatal server errors (fatal ones end in `state: closed` with `closeReason`). */
  error: { code: ErrorCode; message: string };
  evicted: EvictedMessage;
}

export interface ClientOptions {
  /** `ws(s)://host/api/rooms/{room}/ws`; see `socketUrl`. */
  url: string;
  name: string;
  /** Reconnect delays in ms; the last one repeats until the grace period is over. */
  backoffMs?: number[];
  /** For tests: a WebSocket constructor. */
  WebSocket?: typeof WebSocket;
}

/** The signaling URL of a room, from the page's location. */
export function socketUrl(origin: string, room: string): string {
  const url = new URL(`/api/rooms/${encodeURIComponent(room)}/ws`, origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

type Listener<T> = (value: T) => void;

export class SignalingClient {
  state: ClientState = "connecting";
  peer: PeerId | null = null;
  members: MemberView[] = [];
  /** Why the client closed, in words for the UI. */
  closeReason = "";
  /** Why the client closed, for code: `left`, `closed`, `unreachable`, `expired`, an error code or `evicted`. */
  closeKind = "";
  readonly #opts: ClientOptions;
  readonly #WebSocket: typeof WebSocket;
  #socket: WebSocket | null = null;
  #token: string | null = null;
  #graceMs = 30_000;
  #droppedAt = 0;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #final = false;
  #listeners = new Map<keyof ClientEvents, Set<Listener<never>>>();

  constructor(opts: ClientOptions) {
    this.#opts = opts;
    this.#WebSocket = opts.WebSocket ?? WebSocket;
    this.#open();
  }

  on<K extends keyof ClientEvents>(event: K, fn: Listener<ClientEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(fn as Listener<never>);
    return () => set.delete(fn as Listener<never>);
  }

  /** Sends an opaque signaling payload to one member of the room. */
  signal(to: PeerId, payload: unknown): boolean {
    return this.#sendRaw({ type: "signal", to, payload });
  }

  /** Reports this browser's view of its links to every other member. */
  reportLinks(links: Record<PeerId, LinkState>): boolean {
    return this.#sendRaw({ type: "links", links });
  }

  /** Leaves the room at once (no grace period) and closes. */
  leave(): void {
    this.#sendRaw({ type: "leave" });
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

  #sendRaw(message: Record<string, unknown>): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== this.#WebSocket.OPEN || this.state !== "joined") {
      return false;
    }
    socket.send(JSON.stringify(message));
    return true;
  }

  #open(): void {
    const socket = new this.#WebSocket(this.#opts.url);
    this.#socket = socket;
    socket.onopen = () => {
      const join: Record<string, unknown> = {
        type: "join",
        v: PROTOCOL_VERSION,
        name: this.#opts.name,
      };
      if (this.#token) join.resume = this.#token;
      socket.send(JSON.stringify(join));
    };
    socket.onmessage = (e) => {
      if (socket !== this.#socket || typeof e.data !== "string") return;
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
        this.peer = message.peer;
        this.#token = message.token;
        this.#graceMs = message.config.graceMs;
        this.#attempt = 0;
        this.members = message.members;
        this.#setState("joined");
        this.#emit("welcome", message);
        return;
      case "roster":
        this.members = message.members;
        this.#emit("roster", message);
        return;
      case "signal":
        this.#emit("signal", { from: message.from, payload: message.payload });
        return;
      case "error":
        if (message.code === "resume-failed") {
          // Our place is gone (grace over): the server closes this socket, and the reconnect
          // joins afresh as a new member.
          this.#token = null;
          this.peer = null;
          return;
        }
        if (message.fatal) this.#finish(message.code, message.message);
        else this.#emit("error", { code: message.code, message: message.message });
        return;
      case "evicted":
        this.#emit("evicted", message);
        this.#finish("evicted", message.reason);
        return;
      case "pong":
        return;
    }
  }

  #onDrop(_code: number): void {
    if (this.#final) return;
    const now = Date.now();
    if (this.state === "joined") this.#droppedAt = now;
    // Never joined and never will: the server is unreachable or refused us before welcome.
    if (!this.#token && this.state === "connecting" && this.#attempt >= 3) {
      return this.#finish(
        "unreachable",
        "Cannot reach the meeting server. Check your connection and reload.",
      );
    }
    if (this.#droppedAt && now - this.#droppedAt > this.#graceMs) {
      return this.#finish("expired", "The connection was lost for too long. Reload to join again.");
    }
    if (this.state === "joined") this.#setState("reconnecting");
    const delays = this.#opts.backoffMs ?? [250, 500, 1_000, 2_000, 4_000];
    const delay = delays[Math.min(this.#attempt, delays.length - 1)];
    this.#attempt++;
    this.#retryTimer = setTimeout(() => this.#open(), delay * (0.8 + Math.random() * 0.4));
  }

  #finish(kind: string, reason: string): void {
    if (this.#final) return;
    this.#final = true;
    this.closeKind = kind;
    this.closeReason = reason;
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= this.#WebSocket.OPEN) socket.close(1000);
    this.#setState("closed");
  }
}
