/**
 * The signaling wire protocol, version 1: message shapes, limits, error codes and validators.
 * Specified in PROTOCOL.md. Browser-safe (no Deno APIs): the browser client imports the types,
 * the constants, `parseServerMessage` and `clientMessage` from here.
 */
import { LINK_STATES } from "./types.ts";
import type { LinkState, Member, PeerId, RemovalReason, RoomMeta } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Limits

export const PROTOCOL_VERSION = 1;
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
export const MAX_TOKEN_LENGTH = 128;
/** Entries in one `links` report: a room never holds more members than this. */
export const MAX_LINKS = 16;
/** Server-assigned ids: 16 base64url characters (96 random bits). */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
/** Resume tokens are opaque to the client, but restricted so they are safe in logs and URLs. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** Per-connection token bucket (PROTOCOL.md, "Rate limit"). Every inbound frame costs one. */
export const RATE_LIMIT = {
  burst: 100,
  refillPerSecond: 50,
  /** This many dropped frames within `dropWindowMs` close the socket with 1008. */
  maxDropped: 200,
  dropWindowMs: 10_000,
} as const;

/** Code for the close after a `leave` (or when the client closes on purpose). */
export const CLOSE_NORMAL = 1000;

// ---------------------------------------------------------------------------------------------
// Messages

/** What a signal payload may be: any JSON value. Opaque to the server. */
export type JsonValue = null | boolean | number | string | JsonValue[] | {
  [key: string]: JsonValue;
};

/** Client -> server. */
export interface JoinMessage {
  type: "join";
  v: typeof PROTOCOL_VERSION;
  name: string;
  /** The token from an earlier `welcome`, to take the same place (peer id) again. */
  resume?: string;
}
export interface SignalMessage {
  type: "signal";
  to: PeerId;
  payload: JsonValue;
}
export interface LinksMessage {
  type: "links";
  links: Record<PeerId, LinkState>;
}
export interface PingMessage {
  type: "ping";
  t?: number;
}
export interface LeaveMessage {
  type: "leave";
}
export type ClientMessage = JoinMessage | SignalMessage | LinksMessage | PingMessage | LeaveMessage;

/** Server -> client. */
export type RoomView = Pick<RoomMeta, "id" | "capacity" | "locked" | "host">;
export type MemberView = Pick<Member, "peer" | "name" | "joinedAt" | "connected"> & {
  /** The member's own report of its links to the others. */
  links: Record<PeerId, LinkState>;
};
export interface SessionConfig {
  /** Time to connect to everyone before `mesh-incomplete` eviction (PROTOCOL.md, "Full-mesh guarantee"). */
  linkDeadlineMs: number;
  /** How long a dropped member keeps its place and may resume. */
  graceMs: number;
  /** Server heartbeat interval; a client may `ping` this often to notice a dead connection. */
  heartbeatMs: number;
}
export interface WelcomeMessage {
  type: "welcome";
  v: typeof PROTOCOL_VERSION;
  peer: PeerId;
  token: string;
  resumed: boolean;
  room: RoomView;
  members: MemberView[];
  config: SessionConfig;
}
export interface RosterMessage {
  type: "roster";
  room: RoomView;
  members: MemberView[];
}
export interface SignalDelivery {
  type: "signal";
  from: PeerId;
  payload: JsonValue;
}
export interface PongMessage {
  type: "pong";
  t?: number;
}
export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  message: string;
  fatal: boolean;
}
export interface EvictedMessage {
  type: "evicted";
  code: EvictionCode;
  reason: string;
}
export type ServerMessage =
  | WelcomeMessage
  | RosterMessage
  | SignalDelivery
  | PongMessage
  | ErrorMessage
  | EvictedMessage;

// ---------------------------------------------------------------------------------------------
// Errors and evictions

export const ERROR_CODES = [
  "bad-json",
  "bad-message",
  "unknown-type",
  "too-large",
  "binary-frame",
  "rate-limited",
  "not-joined",
  "already-joined",
  "unknown-peer",
  "room-full",
  "room-locked",
  "resume-failed",
  "unsupported-version",
  "slow-consumer",
  "internal",
] as const;
export type ErrorCode = typeof ERROR_CODES[number];

export interface ErrorInfo {
  /** The server closes the socket right after sending the error. */
  fatal: boolean;
  /** WebSocket close code when the server closes for this reason. */
  closeCode: number;
  /** What the client or the person should do; shown in the UI. */
  hint: string;
}

const BUG = "This is a bug in the app; reload the page if things stop working.";

/**
 * Malformed or misdirected single messages are non-fatal so one bad frame does not end a meeting;
 * their close codes are used only if a server chooses to close anyway. Size, framing and
 * admission failures are fatal: retrying on the same socket cannot succeed.
 */
export const ERRORS: Readonly<Record<ErrorCode, ErrorInfo>> = {
  "bad-json": { fatal: false, closeCode: 4000, hint: `A message was not valid JSON. ${BUG}` },
  "bad-message": {
    fatal: false,
    closeCode: 4001,
    hint: `A message had missing, extra or wrongly typed fields and was ignored. ${BUG}`,
  },
  "unknown-type": {
    fatal: false,
    closeCode: 4002,
    hint: "The server does not know this kind of message and ignored it. Reload the page to " +
      "get the current version of the app.",
  },
  "too-large": {
    fatal: true,
    closeCode: 1009,
    hint: "A message was larger than the server accepts (64 KiB per message, 32 KiB per signal " +
      "payload), so the connection was closed. Reload the page to rejoin.",
  },
  "binary-frame": {
    fatal: true,
    closeCode: 1003,
    hint: "The server accepts only JSON text messages, so the connection was closed. Use the " +
      "Mooz web app or a client that sends text frames.",
  },
  "rate-limited": {
    fatal: false,
    closeCode: 1008,
    hint: "Messages were sent too fast and some were dropped. If it goes on, the connection is " +
      "closed; reload the page then.",
  },
  "not-joined": {
    fatal: true,
    closeCode: 4003,
    hint: 'The first message must be "join". Reload the page to join the meeting.',
  },
  "already-joined": {
    fatal: false,
    closeCode: 4004,
    hint: 'You have already joined this meeting; the repeated "join" was ignored.',
  },
  "unknown-peer": {
    fatal: false,
    closeCode: 4005,
    hint: "That participant is not reachable (they left or are reconnecting), so the message " +
      "was not delivered. Wait for the next participant list.",
  },
  "room-full": {
    fatal: true,
    closeCode: 4006,
    hint: "The meeting is full. Ask the host to make room or start another meeting.",
  },
  "room-locked": {
    fatal: true,
    closeCode: 4007,
    hint: "The host has locked this meeting. Ask the host to unlock it, then try again.",
  },
  "resume-failed": {
    fatal: true,
    closeCode: 4008,
    hint: "Your earlier place in the meeting could not be restored (it expired or was " +
      "removed). Join again as a new participant.",
  },
  "unsupported-version": {
    fatal: true,
    closeCode: 4009,
    hint: "This version of the app does not match the server. Reload the page to get the " +
      "current version.",
  },
  "slow-consumer": {
    fatal: true,
    closeCode: 1013,
    hint: "Your connection could not keep up with the meeting's messages and was closed. " +
      "Check your network, then rejoin.",
  },
  internal: {
    fatal: true,
    closeCode: 1011,
    hint: "The server hit an unexpected error. Try rejoining in a moment.",
  },
};

/** Removal reasons a member can be told about (a member who left does not need telling). */
export type EvictionCode = Exclude<RemovalReason, "left"> | "replaced";
export const EVICTION_CODES: readonly EvictionCode[] = [
  "mesh-incomplete",
  "heartbeat",
  "grace-expired",
  "kicked",
  "replaced",
];

export const EVICTIONS: Readonly<Record<EvictionCode, { closeCode: number; hint: string }>> = {
  "mesh-incomplete": {
    closeCode: 4100,
    hint: "Your browser could not connect directly to everyone in the meeting in time, so you " +
      "were removed to keep the meeting whole. A VPN or strict firewall can block direct " +
      "connections; check your network and rejoin.",
  },
  heartbeat: {
    closeCode: 4101,
    hint: "The connection to the server stopped responding. Check your network and rejoin.",
  },
  "grace-expired": {
    closeCode: 4102,
    hint: "You were away longer than the meeting keeps a place for you. Rejoin to continue.",
  },
  kicked: { closeCode: 4103, hint: "The host removed you from the meeting." },
  replaced: {
    closeCode: 4104,
    hint: "This meeting was reopened in another tab or window, so it was closed here.",
  },
};

/** An error frame whose `fatal` always agrees with ERRORS; `message` defaults to the hint. */
export function errorMessage(code: ErrorCode, message: string = ERRORS[code].hint): ErrorMessage {
  return { type: "error", code, message, fatal: ERRORS[code].fatal };
}

/**
 * What a close code means, for a client whose socket closed without (or before reading) an
 * `error` or `evicted` frame. Null for codes this protocol does not assign.
 */
export function describeCloseCode(
  closeCode: number,
): { kind: "error"; code: ErrorCode } | { kind: "evicted"; code: EvictionCode } | null {
  const error = ERROR_CODES.find((c) => ERRORS[c].closeCode === closeCode);
  if (error) return { kind: "error", code: error };
  const eviction = EVICTION_CODES.find((c) => EVICTIONS[c].closeCode === closeCode);
  return eviction ? { kind: "evicted", code: eviction } : null;
}

// ---------------------------------------------------------------------------------------------
// Encoding

export function serverMessage(msg: ServerMessage): string {
  return JSON.stringify(msg);
}

export function clientMessage(msg: ClientMessage): string {
  return JSON.stringify(msg);
}

// ---------------------------------------------------------------------------------------------
// Small guards

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON turns 1e999 into Infinity; no field of this protocol wants it. */
function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

export function isPeerId(value: unknown): value is PeerId {
  return typeof value === "string" && PEER_ID_PATTERN.test(value);
}

function isLinkState(value: unknown): value is LinkState {
  return (LINK_STATES as readonly unknown[]).includes(value);
}

/** A client-chosen string quoted for an error message: escaped, and short so it is never echoed in bulk. */
function show(value: string): string {
  return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
}

// ---------------------------------------------------------------------------------------------
// Sizes

/** Reused by `fitsUtf8`; parsing is synchronous, so one buffer is never shared by two calls. */
let scratch: Uint8Array | undefined;
const encoder = new TextEncoder();

/**
 * Whether `text` takes at most `maxBytes` in UTF-8. A UTF-16 code unit takes 1 to 3 bytes, so
 * length alone settles most cases; only in between is the text encoded, into a fixed buffer that
 * stops filling at the limit, so an oversized frame costs no large allocation.
 */
function fitsUtf8(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return false;
  if (text.length * 3 <= maxBytes) return true;
  scratch ??= new Uint8Array(MAX_FRAME_BYTES);
  const { read } = encoder.encodeInto(text, scratch.subarray(0, maxBytes));
  return read === text.length;
}

/** Iterative, so a hostile 30,000-deep payload cannot overflow the stack while being checked. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Client message validation

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: ErrorCode; message: string };

function fail(code: ErrorCode, message: string): ParseResult {
  return { ok: false, code, message };
}

function ok(message: ClientMessage): ParseResult {
  return { ok: true, message };
}

/** Unknown fields are refused so the accepted surface stays exactly what PROTOCOL.md lists. */
function unknownField(obj: JsonObject, allowed: readonly string[]): ParseResult | null {
  const extra = Object.keys(obj).find((key) => !allowed.includes(key));
  if (extra === undefined) return null;
  return fail(
    "bad-message",
    `unknown field ${show(extra)} in "${obj.type}"; allowed fields: ${allowed.join(", ")}`,
  );
}

/**
 * C0 and C1 controls (including DEL), line and paragraph separators, bidi overrides and isolates
 * (which can make a name display as someone else's), and lone surrogates (not valid Unicode).
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069\p{Cs}]/u;

/** The display name as stored and shown, or an error message saying what to fix. */
export function normalizeName(raw: string): { ok: true; name: string } | {
  ok: false;
  message: string;
} {
  const name = raw.trim().normalize("NFC");
  // Code points, not UTF-16 units, so an emoji counts as one character.
  const length = [...name].length;
  if (length < 1 || length > MAX_NAME_LENGTH) {
    return {
      ok: false,
      message: `"name" must be 1 to ${MAX_NAME_LENGTH} characters after trimming; got ${length}`,
    };
  }
  if (FORBIDDEN_IN_NAME.test(name)) {
    return {
      ok: false,
      message: '"name" must not contain control characters, line breaks or bidi overrides',
    };
  }
  return { ok: true, name };
}

function parseJoin(obj: JsonObject): ParseResult {
  // The version is checked before anything else, so a client of a newer protocol (whose join
  // may carry new fields) learns about the version mismatch, not about an unknown field.
  if (!Object.hasOwn(obj, "v")) {
    return fail("bad-message", `"join" needs "v": ${PROTOCOL_VERSION} (the protocol version)`);
  }
  if (!isFiniteNumber(obj.v)) return fail("bad-message", '"v" must be a number');
  if (obj.v !== PROTOCOL_VERSION) {
    return fail(
      "unsupported-version",
      `protocol version ${obj.v} is not supported; this server speaks version ${PROTOCOL_VERSION}`,
    );
  }
  const extra = unknownField(obj, ["type", "v", "name", "resume"]);
  if (extra) return extra;
  if (!isString(obj.name)) return fail("bad-message", '"name" must be a string');
  const name = normalizeName(obj.name);
  if (!name.ok) return fail("bad-message", name.message);
  const message: JoinMessage = { type: "join", v: PROTOCOL_VERSION, name: name.name };
  if (Object.hasOwn(obj, "resume")) {
    if (!isString(obj.resume) || !TOKEN_PATTERN.test(obj.resume)) {
      return fail(
        "bad-message",
        `"resume" must be the token from "welcome": 1 to ${MAX_TOKEN_LENGTH} characters ` +
          "of A-Z a-z 0-9 _ . -",
      );
    }
    message.resume = obj.resume;
  }
  return ok(message);
}

function parseSignal(obj: JsonObject): ParseResult {
  const extra = unknownField(obj, ["type", "to", "payload"]);
  if (extra) return extra;
  if (!isPeerId(obj.to)) {
    return fail("bad-message", '"to" must be a peer id (16 characters of A-Z a-z 0-9 _ -)');
  }
  if (!Object.hasOwn(obj, "payload")) return fail("bad-message", '"signal" needs a "payload"');
  if (nestedDeeperThan(obj.payload, MAX_PAYLOAD_DEPTH)) {
    return fail(
      "bad-message",
      `"payload" is nested deeper than ${MAX_PAYLOAD_DEPTH} levels; flatten it`,
    );
  }
  // The payload is measured as the server will forward it: re-encoded as JSON.
  const encoded = JSON.stringify(obj.payload);
  if (!fitsUtf8(encoded, MAX_PAYLOAD_BYTES)) {
    return fail(
      "too-large",
      `"payload" exceeds ${MAX_PAYLOAD_BYTES} bytes (32 KiB) as JSON; split it into ` +
        "several signals",
    );
  }
  // Parsed from JSON, so it is a JsonValue by construction.
  return ok({ type: "signal", to: obj.to, payload: obj.payload as JsonValue });
}

function parseLinks(obj: JsonObject): ParseResult {
  const extra = unknownField(obj, ["type", "links"]);
  if (extra) return extra;
  const links = obj.links;
  if (!isObject(links)) {
    return fail("bad-message", '"links" must be an object of peer id -> link state');
  }
  const entries = Object.entries(links);
  if (entries.length > MAX_LINKS) {
    return fail(
      "bad-message",
      `"links" has ${entries.length} entries; at most ${MAX_LINKS} are allowed`,
    );
  }
  for (const [peer, state] of entries) {
    if (!isPeerId(peer)) {
      return fail("bad-message", `"links" key ${show(peer)} is not a peer id`);
    }
    if (!isLinkState(state)) {
      return fail(
        "bad-message",
        `"links" value for ${peer} must be one of ${LINK_STATES.join(", ")}`,
      );
    }
  }
  // fromEntries defines own properties, so no key can reach a prototype (keys are ids anyway).
  return ok({ type: "links", links: Object.fromEntries(entries) as Record<PeerId, LinkState> });
}

function parsePing(obj: JsonObject): ParseResult {
  const extra = unknownField(obj, ["type", "t"]);
  if (extra) return extra;
  if (!Object.hasOwn(obj, "t")) return ok({ type: "ping" });
  if (!isFiniteNumber(obj.t)) return fail("bad-message", '"t" must be a finite number');
  return ok({ type: "ping", t: obj.t });
}

function parseLeave(obj: JsonObject): ParseResult {
  return unknownField(obj, ["type"]) ?? ok({ type: "leave" });
}

/** A Map, not an object literal, so types like "constructor" or "__proto__" find nothing. */
const CLIENT_PARSERS = new Map<string, (obj: JsonObject) => ParseResult>([
  ["join", parseJoin],
  ["signal", parseSignal],
  ["links", parseLinks],
  ["ping", parsePing],
  ["leave", parseLeave],
]);

/** Validates one inbound frame. Never throws, whatever the input (string or binary). */
export function parseClientMessage(frame: string | ArrayBuffer | Blob | Uint8Array): ParseResult {
  try {
    return parseFrame(frame);
  } catch {
    // Not expected to happen (every step above is total); kept so a bug here drops one message
    // with an error frame instead of killing the socket handler.
    return fail("internal", "the message could not be checked; it was ignored");
  }
}

function parseFrame(frame: unknown): ParseResult {
  if (typeof frame !== "string") {
    return fail("binary-frame", "send JSON as text frames; binary frames are not accepted");
  }
  // Before JSON.parse, so an oversized frame costs no parsing.
  if (!fitsUtf8(frame, MAX_FRAME_BYTES)) {
    return fail("too-large", `the frame exceeds ${MAX_FRAME_BYTES} bytes (64 KiB)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return fail("bad-json", "the frame is not valid JSON; send one JSON object per frame");
  }
  if (!isObject(value)) {
    return fail("bad-message", 'the frame must be a JSON object with a "type" field');
  }
  if (!Object.hasOwn(value, "type")) return fail("bad-message", 'the object needs a "type" field');
  if (!isString(value.type)) return fail("bad-message", '"type" must be a string');
  const parse = CLIENT_PARSERS.get(value.type);
  if (!parse) {
    return fail(
      "unknown-type",
      `unknown message type ${show(value.type)}; expected one of ${
        [...CLIENT_PARSERS.keys()].join(", ")
      }`,
    );
  }
  return parse(value);
}

// ---------------------------------------------------------------------------------------------
// Server message validation (browser side)

function isLinkMap(value: unknown): value is Record<PeerId, LinkState> {
  return isObject(value) && Object.values(value).every(isLinkState);
}

function isRoomView(value: unknown): value is RoomView {
  return isObject(value) && isString(value.id) && isFiniteNumber(value.capacity) &&
    isBoolean(value.locked) && (value.host === null || isString(value.host));
}

function isMemberView(value: unknown): value is MemberView {
  return isObject(value) && isString(value.peer) && isString(value.name) &&
    isFiniteNumber(value.joinedAt) && isBoolean(value.connected) && isLinkMap(value.links);
}

function isMemberList(value: unknown): value is MemberView[] {
  return Array.isArray(value) && value.every(isMemberView);
}

function isSessionConfig(value: unknown): value is SessionConfig {
  return isObject(value) && isFiniteNumber(value.linkDeadlineMs) &&
    isFiniteNumber(value.graceMs) && isFiniteNumber(value.heartbeatMs);
}

/** Shape checks per type. Extra fields are tolerated: a newer server may add some. */
const SERVER_CHECKS = new Map<string, (obj: JsonObject) => boolean>([
  ["welcome", (m) =>
    m.v === PROTOCOL_VERSION && isString(m.peer) && isString(m.token) &&
    isBoolean(m.resumed) && isRoomView(m.room) && isMemberList(m.members) &&
    isSessionConfig(m.config)],
  ["roster", (m) => isRoomView(m.room) && isMemberList(m.members)],
  ["signal", (m) => isString(m.from) && Object.hasOwn(m, "payload")],
  ["pong", (m) => !Object.hasOwn(m, "t") || isFiniteNumber(m.t)],
  ["error", (m) =>
    (ERROR_CODES as readonly unknown[]).includes(m.code) && isString(m.message) &&
    isBoolean(m.fatal)],
  ["evicted", (m) => (EVICTION_CODES as readonly unknown[]).includes(m.code) && isString(m.reason)],
]);

/**
 * Reads one frame from the server. Null for anything that is not a well-formed server message;
 * the client ignores those. Does not defend against a hostile server, only against garbage.
 */
export function parseServerMessage(text: string): ServerMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || !isString(value.type)) return null;
  const check = SERVER_CHECKS.get(value.type);
  // Checked just above, so the cast only narrows to the union the check vouched for.
  return check && check(value) ? value as unknown as ServerMessage : null;
}
