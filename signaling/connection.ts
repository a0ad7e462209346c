/**
 * One participant's socket on this isolate: what it has joined as, its rate limit, and the only
 * ways the server writes to it (so every send checks for a slow consumer and every error frame
 * agrees with the protocol's table of codes).
 */
import type { ClientLease } from "./client_limits.ts";
import { bump, type IsolateMetrics } from "./metrics.ts";
import { MAX_BUFFERED_BYTES, RATE_LIMIT } from "./limits.ts";
import {
  type ErrorCode,
  errorMessage,
  ERRORS,
  type EvictedMessage,
  type EvictionCode,
  EVICTIONS,
  type ServerMessage,
  serverMessage,
} from "./protocol.ts";
import type { PeerId } from "./types.ts";

/**
 * A socket waiting in the lobby (PROTOCOL.md, "Lobby"): the peer id and token the store reserved
 * for it, kept here because the store keeps only the token's hash and the welcome must carry the
 * token itself once a host admits it.
 */
export interface LobbyPlace {
  /** The reserved peer id; it is also the knock's id in hosts' `knocks`. */
  peer: PeerId;
  token: string;
  /** Its one `knock` has been sent. */
  knocked: boolean;
  /** A host ended the room (the host's isolate said so): the socket gets `room-ended`. */
  ended?: boolean;
}

/**
 * A welcome owed to a socket that has joined: it is sent from the first read of the room that
 * began after the join (`after`: the room's read count then; see `RoomCache.admit`).
 */
export interface PendingWelcome {
  token: string;
  resumed: boolean;
  after: number;
}

/** What an `evicted` message says besides its code and reason. */
export type EvictionDetails = Pick<EvictedMessage, "by" | "unreachable">;

const REFILL_PER_MS = RATE_LIMIT.refillPerSecond / 1000;

/**
 * A socket and its membership. The hub creates one per upgrade; the room cache lists the joined
 * ones by peer id.
 *
 * @example
 * ```ts
 * const conn = new Connection(socket, room, metrics);
 * socket.onmessage = (e) => conn.takeToken() && handle(conn, e.data);
 * ```
 */
export class Connection {
  readonly socket: WebSocket;
  /** The room id from the URL this socket was opened on; it never speaks for another room. */
  readonly room: string;
  /** The member this socket speaks for, from a successful join or resume. */
  peer: PeerId | null = null;
  /** Versionstamp of the member record this socket's join or resume wrote (store.disconnect). */
  version: string | null = null;
  /**
   * Frames are handled one after another, in order, even when handling awaits KV: the last
   * frame's handling, or null when none is in progress (then a signal may take the fast path).
   */
  queue: Promise<void> | null = null;
  /**
   * Set while the socket waits in the lobby (`peer` stays null: it is not a member yet); cleared
   * when a host's decision has been carried out.
   */
  lobby: LobbyPlace | null = null;
  /**
   * Set from a successful join until the welcome is sent (`sendWelcome`). Meanwhile everything
   * else for this socket is held back: members on other isolates may read the room, see the
   * newcomer and signal it before its own read of the room is done, and a client must never hear
   * from a peer before it knows its own peer id and the room (PROTOCOL.md, "Order").
   */
  welcome?: PendingWelcome;
  /** Set when this socket no longer speaks for its member (left, evicted, replaced). */
  detached = false;
  /** Set by the close event. */
  closed = false;
  /**
   * This socket's hold on its client address's budgets (client_limits.ts), released when it
   * closes; null when the address is unknown.
   */
  lease: ClientLease | null = null;
  readonly #metrics: IsolateMetrics;
  #tokens: number = RATE_LIMIT.burst;
  #refilledAt: number;
  #drops = 0;
  #dropsSince: number;
  #lastRateError = 0;
  #joinTimer?: ReturnType<typeof setTimeout>;
  /** Messages held until the welcome is sent, and their bytes (bounded like the socket's buffer). */
  #held: string[] = [];
  #heldBytes = 0;

  constructor(socket: WebSocket, room: string, metrics: IsolateMetrics, now = Date.now()) {
    this.socket = socket;
    this.room = room;
    this.#metrics = metrics;
    this.#refilledAt = now;
    this.#dropsSince = now;
  }

  /** Closes the socket with `not-joined` unless it has joined within `ms`. */
  requireJoinWithin(ms: number): void {
    this.#joinTimer = setTimeout(() => {
      if (!this.peer) {
        this.fail("not-joined", `No join message within ${ms / 1000} s.`);
      }
    }, ms);
  }

  /** Timers are objects here (node-style Timeout): drop the reference too, not just the timer. */
  clearJoinTimer(): void {
    clearTimeout(this.#joinTimer);
    this.#joinTimer = undefined;
  }

  /**
   * Takes one frame's token from the bucket (`RATE_LIMIT`). False when the frame must be
   * dropped; then the client is told (at most once per `RATE_LIMIT.errorEveryMs`), and a
   * sustained flood closes the socket with 1008.
   */
  takeToken(now = Date.now()): boolean {
    this.#tokens = Math.min(
      RATE_LIMIT.burst,
      this.#tokens + (now - this.#refilledAt) * REFILL_PER_MS,
    );
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    this.dropFrame(`Too many messages: at most ${RATE_LIMIT.refillPerSecond} a second.`, now);
    return false;
  }

  /**
   * Drops an inbound frame over a rate limit (this socket's, or its client address's): tells the
   * client with `message` at most once per `RATE_LIMIT.errorEveryMs`, and closes the socket with
   * 1008 when it goes on sending (`RATE_LIMIT.maxDropped` drops within `dropWindowMs`).
   */
  dropFrame(message: string, now = Date.now()): void {
    if (now - this.#dropsSince > RATE_LIMIT.dropWindowMs) {
      this.#drops = 0;
      this.#dropsSince = now;
    }
    this.#drops++;
    bump(this.#metrics.rejected, "rate-limited");
    if (this.#drops >= RATE_LIMIT.maxDropped) {
      this.close(ERRORS["rate-limited"].closeCode, "flooding");
    } else if (now - this.#lastRateError >= RATE_LIMIT.errorEveryMs) {
      this.#lastRateError = now;
      this.send(errorMessage("rate-limited", message));
    }
  }

  /**
   * Answers a refused input: a non-fatal error frame, or for a fatal code, error and close. `to`
   * names the recipient of a refused signal (`ErrorMessage.to`).
   */
  reject(code: ErrorCode, message: string, to?: PeerId): void {
    bump(this.#metrics.rejected, code);
    if (ERRORS[code].fatal) this.fail(code, message);
    else this.send(errorMessage(code, message, to));
  }

  /** Sends a fatal error and closes with its close code. */
  fail(code: ErrorCode, message: string): void {
    this.#dropHeld();
    this.send({ ...errorMessage(code, message), fatal: true });
    this.close(ERRORS[code].closeCode, code);
  }

  /**
   * Tells the member why it is out and closes (the member record is the caller's business).
   * `extra` names the host who did it (`kicked`, `ended`) or the members it could not reach
   * (`mesh-incomplete`).
   */
  evict(code: EvictionCode, reason: string, extra: EvictionDetails = {}): void {
    this.detached = true;
    this.#dropHeld();
    const message: EvictedMessage = { type: "evicted", code, reason };
    if (extra.by !== undefined) message.by = extra.by;
    if (extra.unreachable !== undefined) message.unreachable = extra.unreachable;
    this.send(message);
    this.close(EVICTIONS[code].closeCode, code);
  }

  /** Sends one message. */
  send(message: ServerMessage): void {
    this.sendText(serverMessage(message));
  }

  /**
   * Sends an encoded message (one encoding for a message that goes to many sockets). A client
   * that stopped reading is cut instead (`slow-consumer`): sends never block in Deno.
   */
  sendText(text: string): void {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return;
    if (this.welcome) {
      this.#heldBytes += text.length;
      if (this.#heldBytes > MAX_BUFFERED_BYTES) return this.#slowConsumer();
      this.#held.push(text);
      return;
    }
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) return this.#slowConsumer();
    this.socket.send(text);
  }

  /** Sends the welcome owed to this socket, then what was held back until it (see `welcome`). */
  sendWelcome(message: ServerMessage): void {
    this.welcome = undefined;
    const held = this.#held;
    this.#dropHeld();
    this.send(message);
    for (const text of held) this.sendText(text);
  }

  /** Evictions and fatal errors go out at once; what was held for after a welcome is moot. */
  #dropHeld(): void {
    this.welcome = undefined;
    this.#held = [];
    this.#heldBytes = 0;
  }

  #slowConsumer(): void {
    bump(this.#metrics.rejected, "slow-consumer");
    this.close(ERRORS["slow-consumer"].closeCode, "slow consumer");
  }

  /** Closes the socket unless it is closed already. */
  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    try {
      this.socket.close(code, reason);
    } catch {
      // Already closing.
    }
  }
}
