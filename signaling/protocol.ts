/**
 * The signaling wire protocol, version 1: message shapes, limits, error codes, encoding, and the
 * browser's check of server messages. Specified in PROTOCOL.md. Browser-safe (no Deno APIs): the
 * browser client imports the types, the constants, `parseServerMessage` and `clientMessage` from
 * here. The server validates client frames with `parse_client_message.ts`.
 */
import {
  isBoolean,
  isFiniteNumber,
  isLinkState,
  isObject,
  isString,
  type JsonObject,
} from "./json_guards.ts";
import { MAX_TOKEN_LENGTH } from "./limits.ts";
import type { LinkState, Member, PeerId, RemovalReason, RoomMeta } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * The limits a client must stay within, defined with every other limit in limits.ts and
 * re-exported here so the browser (and tests) find them with the protocol they belong to.
 */
export {
  MAX_CARD_BYTES,
  MAX_FRAME_BYTES,
  MAX_KNOCK_BYTES,
  MAX_LINKS,
  MAX_NAME_LENGTH,
  MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
  SECRET_PATTERN,
} from "./limits.ts";

/** The version `join` carries and `welcome` answers with (PROTOCOL.md, "Versioning"). */
export const PROTOCOL_VERSION = 1;
/** Server-assigned ids: 16 base64url characters (96 random bits). */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
/** Resume tokens are opaque to the client, but restricted so they are safe in logs and URLs. */
export const TOKEN_PATTERN = new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_TOKEN_LENGTH}}$`);

/** Code for the close after a `leave` (or when the client closes on purpose). */
export const CLOSE_NORMAL = 1000;

// ---------------------------------------------------------------------------------------------
// Messages

/** What a signal payload may be: any JSON value. Opaque to the server. */
export type JsonValue = null | boolean | number | string | JsonValue[] | {
  [key: string]: JsonValue;
};

/** Client -> server: the first message, to join as a new member or `resume` an earlier place. */
export interface JoinMessage {
  type: "join";
  v: typeof PROTOCOL_VERSION;
  /**
   * The display name, or "" when the client sent none: the browser sends none and seals names
   * end to end instead (mesh/session.ts), so rosters carry "" for its members.
   */
  name: string;
  /** The token from an earlier `welcome`, to take the same place (peer id) again. */
  resume?: string;
  /**
   * This browser's secret for this meeting (`SECRET_PATTERN`), kept in the browser and never in
   * the link; the server stores only its hash. It makes the meeting's creator its host, lets a
   * host who reloads take the role back, and is what a removal bans (PROTOCOL.md, "Roles").
   */
  secret?: string;
  /**
   * What people about to join may see of this member (`GET /api/rooms/{room}`), opaque to the
   * server: the browser seals `{ name }` with the meeting key (mesh/member_card.ts). At most
   * `MAX_CARD_BYTES` as JSON. Kept with the member until it leaves; a resume keeps the first.
   */
  card?: JsonValue;
}
/** Client -> server: a WebRTC negotiation message for one other member, opaque to the server. */
export interface SignalMessage {
  type: "signal";
  to: PeerId;
  payload: JsonValue;
}
/** Client -> server: the sender's view of its link to each other member (full-mesh guarantee). */
export interface LinksMessage {
  type: "links";
  links: Record<PeerId, LinkState>;
}
/** Client -> server: answered with `pong` carrying the same `t`. */
export interface PingMessage {
  type: "ping";
  t?: number;
}
/** Client -> server: leave the room now, without a grace period. */
export interface LeaveMessage {
  type: "leave";
}
/** Client -> server, from a socket waiting in the lobby only: who is knocking, sealed. */
export interface KnockMessage {
  type: "knock";
  /** Opaque to the server (the browser seals `{name}` with the meeting key); at most `MAX_KNOCK_BYTES`. */
  payload: JsonValue;
}
/** Client -> server, hosts only: refuse (or again accept) new joiners. */
export interface LockMessage {
  type: "lock";
  locked: boolean;
}
/** Client -> server, hosts only: newcomers wait in the lobby until a host admits them. Off admits everyone waiting. */
export interface LobbyMessage {
  type: "lobby";
  on: boolean;
}
/** Client -> server, hosts only: let a knocking newcomer in, or turn them away. */
export interface AdmitMessage {
  type: "admit";
  knock: PeerId;
  allow: boolean;
}
/** Client -> server, hosts only: remove a member (not a host) for the rest of the meeting. */
export interface RemoveMessage {
  type: "remove";
  peer: PeerId;
}
/** Client -> server, hosts only: make a member a host, or not (never the last host). */
export interface RoleMessage {
  type: "role";
  peer: PeerId;
  host: boolean;
}
/** What a host may ask a member to turn off. */
export type MuteKind = "audio" | "video" | "screen";
/** Client -> server, hosts only: ask one member, or everyone but the hosts, to turn something off. */
export interface MuteMessage {
  type: "mute";
  peer: PeerId | "all";
  what: MuteKind;
}
/** Client -> server, hosts only: end the meeting for everyone; the room id cannot be used for a while. */
export interface EndMessage {
  type: "end";
}
/** The messages only hosts may send. */
export type HostAction =
  | LockMessage
  | LobbyMessage
  | AdmitMessage
  | RemoveMessage
  | RoleMessage
  | MuteMessage
  | EndMessage;
/** Every message a client may send. */
export type ClientMessage =
  | JoinMessage
  | SignalMessage
  | LinksMessage
  | PingMessage
  | LeaveMessage
  | KnockMessage
  | HostAction;

/** Server -> client: why a member is gone, kept in the room view for a while (`MAX_REMOVALS`). */
export interface RemovalView {
  peer: PeerId;
  /** `kicked` (by a host) or `mesh-incomplete` (the full-mesh guarantee). */
  code: "kicked" | "mesh-incomplete";
  /** The host who removed it, or null. */
  by: PeerId | null;
  /** For `mesh-incomplete`: the members it could not connect to. */
  unreachable: PeerId[];
  at: number;
}
/**
 * Server -> client: why a member left without being removed, kept in the room view for a while
 * (`MAX_DEPARTURES`). `connection-lost`: its connection was gone longer than the grace period.
 * A member who left on purpose is not listed (`leave`). Clients ignore reasons they do not know.
 */
export interface DepartureView {
  peer: PeerId;
  /** `connection-lost` (the only one this server writes; a newer one may add others). */
  reason: string;
  at: number;
}
/**
 * Server -> client: the room as members see it. `host` is the first of `hosts` (or null), kept
 * for older clients.
 */
export type RoomView = Pick<RoomMeta, "id" | "capacity" | "locked" | "host"> & {
  /** Every host, in the order they became one. */
  hosts: PeerId[];
  /** Whether newcomers wait in the lobby. */
  lobby: boolean;
  /** Recent removals, newest last. */
  removals: RemovalView[];
  /** Recent departures that were no removal, with their reason, newest last (absent: none). */
  departures?: DepartureView[];
};
/** Server -> hosts only: a newcomer waiting in the lobby. */
export interface KnockView {
  /** The peer id the newcomer will have once admitted; its knock is sealed as from this id. */
  id: PeerId;
  /** As the newcomer sent it (sealed), or null before its `knock` arrives. */
  payload: JsonValue | null;
  /** When it started waiting (server clock). */
  at: number;
}
/** Server -> client: one member as the others see it. */
export type MemberView = Pick<Member, "peer" | "name" | "joinedAt" | "connected"> & {
  /** The member's own report of its links to the others. */
  links: Record<PeerId, LinkState>;
};
/** Server -> client: the timings a client needs, sent with `welcome`. */
export interface SessionConfig {
  /** Time to connect to everyone before `mesh-incomplete` eviction (PROTOCOL.md, "Full-mesh guarantee"). */
  linkDeadlineMs: number;
  /** How long a dropped member keeps its place and may resume. */
  graceMs: number;
  /** Server heartbeat interval; a client may `ping` this often to notice a dead connection. */
  heartbeatMs: number;
}
/** Server -> client: the answer to a successful `join`. */
export interface WelcomeMessage {
  type: "welcome";
  v: typeof PROTOCOL_VERSION;
  peer: PeerId;
  token: string;
  resumed: boolean;
  room: RoomView;
  members: MemberView[];
  config: SessionConfig;
  /** Hosts only: who is waiting in the lobby. */
  knocks?: KnockView[];
  /** Hosts only: links whose two ends disagree (PROTOCOL.md, "Full-mesh guarantee"). */
  disputes?: [PeerId, PeerId][];
}
/** Server -> client: the whole room after any change; replaces the previous one. */
export interface RosterMessage {
  type: "roster";
  room: RoomView;
  members: MemberView[];
  /** Hosts only, as in `welcome`. */
  knocks?: KnockView[];
  /** Hosts only, as in `welcome`. */
  disputes?: [PeerId, PeerId][];
}
/**
 * Server -> client: the answer to a `join` while the lobby is on. The socket waits; it may send
 * only `knock` (once), `ping` and `leave` until a host decides: then `welcome`, or `denied`.
 */
export interface WaitingMessage {
  type: "waiting";
  /** The peer id this newcomer will have; seal the knock as from it. */
  knock: PeerId;
}
/** Server -> client: a host turned something of ours off (unmuting stays our own choice). */
export interface MutedMessage {
  type: "muted";
  what: MuteKind;
  /** The host who asked. */
  by: PeerId;
}
/** Server -> client: another member's `signal`, payload as sent. */
export interface SignalDelivery {
  type: "signal";
  from: PeerId;
  payload: JsonValue;
}
/** Server -> client: the answer to `ping`. */
export interface PongMessage {
  type: "pong";
  t?: number;
}
/** Server -> client: an input was refused; `fatal` ones are followed by a close. */
export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  message: string;
  fatal: boolean;
  /**
   * For errors about one signal (`unknown-peer`, `relay-busy`, `relay-failed`): its recipient,
   * so a client can redo what that link needs instead of showing the error.
   */
  to?: string;
}
/** Server -> client: the member was removed; a close follows. */
export interface EvictedMessage {
  type: "evicted";
  code: EvictionCode;
  reason: string;
  /** For `kicked` and `ended`: the host who did it. */
  by?: PeerId;
  /** For `mesh-incomplete`: the members we could not connect to. */
  unreachable?: PeerId[];
}
/**
 * `GET /api/rooms/{room}`: who is in a room, for people about to join (PROTOCOL.md, "Room
 * info"). Counts and flags only, and each member's `card` as sealed: the server knows no names.
 */
export interface RoomInfo {
  /** Members holding a place (those reconnecting included): what capacity counts. */
  members: number;
  capacity: number;
  /** `members >= capacity`: a fresh join now gets `room-full`. */
  full: boolean;
  /** A host locked the room: a fresh join gets `room-locked` (a host's reclaim still gets in). */
  locked: boolean;
  /** Fresh joins wait in the lobby until a host lets them in. */
  lobby: boolean;
  /** A host ended the meeting: every join gets `room-ended`. */
  ended: boolean;
  /** One per member, in join order: its `join.card` as sent, or null without one. */
  cards: (JsonValue | null)[];
}
/** Every message a server may send. */
export type ServerMessage =
  | WelcomeMessage
  | RosterMessage
  | SignalDelivery
  | PongMessage
  | ErrorMessage
  | EvictedMessage
  | WaitingMessage
  | MutedMessage;

// ---------------------------------------------------------------------------------------------
// Errors and evictions

/** Every error code, in the order of PROTOCOL.md's table. */
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
  "relay-busy",
  "relay-failed",
  "forbidden",
  "room-full",
  "room-locked",
  "join-limited",
  "create-limited",
  "denied",
  "removed",
  "room-ended",
  "resume-failed",
  "unsupported-version",
  "slow-consumer",
  "internal",
] as const;
/** Why an input was refused (`ERRORS` says what each means). */
export type ErrorCode = typeof ERROR_CODES[number];

/** What an error code means for the connection and for the person. */
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
  "relay-busy": {
    fatal: false,
    closeCode: 4010,
    hint: "The server is busy relaying your earlier signals, so this one was not sent. Send it " +
      "again in a moment.",
  },
  "relay-failed": {
    fatal: false,
    closeCode: 4011,
    hint: "The server could not pass a signal on to that participant (its store failed), so " +
      "it was not delivered. Send it again; if it keeps failing, rejoin.",
  },
  forbidden: {
    fatal: false,
    closeCode: 4014,
    hint: "Only a host can do that (or, while you wait in the lobby, only knock). Nothing changed.",
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
  "join-limited": {
    fatal: true,
    closeCode: 4012,
    hint: "Too many people joined meetings from your network address in the last minute. " +
      "Wait a minute, then rejoin.",
  },
  "create-limited": {
    fatal: true,
    closeCode: 4013,
    hint: "Too many new meetings were started from your network address in the last minute. " +
      "Wait a minute and try again, or join a meeting that has already started.",
  },
  denied: {
    fatal: true,
    closeCode: 4015,
    hint: "A host did not let you into this meeting. Ask them for another invitation.",
  },
  removed: {
    fatal: true,
    closeCode: 4016,
    hint: "A host removed you from this meeting, so you cannot rejoin it.",
  },
  "room-ended": {
    fatal: true,
    closeCode: 4017,
    hint: "A host ended this meeting for everyone. Start a new meeting to meet again.",
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
export type EvictionCode = Exclude<RemovalReason, "left"> | "replaced" | "ended";
/** Every eviction code, in the order of PROTOCOL.md's table. */
export const EVICTION_CODES: readonly EvictionCode[] = [
  "mesh-incomplete",
  "heartbeat",
  "grace-expired",
  "kicked",
  "replaced",
  "ended",
];

/** Close code and UI hint of each eviction code. */
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
  kicked: {
    closeCode: 4103,
    hint: "A host removed you from the meeting, so you cannot rejoin it.",
  },
  replaced: {
    closeCode: 4104,
    hint: "This meeting was reopened in another tab or window, so it was closed here.",
  },
  ended: {
    closeCode: 4105,
    hint: "A host ended this meeting for everyone.",
  },
};

/** An error frame whose `fatal` always agrees with ERRORS; `message` defaults to the hint. */
export function errorMessage(
  code: ErrorCode,
  message: string = ERRORS[code].hint,
  to?: string,
): ErrorMessage {
  const error: ErrorMessage = { type: "error", code, message, fatal: ERRORS[code].fatal };
  if (to !== undefined) error.to = to;
  return error;
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

/** Encodes a server message for the wire. */
export function serverMessage(msg: ServerMessage): string {
  return JSON.stringify(msg);
}

/** Encodes a client message for the wire. */
export function clientMessage(msg: ClientMessage): string {
  return JSON.stringify(msg);
}

// ---------------------------------------------------------------------------------------------
// Server message validation (browser side)

function isLinkMap(value: unknown): value is Record<PeerId, LinkState> {
  return isObject(value) && Object.values(value).every(isLinkState);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(isString);
}

function isRemovalView(value: unknown): value is RemovalView {
  return isObject(value) && isString(value.peer) &&
    (value.code === "kicked" || value.code === "mesh-incomplete") &&
    (value.by === null || isString(value.by)) && isStringList(value.unreachable) &&
    isFiniteNumber(value.at);
}

function isDepartureView(value: unknown): value is DepartureView {
  return isObject(value) && isString(value.peer) && isString(value.reason) &&
    isFiniteNumber(value.at);
}

function isRoomView(value: unknown): value is RoomView {
  return isObject(value) && isString(value.id) && isFiniteNumber(value.capacity) &&
    isBoolean(value.locked) && (value.host === null || isString(value.host)) &&
    isStringList(value.hosts) && isBoolean(value.lobby) && Array.isArray(value.removals) &&
    value.removals.every(isRemovalView) &&
    (!Object.hasOwn(value, "departures") ||
      (Array.isArray(value.departures) && value.departures.every(isDepartureView)));
}

function isKnockList(value: unknown): value is KnockView[] {
  return Array.isArray(value) &&
    value.every((k) =>
      isObject(k) && isString(k.id) && Object.hasOwn(k, "payload") && isFiniteNumber(k.at)
    );
}

function isDisputeList(value: unknown): value is [PeerId, PeerId][] {
  return Array.isArray(value) &&
    value.every((d) => Array.isArray(d) && d.length === 2 && isString(d[0]) && isString(d[1]));
}

/** The hosts-only fields of `welcome` and `roster`: absent, or well-formed. */
function hostFields(m: JsonObject): boolean {
  return (!Object.hasOwn(m, "knocks") || isKnockList(m.knocks)) &&
    (!Object.hasOwn(m, "disputes") || isDisputeList(m.disputes));
}

const MUTE_KINDS: readonly unknown[] = ["audio", "video", "screen"];

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
    isSessionConfig(m.config) && hostFields(m)],
  ["roster", (m) => isRoomView(m.room) && isMemberList(m.members) && hostFields(m)],
  ["signal", (m) => isString(m.from) && Object.hasOwn(m, "payload")],
  ["pong", (m) => !Object.hasOwn(m, "t") || isFiniteNumber(m.t)],
  ["error", (m) =>
    (ERROR_CODES as readonly unknown[]).includes(m.code) && isString(m.message) &&
    isBoolean(m.fatal) && (!Object.hasOwn(m, "to") || isString(m.to))],
  [
    "evicted",
    (m) =>
      (EVICTION_CODES as readonly unknown[]).includes(m.code) && isString(m.reason) &&
      (!Object.hasOwn(m, "by") || isString(m.by)) &&
      (!Object.hasOwn(m, "unreachable") || isStringList(m.unreachable)),
  ],
  ["waiting", (m) => isString(m.knock)],
  ["muted", (m) => MUTE_KINDS.includes(m.what) && isString(m.by)],
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
