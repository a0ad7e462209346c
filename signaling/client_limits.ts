/**
 * What one client address may cost an isolate (PROTOCOL.md, "Limits per client address"): open
 * signaling sockets, joins and room creations per minute, and inbound frames per second across
 * all its sockets. The per-socket rate limit (connection.ts) still applies to each socket.
 *
 * Each isolate keeps its own table: a count shared between isolates would put a KV round trip in
 * front of every join and a KV write behind every frame. Under `deno serve --parallel` a client
 * whose sockets land on several isolates may therefore use up to that many times each limit.
 *
 * The table stays small whatever addresses a flood uses: an address is remembered while it has
 * an open socket, then until its budgets would be full again anyway (forgetting it then changes
 * nothing), and at most `CLIENT_TABLE_MAX_IDLE` addresses without sockets are kept (the longest
 * idle is forgotten first).
 */
import {
  CLIENT_IPV6_PREFIX_BITS,
  CLIENT_MESSAGE_BURST_S,
  CLIENT_TABLE_MAX_IDLE,
} from "./limits.ts";

/** The limits of one client address (`MOOZ_CLIENT_*`, see config.ts). */
export interface ClientLimitsOptions {
  /** Sockets open at once. */
  maxSockets: number;
  /** Joins per minute: a budget of this many, refilled at this many a minute. */
  joinsPerMin: number;
  /** Room creations per minute, likewise. */
  roomsPerMin: number;
  /** Inbound frames per second across all the address's sockets. */
  messagesPerS: number;
  /** Frames at once; default `CLIENT_MESSAGE_BURST_S` seconds of `messagesPerS`. */
  messageBurst?: number;
  /** Addresses without sockets remembered at most (default `CLIENT_TABLE_MAX_IDLE`). */
  maxIdle?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** A token bucket: `capacity` tokens, refilled at `perMs` a millisecond. */
class Bucket {
  #tokens: number;
  #at: number;

  constructor(readonly capacity: number, readonly perMs: number, now: number) {
    this.#tokens = capacity;
    this.#at = now;
  }

  /** The tokens there now. */
  #refill(now: number): number {
    this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#at) * this.perMs);
    this.#at = now;
    return this.#tokens;
  }

  /** Milliseconds until a token is there (0: there is one). */
  waitMs(now: number): number {
    const tokens = this.#refill(now);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.perMs);
  }

  /** Takes a token: 0 when taken, else the milliseconds until one will be there. */
  take(now: number): number {
    const wait = this.waitMs(now);
    if (wait === 0) this.#tokens -= 1;
    return wait;
  }

  /**
   * Takes a token even when none is left (the bucket goes into debt): for work already done, so
   * concurrent users of one bucket can overshoot once but never the rate over time.
   */
  charge(now: number): void {
    this.#tokens = this.#refill(now) - 1;
  }
}

/** One address's budgets. */
interface Entry {
  key: string;
  sockets: number;
  joins: Bucket;
  rooms: Bucket;
  messages: Bucket;
  /** When the last socket closed. */
  idleSince: number;
}

/**
 * One socket's hold on its client address's budgets, from `ClientLimits.open` until `release`
 * (when the socket closes). The hub asks it before every frame, join and room creation.
 */
export interface ClientLease {
  /** The address as counted (IPv6 by its network, see `clientKey`). */
  readonly key: string;
  /** Takes one inbound frame from the address's budget; false when the frame must be dropped. */
  takeMessage(): boolean;
  /** Takes one join: 0 when allowed, else the milliseconds until the address may join again. */
  takeJoin(): number;
  /**
   * Milliseconds until the address may create a room (0: now; pass `mayCreate: true` to
   * `store.join` then).
   */
  roomWaitMs(): number;
  /** Counts a room this address created (even past the budget: its joins may have raced). */
  roomCreated(): void;
  /** Gives the socket's place back (its socket closed). Idempotent. */
  release(): void;
}

/**
 * The budgets of every client address this isolate has seen recently.
 *
 * @example
 * ```ts
 * const limits = new ClientLimits({ maxSockets: 64, joinsPerMin: 120, roomsPerMin: 30, messagesPerS: 200 });
 * const lease = limits.open("203.0.113.7");
 * if (!lease) return new Response("too many sockets", { status: 429 });
 * socket.addEventListener("close", () => lease.release());
 * socket.onmessage = (e) => lease.takeMessage() && handle(e.data);
 * ```
 */
export class ClientLimits {
  readonly options: Readonly<Required<Omit<ClientLimitsOptions, "now">>>;
  /** Addresses with open sockets. */
  readonly #busy = new Map<string, Entry>();
  /** Addresses without, in the order their last socket closed (the longest idle first). */
  readonly #idle = new Map<string, Entry>();
  readonly #now: () => number;
  /** How long an idle address's budgets take to fill up from empty: then it can be forgotten. */
  readonly #forgetMs: number;

  constructor(opts: ClientLimitsOptions) {
    this.options = {
      maxSockets: opts.maxSockets,
      joinsPerMin: opts.joinsPerMin,
      roomsPerMin: opts.roomsPerMin,
      messagesPerS: opts.messagesPerS,
      messageBurst: opts.messageBurst ?? opts.messagesPerS * CLIENT_MESSAGE_BURST_S,
      maxIdle: opts.maxIdle ?? CLIENT_TABLE_MAX_IDLE,
    };
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isFinite(value) || value < (name === "maxIdle" ? 0 : 1)) {
        throw new RangeError(`ClientLimits: ${name} must be a positive number, got ${value}`);
      }
    }
    this.#now = opts.now ?? Date.now;
    this.#forgetMs = Math.max(
      60_000,
      Math.ceil(this.options.messageBurst / this.options.messagesPerS * 1000),
    );
  }

  /** Addresses remembered: with open sockets, and idle ones (tests, metrics). */
  get size(): { busy: number; idle: number } {
    return { busy: this.#busy.size, idle: this.#idle.size };
  }

  /** Open sockets of the address `address` (tests). */
  sockets(address: string): number {
    const key = clientKey(address);
    return this.#busy.get(key)?.sockets ?? 0;
  }

  /**
   * A lease for one more socket of `address`, or null when the address has `maxSockets` open
   * already. Release the lease when the socket closes.
   */
  open(address: string): ClientLease | null {
    const now = this.#now();
    this.#forgetIdle(now);
    const key = clientKey(address);
    let entry = this.#busy.get(key);
    if (!entry) {
      entry = this.#idle.get(key) ?? this.#newEntry(key, now);
      this.#idle.delete(key);
      this.#busy.set(key, entry);
    }
    if (entry.sockets >= this.options.maxSockets) return null;
    entry.sockets++;
    const clock = this.#now;
    let released = false;
    return {
      key,
      takeMessage: () => entry.messages.take(clock()) === 0,
      takeJoin: () => entry.joins.take(clock()),
      roomWaitMs: () => entry.rooms.waitMs(clock()),
      roomCreated: () => entry.rooms.charge(clock()),
      release: () => {
        if (released) return;
        released = true;
        this.#release(entry);
      },
    };
  }

  /** A lease's socket closed. */
  #release(entry: Entry): void {
    entry.sockets--;
    if (entry.sockets > 0) return;
    const now = this.#now();
    entry.idleSince = now;
    this.#busy.delete(entry.key);
    this.#idle.set(entry.key, entry);
    while (this.#idle.size > this.options.maxIdle) {
      this.#idle.delete(this.#idle.keys().next().value!);
    }
    this.#forgetIdle(now);
  }

  #newEntry(key: string, now: number): Entry {
    const { joinsPerMin, roomsPerMin, messagesPerS, messageBurst } = this.options;
    return {
      key,
      sockets: 0,
      joins: new Bucket(joinsPerMin, joinsPerMin / 60_000, now),
      rooms: new Bucket(roomsPerMin, roomsPerMin / 60_000, now),
      messages: new Bucket(messageBurst, messagesPerS / 1000, now),
      idleSince: now,
    };
  }

  /** Forgets addresses idle long enough for their budgets to be full again. */
  #forgetIdle(now: number): void {
    for (const entry of this.#idle.values()) {
      if (now - entry.idleSince < this.#forgetMs) return;
      this.#idle.delete(entry.key);
    }
  }
}

/**
 * The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
 * `CLIENT_IPV6_PREFIX_BITS` network, ports, brackets and zone ids dropped; anything else (what a
 * proxy wrote: `unknown`, an obfuscated name) as its lower-case text, at most 64 characters.
 *
 * @example
 * ```ts
 * clientKey("2001:db8:0:1:aaaa::7"); // "2001:db8:0:1::/64"
 * clientKey("[::ffff:203.0.113.7]:443"); // "203.0.113.7"
 * ```
 */
export function clientKey(address: string): string {
  let a = address.trim().replace(/^"(.*)"$/, "$1").toLowerCase();
  const bracketed = a.match(/^\[([^\]]*)\](?::\d+)?$/);
  if (bracketed) a = bracketed[1];
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
  a = a.replace(/%.*$/, "");
  const mapped = a.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  if (mapped) return mapped[1];
  if (a.includes(":")) {
    const groups = ipv6Groups(a);
    if (groups) {
      const kept = groups.slice(0, CLIENT_IPV6_PREFIX_BITS / 16).map((g) => g.toString(16));
      return `${kept.join(":")}::/${CLIENT_IPV6_PREFIX_BITS}`;
    }
  }
  return a.slice(0, 64);
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function ipv6Groups(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      const v4 = i === pieces.length - 1 && piece.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
      if (v4) {
        const b = v4.slice(1).map(Number);
        if (b.some((x) => x > 255)) return null;
        out.push(b[0] << 8 | b[1], b[2] << 8 | b[3]);
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) out.push(parseInt(piece, 16));
      else return null;
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}
