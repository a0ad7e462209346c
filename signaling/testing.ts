/**
 * Test helpers for the signaling server (not used by the app): a real hub behind a real HTTP
 * server on 127.0.0.1, raw WebSocket clients that record what the server sends, and a small
 * WebSocket proxy whose connections a test can cut. Everything here closes what it opens, so
 * Deno's test sanitizers stay quiet.
 */
import { DEFAULTS, type SignalingConfig } from "./config.ts";
import { SignalingHub } from "./hub.ts";
import {
  type MemberView,
  parseServerMessage,
  PROTOCOL_VERSION,
  type RosterMessage,
  type ServerMessage,
  type WaitingMessage,
  type WelcomeMessage,
} from "./protocol.ts";

/** How long a helper waits for a condition before failing with what it saw. */
export const WAIT_MS = 5_000;

/** Settings that keep tests fast and keep behaviour a test does not look at out of the way. */
export const TEST_CONFIG: Partial<SignalingConfig> = {
  graceMs: 5_000,
  heartbeatMs: 100,
  heartbeatTimeoutMs: 3_000,
  // Long enough that members who never report links are not evicted mid-test.
  linkDeadlineMs: 60_000,
  inboxPollMs: 50,
};

/** Config overrides for `startHub`, plus the hub's join timeout. */
export interface HubOverrides extends Partial<SignalingConfig> {
  /** `HubOptions.joinTimeoutMs`. */
  joinTimeoutMs?: number;
}

/** A running test hub and how to reach and stop it. */
export interface TestHub extends AsyncDisposable {
  hub: SignalingHub;
  kv: Deno.Kv;
  /** `http://127.0.0.1:{port}` */
  origin: string;
  /** `ws://127.0.0.1:{port}/api/rooms/{room}/ws` */
  url(room: string): string;
  /** Stops the hub and the server; closes the KV if this helper opened it. */
  close(): Promise<void>;
}

/**
 * A hub with `TEST_CONFIG` and `overrides`, served at `/api/rooms/{room}/ws`. Pass `kv` to share
 * one database between hubs (two isolates); such a KV is left open for its owner to close.
 */
export async function startHub(
  overrides: HubOverrides = {},
  opts: { kv?: Deno.Kv; busChannel?: boolean } = {},
): Promise<TestHub> {
  const { joinTimeoutMs, ...config } = overrides;
  const kv = opts.kv ?? await Deno.openKv(":memory:");
  const hub = new SignalingHub({
    config: { ...DEFAULTS, ...TEST_CONFIG, ...config },
    kv,
    joinTimeoutMs,
    busChannel: opts.busChannel,
  });
  hub.start();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const match = new URL(req.url).pathname.match(/^\/api\/rooms\/([^/]+)\/ws$/);
    if (!match) return new Response("not found", { status: 404 });
    return hub.handleUpgrade(req, decodeURIComponent(match[1]));
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      await hub.stop();
      await server.shutdown();
      if (!opts.kv) kv.close();
    })();
  return {
    hub,
    kv,
    origin,
    url: (room) => `ws://127.0.0.1:${server.addr.port}/api/rooms/${room}/ws`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

// ---------------------------------------------------------------------------------------------
// Raw sockets

/** Deno's WebSocket takes handshake headers (non-standard); the project's "dom" lib hides that. */
const WebSocketWithHeaders = WebSocket as unknown as new (
  url: string,
  opts: { headers: HeadersInit },
) => WebSocket;

/** The server message of type `T`. */
export type Msg<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

/** Short text of a server message for failure messages. */
function summary(m: ServerMessage): string {
  switch (m.type) {
    case "error":
      return `error(${m.code})`;
    case "evicted":
      return `evicted(${m.code})`;
    case "roster":
      return `roster(${m.members.map((x) => `${x.name}${x.connected ? "" : "~"}`).join(",")})`;
    case "signal":
      return `signal(from ${m.from})`;
    default:
      return m.type;
  }
}

/**
 * A raw WebSocket to the server that records every message. `next` takes messages in arrival
 * order (one per call); `view` is the latest member list (from `welcome` or `roster`), which is
 * how PROTOCOL.md says clients should read rosters: the newest one is the truth.
 */
export class TestSocket implements AsyncDisposable {
  readonly ws: WebSocket;
  /** Every message received, in order (also the ones `next` took). */
  readonly received: ServerMessage[] = [];
  /** Frames that were not valid server messages (must stay empty). */
  readonly garbage: unknown[] = [];
  /** Latest member list, or null before `welcome`. */
  view: MemberView[] | null = null;
  /** Latest `welcome` or `roster` (room, members, and for hosts knocks and disputes). */
  last: WelcomeMessage | RosterMessage | null = null;
  #unread: ServerMessage[] = [];
  #wake = new Set<() => void>();
  #closed: Promise<{ code: number; reason: string }>;
  #close: { code: number; reason: string } | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.#closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => {
        this.#close = { code: e.code, reason: e.reason };
        resolve(this.#close);
        this.#notify();
      });
    });
    ws.addEventListener("message", (e) => {
      const message = typeof e.data === "string" ? parseServerMessage(e.data) : null;
      if (!message) {
        this.garbage.push(e.data);
        return;
      }
      this.received.push(message);
      this.#unread.push(message);
      if (message.type === "welcome" || message.type === "roster") {
        this.view = message.members;
        this.last = message;
      }
      this.#notify();
    });
  }

  /** Opens a socket; rejects if the connection fails (for example HTTP 403). */
  static async open(url: string, opts: { origin?: string } = {}): Promise<TestSocket> {
    const ws = opts.origin === undefined
      ? new WebSocket(url)
      : new WebSocketWithHeaders(url, { headers: { origin: opts.origin } });
    const socket = new TestSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`could not connect to ${url}`)), {
        once: true,
      });
    });
    return socket;
  }

  #notify(): void {
    for (const wake of this.#wake) wake();
  }

  send(message: unknown): void {
    if (typeof message === "string" || message instanceof Uint8Array) this.ws.send(message);
    else this.ws.send(JSON.stringify(message));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves when `check` returns a value other than undefined; fails after `timeoutMs`. */
  async #until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      const closed = this.#close;
      if (left <= 0 || closed) {
        const seen = this.received.map(summary).join(", ") || "nothing";
        const why = closed
          ? `the socket closed (${closed.code} ${closed.reason})`
          : `${timeoutMs} ms passed`;
        throw new Error(`waited for ${what}, but ${why}; received: ${seen}`);
      }
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const timer = setTimeout(wake, left);
      this.#wake.add(wake);
      try {
        await woken;
      } finally {
        clearTimeout(timer);
        this.#wake.delete(wake);
      }
    }
  }

  /**
   * Takes the first unread message of `type` (matching `predicate`, if given), waiting for it.
   * Messages of other types stay unread. Fails early if the socket closes first.
   */
  next<T extends ServerMessage["type"]>(
    type: T,
    predicate: (m: Msg<T>) => boolean = () => true,
    timeoutMs = WAIT_MS,
  ): Promise<Msg<T>> {
    return this.#until(`"${type}"`, () => {
      const i = this.#unread.findIndex((m) => m.type === type && predicate(m as Msg<T>));
      if (i < 0) return undefined;
      return this.#unread.splice(i, 1)[0] as Msg<T>;
    }, timeoutMs);
  }

  /** Waits until the latest roster satisfies `predicate`; returns that member list. */
  roster(
    predicate: (members: MemberView[]) => boolean,
    what = "a roster",
    timeoutMs = WAIT_MS,
  ): Promise<MemberView[]> {
    return this.#until(
      what,
      () => (this.view && predicate(this.view) ? this.view : undefined),
      timeoutMs,
    );
  }

  /**
   * Waits until the latest `welcome` or `roster` satisfies `predicate` (the room, hosts' knocks
   * and disputes too); returns it.
   */
  state(
    predicate: (m: WelcomeMessage | RosterMessage) => boolean,
    what = "a room state",
    timeoutMs = WAIT_MS,
  ): Promise<WelcomeMessage | RosterMessage> {
    return this.#until(
      what,
      () => (this.last && predicate(this.last) ? this.last : undefined),
      timeoutMs,
    );
  }

  /** Sends `ping` and waits for its `pong`: everything the server sent before has arrived. */
  async roundTrip(): Promise<void> {
    const t = Math.random();
    this.send({ type: "ping", t });
    await this.next("pong", (m) => m.t === t);
  }

  /** Messages of `type` received so far. */
  all<T extends ServerMessage["type"]>(type: T): Msg<T>[] {
    return this.received.filter((m): m is Msg<T> => m.type === type);
  }

  /** The close code and reason, once the socket has closed (either side). */
  closed(timeoutMs = WAIT_MS): Promise<{ code: number; reason: string }> {
    return this.#until("the socket to close", () => this.#close ?? undefined, timeoutMs)
      .catch((err) => {
        if (this.#close) return this.#close;
        throw err;
      });
  }

  /** Closes from this side (if still open) and waits for the close to complete. */
  async close(code = 1000): Promise<void> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(code);
    }
    await this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Opens a raw socket. */
export function connect(url: string, opts: { origin?: string } = {}): Promise<TestSocket> {
  return TestSocket.open(url, opts);
}

/** A socket that has joined, with its welcome. */
export interface Joined extends AsyncDisposable {
  socket: TestSocket;
  welcome: WelcomeMessage;
  peer: string;
}

/** A browser's secret for one meeting (`join.secret`): 32 random bytes, base64url. */
export function newSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The `join` message for `name`, with `resume` and `secret` if given. */
export function joinMessage(
  name: string,
  opts: { resume?: string; secret?: string } = {},
): Record<string, unknown> {
  return {
    type: "join",
    v: PROTOCOL_VERSION,
    name,
    ...(opts.resume ? { resume: opts.resume } : {}),
    ...(opts.secret ? { secret: opts.secret } : {}),
  };
}

/**
 * Opens a socket and joins as `name` (resuming with `resume`, and with this browser's `secret`
 * for the meeting, if given).
 */
export async function join(
  url: string,
  name: string,
  opts: { resume?: string; origin?: string; secret?: string } = {},
): Promise<Joined> {
  const socket = await connect(url, opts);
  try {
    socket.send(joinMessage(name, opts));
    const welcome = await socket.next("welcome");
    return {
      socket,
      welcome,
      peer: welcome.peer,
      [Symbol.asyncDispose]: () => socket.close(),
    };
  } catch (err) {
    await socket.close();
    throw err;
  }
}

/** A socket waiting in a room's lobby, with its reserved peer id. */
export interface Waiting extends AsyncDisposable {
  socket: TestSocket;
  waiting: WaitingMessage;
  /** The peer id it will have once let in; the id of its knock in hosts' `knocks`. */
  knock: string;
}

/** Opens a socket and joins a room whose lobby is on; resolves once it is told to wait. */
export async function knock(
  url: string,
  name: string,
  opts: { secret?: string } = {},
): Promise<Waiting> {
  const socket = await connect(url);
  try {
    socket.send(joinMessage(name, opts));
    const waiting = await socket.next("waiting");
    return {
      socket,
      waiting,
      knock: waiting.knock,
      [Symbol.asyncDispose]: () => socket.close(),
    };
  } catch (err) {
    await socket.close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = WAIT_MS,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Lets `ms` of wall-clock time pass. Only for asserting that something does NOT happen by a
 * deadline (there is no event for an absence); never to wait for something to happen.
 */
export function elapse(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Members' peer ids, in roster order. */
export function peers(members: MemberView[]): string[] {
  return members.map((m) => m.peer);
}

// ---------------------------------------------------------------------------------------------
// Proxy

/** A WebSocket proxy whose connections a test can cut (`startProxy`). */
export interface TestProxy extends AsyncDisposable {
  /** `ws://127.0.0.1:{proxyPort}` + the path of `target`. */
  url(path: string): string;
  /** Closes every proxied connection on both sides, as a network drop would. */
  cut(): Promise<void>;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** While true, new connections are refused with HTTP 503 (the server is unreachable). */
  down: boolean;
  close(): Promise<void>;
}

/**
 * A WebSocket proxy to `targetOrigin` (ws://host:port): each client socket gets its own upstream
 * socket, frames are forwarded both ways, and `cut()` drops them all, so a client sees its
 * server go away while the hub sees its client go away.
 */
export function startProxy(targetOrigin: string): TestProxy {
  const pairs = new Set<{ down: WebSocket; up: WebSocket; done: Promise<void> }>();
  let accepted = 0;
  const state = { down: false };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (state.down) return new Response("down", { status: 503 });
    const path = new URL(req.url).pathname;
    const { socket: down, response } = Deno.upgradeWebSocket(req);
    const up = new WebSocket(targetOrigin + path);
    accepted++;
    const early: (string | ArrayBufferLike | Blob | ArrayBufferView)[] = [];
    const closedBoth = Promise.all([
      new Promise((r) => down.addEventListener("close", r)),
      new Promise((r) => up.addEventListener("close", r)),
    ]).then(() => {});
    const pair = { down, up, done: closedBoth };
    pairs.add(pair);
    closedBoth.then(() => pairs.delete(pair));
    const forward = (ws: WebSocket, code: number, reason: string) => {
      if (ws.readyState !== WebSocket.CONNECTING && ws.readyState !== WebSocket.OPEN) return;
      // 1005 and 1006 are never sent; a client socket (`up`) may send only 1000 and 3000-4999.
      const sendable = ws === up
        ? code === 1000 || (code >= 3000 && code <= 4999)
        : code !== 1005 &&
          code !== 1006;
      ws.close(sendable ? code : 1000, sendable ? reason : "");
    };
    down.onmessage = (e) => {
      if (up.readyState === WebSocket.OPEN) up.send(e.data);
      else early.push(e.data);
    };
    up.onopen = () => {
      for (const data of early.splice(0)) up.send(data);
    };
    up.onmessage = (e) => {
      if (down.readyState === WebSocket.OPEN) down.send(e.data);
    };
    down.onclose = (e) => forward(up, e.code, e.reason);
    up.onclose = (e) => forward(down, e.code, e.reason);
    down.onerror = up.onerror = () => {};
    return response;
  });
  const cut = async () => {
    const current = [...pairs];
    for (const { down, up } of current) {
      // 1012 "service restart": what a client sees when a server goes away on purpose.
      end(down, 1012);
      end(up, 1000);
    }
    await Promise.all(current.map((p) => p.done));
  };
  const end = (ws: WebSocket, code: number) => {
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(code);
  };
  const close = async () => {
    await cut();
    await server.shutdown();
  };
  return {
    url: (path) => `ws://127.0.0.1:${server.addr.port}${path}`,
    cut,
    get accepted() {
      return accepted;
    },
    get down() {
      return state.down;
    },
    set down(value: boolean) {
      state.down = value;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
