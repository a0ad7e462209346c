/**
 * Every limit and default of the signaling server, in one place, each with the reason for its
 * value. Browser-safe (constants only): `protocol.ts` re-exports the wire limits for the browser,
 * `config.ts` reads the environment on top of `CONFIG_DEFAULTS`, and the server modules import
 * the rest from here. Change a value here and PROTOCOL.md's tables with it.
 */

// ---------------------------------------------------------------------------------------------
// Deno KV (platform limits, not choices)

/**
 * What one Deno KV call accepts (Deno 2.9, measured on this project's build machine). The
 * store splits larger work into several calls and sizes rooms so that one atomic operation
 * always suffices where correctness needs one.
 */
export const KV_LIMITS = {
  /** Largest value, in bytes. */
  valueBytes: 65_536,
  /** Mutations (set, delete) per atomic operation. */
  mutations: 1_000,
  /** Version checks per atomic operation. */
  checks: 100,
  /** Keys per `getMany` call. */
  getManyKeys: 10,
  /** Encoded bytes of all keys of one atomic operation together. */
  keyBytesPerOperation: 81_920,
  /** Bytes of all keys and values one atomic operation writes together. */
  mutationBytesPerOperation: 819_200,
} as const;

// ---------------------------------------------------------------------------------------------
// Rooms

/**
 * Largest capacity a room may have (`MOOZ_ROOM_CAPACITY` at most this). Removing a member
 * rewrites the link reports of all the others in one atomic operation, each guarded by a version
 * check, next to checks on the room, the member and its beat: 3 + 63 checks, within
 * `KV_LIMITS.checks` (100).
 */
export const MAX_CAPACITY = 64;

// ---------------------------------------------------------------------------------------------
// Wire protocol (PROTOCOL.md; re-exported by protocol.ts)

/** Largest inbound text frame, in UTF-8 bytes. */
export const MAX_FRAME_BYTES = 64 * 1024;
/**
 * Largest signal payload, as JSON in UTF-8 bytes. Half a frame, so the forwarded delivery
 * (payload plus a small envelope) always fits in one frame and in one KV value between isolates.
 */
export const MAX_PAYLOAD_BYTES = 32 * 1024;
/**
 * Deepest nesting of objects and arrays in a payload. SDP, ICE candidates and ciphertext
 * envelopes need 2 or 3; the cap keeps a recursive JSON.stringify on the server from overflowing.
 */
export const MAX_PAYLOAD_DEPTH = 32;
/** Display names, in Unicode code points after trimming and NFC normalization. */
export const MAX_NAME_LENGTH = 64;
/** Resume tokens, in characters; the server's are 60 (16 for the peer id, a dot, 43 secret). */
export const MAX_TOKEN_LENGTH = 128;
/**
 * Entries in one `links` report: one per other member of the largest room, so every member of a
 * full room of `MAX_CAPACITY` can report all its links.
 */
export const MAX_LINKS = MAX_CAPACITY - 1;
/**
 * A browser's secret for one meeting (`join.secret`): 22 to 64 base64url characters, so at least
 * 128 random bits fit and a hash of it is all the server keeps.
 */
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;
/** Largest `knock` payload, as JSON in UTF-8 bytes: a sealed name is about 250 bytes. */
export const MAX_KNOCK_BYTES = 2 * 1024;
/**
 * Largest `join.card`, as JSON in UTF-8 bytes: the browser's is its name sealed with the meeting
 * key (about 250 bytes for a name of 64 characters), shown to people about to join
 * (`GET /api/rooms/{room}`). Small, so a room's cards stay a small answer (64 at most).
 */
export const MAX_CARD_BYTES = 1024;
/** Deepest nesting of a `join.card` (a sealed envelope is one level: an object of strings). */
export const MAX_CARD_DEPTH = 4;
/**
 * `GET /api/rooms/{room}` requests per client address per minute (a budget of this many,
 * refilled at this rate, per isolate). The pre-join screen asks every few seconds (12 a minute),
 * so 300 leaves room for an office behind one address; a scraper of room ids gets little.
 */
export const ROOM_INFO_PER_MIN = 300;
/** Newcomers waiting in one room's lobby at once; more get `room-full`. */
export const MAX_LOBBY = 16;
/** Removals a room view remembers (for the UI's "was removed" notes); older ones are dropped. */
export const MAX_REMOVALS = 16;
/** Departures a room view remembers (`room.departures`, why members left); older ones go. */
export const MAX_DEPARTURES = 16;
/**
 * Secrets a room refuses after removals. Past this, the oldest bans are forgotten (the key
 * rotation that goes with every removal still keeps the removed out of the mesh).
 */
export const MAX_BANNED = 256;

/** Per-connection token bucket (PROTOCOL.md, "Rate limit"). Every inbound frame costs one. */
export const RATE_LIMIT = {
  burst: 100,
  refillPerSecond: 50,
  /** This many dropped frames within `dropWindowMs` close the socket with 1008. */
  maxDropped: 200,
  dropWindowMs: 10_000,
  /** A flooding client gets at most one `rate-limited` error this often; it is enough to notice. */
  errorEveryMs: 1_000,
} as const;

// ---------------------------------------------------------------------------------------------
// Server sockets

/**
 * A socket's send buffer beyond this means the client stopped reading: it is cut
 * (`slow-consumer`). Deno's `send()` never blocks, so without a cut the buffer grows unbounded.
 */
export const MAX_BUFFERED_BYTES = 1 << 20;
/** A socket must send `join` this soon after opening, or it is closed with `not-joined`. */
export const JOIN_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Between isolates (bus.ts)

/**
 * One sending socket may have at most 1/`BUS_SENDER_SHARE` of the bus's budget
 * (`CONFIG_DEFAULTS.busMaxQueuedBytes`) queued or being written to KV while the bus is empty, so
 * one flooding socket leaves most of the budget to everyone else. A newcomer's whole negotiation
 * with a full room of 8 (7 offers of ~5 KB and their ICE candidates, ~50 KB) fits in one share of
 * the default budget (128 KiB) with room to spare. The share shrinks in proportion as the bus
 * fills (down to `BUS_SENDER_RESERVE_BYTES`), so however many sockets flood at once, they stop
 * short of the budget and leave room for senders with little queued.
 */
export const BUS_SENDER_SHARE = 8;
/**
 * The least a socket's share shrinks to: a sender with less than this queued is refused only
 * when the whole budget is taken. 16 KiB holds an offer or answer (~5 KB) and its ICE candidates
 * (~200 B each), what a well-behaved client has in flight to one peer at a time.
 */
export const BUS_SENDER_RESERVE_BYTES = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Per client address (client_limits.ts; the values themselves are settings, in CONFIG_DEFAULTS)

/**
 * An address's message budget holds this many seconds of its rate
 * (`CONFIG_DEFAULTS.clientMessagesPerS`), so the joins of several people behind one address in
 * the same moment (each a burst of offers, answers and ICE candidates) pass whole.
 */
export const CLIENT_MESSAGE_BURST_S = 5;
/**
 * Addresses without an open socket that an isolate remembers, at most; beyond, the one idle
 * longest is forgotten (its budgets start full again if it comes back). An entry is a few hundred
 * bytes, so this caps the table at a few MB however many addresses a flood uses. Entries are
 * forgotten anyway once idle long enough for their budgets to be full again (a minute).
 */
export const CLIENT_TABLE_MAX_IDLE = 10_000;
/**
 * `Retry-After` of a socket refused for too many open sockets: a slot frees only when one of the
 * address's sockets closes, which no clock predicts; 10 s is a few of the browser client's
 * reconnect delays, long enough not to be hammered, short enough for a person reloading a tab.
 */
export const CLIENT_SOCKETS_RETRY_AFTER_S = 10;
/**
 * IPv6 clients are counted per /64 network: a subscriber is given at least a /64 and may use any
 * address in it, so per-address budgets would be 2^64 budgets for one machine.
 */
export const CLIENT_IPV6_PREFIX_BITS = 64;

// ---------------------------------------------------------------------------------------------
// Configuration (`MOOZ_*`, see config.ts and the README)

/**
 * Default and smallest accepted value of each numeric setting. The minimums keep a typo (a
 * heartbeat of 1 ms, a room of one) from turning into a busy loop or a useless server.
 */
export const CONFIG_DEFAULTS = {
  /** Participants per room: a video mesh does not scale much past 8. */
  capacity: 8,
  graceMs: 30_000,
  heartbeatMs: 5_000,
  heartbeatTimeoutMs: 20_000,
  linkDeadlineMs: 20_000,
  idleTimeoutS: 20,
  inboxPollMs: 1_000,
  /**
   * Signaling sockets one client address may have open at once (per isolate). A person has one
   * per meeting tab; an office or school of 50 behind one NAT address has about 50 in meetings at
   * once, and 64 leaves room for spare tabs. An abuser was measured holding 496.
   */
  clientMaxSockets: 64,
  /**
   * Joins (new places in rooms, not resumes) per client address per minute, per isolate. A
   * person joins once per meeting, again only after losing the place; 50 people behind one
   * address joining their meetings on the hour make about 50, and 120 allows each a retry. An
   * abuser was measured creating 1,500 rooms in 4 s.
   */
  clientJoinsPerMin: 120,
  /**
   * Rooms a client address may create per minute, per isolate: only a meeting's first joiner
   * creates it, and even an office of 50 starts a handful of meetings in the same minute.
   */
  clientRoomsPerMin: 30,
  /**
   * Inbound frames per second from one client address across all its sockets, per isolate; the
   * budget holds `CLIENT_MESSAGE_BURST_S` seconds of it. One socket may send at most 50 a second
   * (`RATE_LIMIT`), and a busy client (joining a full room: 7 negotiations with their ICE
   * candidates) sends about 100 frames in two seconds, then a few a minute; 200 is four sockets
   * at their maximum, and the burst (1,000) takes ten such joins at once. An abuser was measured
   * passing 952 a second through 20 sockets.
   */
  clientMessagesPerS: 200,
  /**
   * Reverse proxies in front of the server whose `X-Forwarded-For`, `X-Forwarded-Proto` and
   * `X-Forwarded-Host` are believed. 0: none, since anyone can send those headers.
   */
  trustProxy: 0,
  /**
   * Bytes of messages an isolate may have queued for other isolates or being written to KV, all
   * senders together (bus.ts); a signal beyond it is refused to its sender (`relay-busy`). Every
   * message waits for those queued before it, so this bounds how long a flood can delay other
   * rooms' signals: the time KV takes to write this much. 1 MiB is three commits on a local file:
   * 25 ms median and 60 ms at worst on the 2-core build machine, 75-95 ms median and 390 ms at
   * worst while other work kept it at a load average of 20; on a remote KV at 50 ms a commit,
   * about 150 ms. Without a cap, a flood from 24 sockets delayed other rooms' signals by 2.7 s
   * (median) and grew the server by 900 MiB (`deno task bench --abuse`).
   */
  busMaxQueuedBytes: 1 << 20,
} as const;

/** Smallest value `configFromEnv` accepts per setting (capacity is also at most MAX_CAPACITY). */
export const CONFIG_MINIMUMS = {
  capacity: 2,
  graceMs: 0,
  heartbeatMs: 100,
  heartbeatTimeoutMs: 200,
  linkDeadlineMs: 100,
  idleTimeoutS: 2,
  inboxPollMs: 10,
  /** One: a single tab per address is harsh, but coherent. */
  clientMaxSockets: 1,
  clientJoinsPerMin: 1,
  clientRoomsPerMin: 1,
  /**
   * One socket's own rate (`RATE_LIMIT.refillPerSecond`): less would hold a single well-behaved
   * client below what the per-socket limit promises it.
   */
  clientMessagesPerS: RATE_LIMIT.refillPerSecond,
  trustProxy: 0,
  /**
   * 512 KiB: one sender's share (1/`BUS_SENDER_SHARE`, 64 KiB) must hold a signal of the largest
   * size (`MAX_PAYLOAD_BYTES` plus its envelope), or such a signal could never be relayed.
   */
  busMaxQueuedBytes: 512 * 1024,
} as const;
