/**
 * Clients of the abuse bench: joined sockets that come from an address of their choosing (the
 * server trusts `X-Forwarded-For` from one proxy, `MOOZ_TRUST_PROXY=1`, so a bench socket can
 * stand for a client anywhere), that count what the server refuses them, and that are placed on
 * a chosen isolate of a `--parallel` server (looked up in the server's KV).
 */
import { roomKeys } from "../signaling/keys.ts";
import { clientMessage, PROTOCOL_VERSION } from "../signaling/protocol.ts";
import type { Member } from "../signaling/types.ts";
import { rawHttp } from "../tests/live_server.ts";
import { withTimeout } from "./wait.ts";

/** Deno's WebSocket takes handshake headers (non-standard); the project's "dom" lib hides that. */
const WebSocketWithHeaders = WebSocket as unknown as new (
  url: string,
  opts: { headers: HeadersInit },
) => WebSocket;

/** How long opening and joining may take, per socket. */
const JOIN_TIMEOUT_MS = 10_000;
/** Server signals begin so: a receiver counts floods without parsing 32 KiB of JSON each. */
const SIGNAL_PREFIX = '{"type":"signal"';

/** Counts by code (error frames, refused upgrades, close codes). */
export type Counts = Record<string, number>;

/** Adds one to `counts[key]`. */
export function count(counts: Counts, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** Sums of several `Counts`. */
export function addCounts(...all: Counts[]): Counts {
  const out: Counts = {};
  for (const counts of all) for (const [k, v] of Object.entries(counts)) count(out, k, v);
  return out;
}

/** A joined bench socket. */
export class BenchSocket {
  peer = "";
  /** Error frames by code. */
  readonly errors: Counts = {};
  /** Signals received, and the close code once closed. */
  signals = 0;
  closeCode: number | null = null;
  /** Called for each signal with its parsed payload (when set; otherwise signals are only counted). */
  onSignal: ((payload: unknown, at: number) => void) | null = null;
  readonly closed: Promise<void>;

  constructor(readonly ws: WebSocket, readonly room: string, readonly address: string) {
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => {
        this.closeCode = e.code;
        resolve();
      });
    });
    ws.addEventListener("message", (e) => {
      const at = performance.now();
      if (typeof e.data !== "string") return;
      if (e.data.startsWith(SIGNAL_PREFIX)) {
        this.signals++;
        if (this.onSignal) this.onSignal(JSON.parse(e.data).payload, at);
        return;
      }
      const message = JSON.parse(e.data);
      if (message.type === "error") count(this.errors, message.code);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a text frame if the socket is open; whether it was. */
  send(text: string): boolean {
    if (!this.open) return false;
    this.ws.send(text);
    return true;
  }

  /** Leaves the room (no grace period left behind) and waits for the close. */
  async leave(): Promise<void> {
    if (this.send(clientMessage({ type: "leave" }))) {
      await withTimeout(this.closed, 5_000, "leave").catch(() => this.ws.close());
    } else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    await this.closed;
  }
}

/** A socket the server refused, and why (an error code, or `http-<status>`). */
export interface Refused {
  refused: string;
}

/**
 * Opens a socket to `room` as a client at `address` and joins. A refused upgrade is asked again
 * over raw HTTP to learn its code (WebSocket clients only see that it failed).
 */
export async function openJoined(
  origin: string,
  room: string,
  address: string,
): Promise<BenchSocket | Refused> {
  const url = `${origin.replace(/^http/, "ws")}/api/rooms/${room}/ws`;
  const ws = new WebSocketWithHeaders(url, { headers: { "x-forwarded-for": address } });
  const socket = new BenchSocket(ws, room, address);
  const opened = await new Promise<boolean>((resolve) => {
    ws.addEventListener("open", () => resolve(true), { once: true });
    ws.addEventListener("error", () => resolve(false), { once: true });
  });
  if (!opened) {
    await socket.closed;
    return { refused: await refusalCode(origin, room, address) };
  }
  const welcome = new Promise<string | Refused>((resolve) => {
    const onMessage = (e: MessageEvent) => {
      if (typeof e.data !== "string" || e.data.startsWith(SIGNAL_PREFIX)) return;
      const message = JSON.parse(e.data);
      if (message.type === "welcome") resolve(message.peer);
      if (message.type === "error" && message.fatal) resolve({ refused: message.code });
    };
    ws.addEventListener("message", onMessage);
    socket.closed.then(() => resolve({ refused: `closed-${socket.closeCode}` }));
  });
  socket.send(clientMessage({ type: "join", v: PROTOCOL_VERSION, name: "Bench" }));
  const result = await withTimeout(welcome, JOIN_TIMEOUT_MS, "join").catch(() => ({
    refused: "join-timeout",
  }));
  if (typeof result === "string") {
    socket.peer = result;
    return socket;
  }
  ws.close();
  await socket.closed;
  return result;
}

/** The code of a refused upgrade: the JSON body's `error`, or `http-<status>`. */
async function refusalCode(origin: string, room: string, address: string): Promise<string> {
  const port = Number(new URL(origin).port);
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const res = await rawHttp(
    port,
    `GET /api/rooms/${room}/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      `X-Forwarded-For: ${address}\r\n\r\n`,
  ).catch(() => ({ status: 0, body: "" }));
  try {
    const code = JSON.parse(res.body).error;
    if (typeof code === "string") return code;
  } catch { /* not JSON */ }
  return res.status === 101 ? "upgrade-failed" : `http-${res.status}`;
}

/** Which isolate holds a member's socket, from its record in the server's KV. */
export async function isolateOf(kv: Deno.Kv, room: string, peer: string): Promise<string | null> {
  return (await kv.get<Member>(roomKeys.member(room, peer))).value?.isolate ?? null;
}

/** Where a socket must land: on `isolate`, or anywhere but `not`. */
export type Placement = { isolate: string } | { not: string };

/**
 * Joins `room` as a client at `address()` until the socket lands where `placement` says (the
 * kernel spreads connections over the isolates); misplaced sockets leave. Null after `tries`
 * attempts; refusals are counted in `refusals`.
 */
export async function joinPlaced(
  origin: string,
  kv: Deno.Kv,
  room: string,
  address: () => string,
  placement: Placement | null,
  refusals: Counts,
  tries = 12,
): Promise<{ socket: BenchSocket; isolate: string } | null> {
  for (let i = 0; i < tries; i++) {
    const socket = await openJoined(origin, room, address());
    if ("refused" in socket) {
      count(refusals, socket.refused);
      continue;
    }
    const isolate = await isolateOf(kv, room, socket.peer);
    const fits = isolate !== null &&
      (placement === null ||
        ("isolate" in placement ? isolate === placement.isolate : isolate !== placement.not));
    if (fits) return { socket, isolate };
    await socket.leave();
  }
  return null;
}

/** A flooding socket on one isolate and its peer on the other, in a room of their own. */
export interface Pair {
  sender: BenchSocket;
  target: BenchSocket;
}

/** Distinct client addresses (10.0.0.0/8), one per call. */
export function addressPool(): () => string {
  let k = 0;
  return () => {
    k++;
    return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
  };
}

/**
 * Up to `n` pairs whose senders sit on isolate `from` and targets on another one, each in a new
 * room, `concurrency` placed at a time. Pairs that could not be placed (refusals, counted in
 * `refusals`) are left out.
 */
export async function placePairs(
  origin: string,
  kv: Deno.Kv,
  n: number,
  from: string,
  address: () => string,
  refusals: Counts,
  newRoom: () => string,
  concurrency = 4,
): Promise<Pair[]> {
  const pairs: Pair[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const room = newRoom();
      const sender = await joinPlaced(origin, kv, room, address, { isolate: from }, refusals);
      if (!sender) continue;
      const target = await joinPlaced(origin, kv, room, address, { not: from }, refusals);
      if (!target) {
        await sender.socket.leave();
        continue;
      }
      pairs.push({ sender: sender.socket, target: target.socket });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return pairs;
}

/** Every socket leaves (or is closed); waits for all of them. */
export async function leaveAll(sockets: BenchSocket[]): Promise<void> {
  await Promise.all(sockets.map((s) => s.leave()));
}
