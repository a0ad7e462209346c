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
} as const;
