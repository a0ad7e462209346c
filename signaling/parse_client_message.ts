/**
 * Validation of every frame a client sends (PROTOCOL.md, "Frames and limits"): size, JSON, shape,
 * types and lengths, in the documented order, with an error code and a message that says what to
 * fix. Total: whatever the input, it answers and never throws. Used by the server; browser-safe.
 */
import {
  FORBIDDEN_IN_NAME,
  isBoolean,
  isFiniteNumber,
  isLinkState,
  isObject,
  isString,
  type JsonObject,
} from "./json_guards.ts";
import {
  MAX_CARD_BYTES,
  MAX_CARD_DEPTH,
  MAX_FRAME_BYTES,
  MAX_KNOCK_BYTES,
  MAX_LINKS,
  MAX_NAME_LENGTH,
  MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_DEPTH,
  MAX_TOKEN_LENGTH,
  SECRET_PATTERN,
} from "./limits.ts";
import {
  type ClientMessage,
  type ErrorCode,
  type JoinMessage,
  type JsonValue,
  type MuteKind,
  PEER_ID_PATTERN,
  PROTOCOL_VERSION,
  TOKEN_PATTERN,
} from "./protocol.ts";
import { LINK_STATES, type LinkState, type PeerId } from "./types.ts";

function isPeerId(value: unknown): value is PeerId {
  return typeof value === "string" && PEER_ID_PATTERN.test(value);
}

/** A client-chosen string quoted for an error message: escaped, and short so it is never echoed in bulk. */
function show(value: string): string {
  return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
}

// ---------------------------------------------------------------------------------------------
// Sizes

/**
 * Scratch space of `fitsUtf8`, one per isolate: parsing is synchronous, so two calls never share
 * it, and a frame costs no allocation for its size check.
 */
const SCRATCH = new Uint8Array(MAX_FRAME_BYTES);
const encoder = new TextEncoder();

/**
 * Whether `text` takes at most `maxBytes` in UTF-8. A UTF-16 code unit takes 1 to 3 bytes, so
 * length alone settles most cases; only in between is the text encoded, into a fixed buffer that
 * stops filling at the limit, so an oversized frame costs no large allocation.
 */
function fitsUtf8(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return false;
  if (text.length * 3 <= maxBytes) return true;
  const { read } = encoder.encodeInto(text, SCRATCH.subarray(0, maxBytes));
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

/** A validated client message, or the error code and a message saying what to fix. */
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

/** The display name as stored and shown, or an error message saying what to fix. */
function normalizeName(raw: string): { ok: true; name: string } | {
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
  const extra = unknownField(obj, ["type", "v", "name", "resume", "secret", "card"]);
  if (extra) return extra;
  // Optional: clients that seal names end to end (the browser's) send none; the server then
  // knows members by their opaque peer ids only.
  let name = "";
  if (Object.hasOwn(obj, "name")) {
    if (!isString(obj.name)) return fail("bad-message", '"name" must be a string');
    const normalized = normalizeName(obj.name);
    if (!normalized.ok) return fail("bad-message", normalized.message);
    name = normalized.name;
  }
  const message: JoinMessage = { type: "join", v: PROTOCOL_VERSION, name };
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
  if (Object.hasOwn(obj, "secret")) {
    if (!isString(obj.secret) || !SECRET_PATTERN.test(obj.secret)) {
      return fail(
        "bad-message",
        '"secret" must be this browser\'s meeting secret: 22 to 64 characters of A-Z a-z 0-9 _ -',
      );
    }
    message.secret = obj.secret;
  }
  if (Object.hasOwn(obj, "card")) {
    const problem = cardProblem(obj.card);
    if (problem) return problem;
    message.card = obj.card as JsonValue;
  }
  return ok(message);
}

/**
 * Why a `join.card` is refused, or null. Opaque to the server (the browser's is a sealed
 * envelope), but an object, shallow and small: every member's card goes to everyone who asks
 * who is in the room, so the server must not become a store of arbitrary blobs.
 */
function cardProblem(card: unknown): ParseResult | null {
  if (!isObject(card)) {
    return fail("bad-message", '"card" must be a JSON object (the browser sends its sealed name)');
  }
  if (nestedDeeperThan(card, MAX_CARD_DEPTH)) {
    return fail("bad-message", `"card" is nested deeper than ${MAX_CARD_DEPTH} levels; flatten it`);
  }
  if (!fitsUtf8(JSON.stringify(card), MAX_CARD_BYTES)) {
    return fail(
      "too-large",
      `"card" exceeds ${MAX_CARD_BYTES} bytes (1 KiB) as JSON; send only a sealed name`,
    );
  }
  return null;
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

/**
 * Deepest nesting of a knock's payload: the browser's is a sealed envelope (an object of
 * strings, 1 or 2 levels); a few more leave room without inviting deep structures.
 */
const MAX_KNOCK_DEPTH = 4;

function parseKnock(obj: JsonObject): ParseResult {
  const extra = unknownField(obj, ["type", "payload"]);
  if (extra) return extra;
  if (!Object.hasOwn(obj, "payload")) return fail("bad-message", '"knock" needs a "payload"');
  if (nestedDeeperThan(obj.payload, MAX_KNOCK_DEPTH)) {
    return fail(
      "bad-message",
      `"payload" of "knock" is nested deeper than ${MAX_KNOCK_DEPTH} levels; flatten it`,
    );
  }
  if (!fitsUtf8(JSON.stringify(obj.payload), MAX_KNOCK_BYTES)) {
    return fail(
      "too-large",
      `"payload" of "knock" exceeds ${MAX_KNOCK_BYTES} bytes (2 KiB) as JSON; send only a ` +
        "sealed name",
    );
  }
  return ok({ type: "knock", payload: obj.payload as JsonValue });
}

const PEER_ID_RULE = "a peer id (16 characters of A-Z a-z 0-9 _ -)";

/** A required field of a host action: present and of the right kind, or what to send instead. */
function required(obj: JsonObject, field: string, kind: "boolean" | "peer"): string | null {
  const value = obj[field];
  if (!Object.hasOwn(obj, field)) {
    return `"${obj.type}" needs "${field}": ${kind === "boolean" ? "true or false" : PEER_ID_RULE}`;
  }
  if (kind === "boolean" ? isBoolean(value) : isPeerId(value)) return null;
  return `"${field}" must be ${kind === "boolean" ? "true or false" : PEER_ID_RULE}`;
}

/**
 * A host action with exactly `fields` (each a boolean or a peer id), or the error. The host rule
 * itself is the hub's and the store's: here only the shape is checked.
 */
function hostAction(
  obj: JsonObject,
  fields: Record<string, "boolean" | "peer">,
  build: () => ClientMessage,
): ParseResult {
  const extra = unknownField(obj, ["type", ...Object.keys(fields)]);
  if (extra) return extra;
  for (const [field, kind] of Object.entries(fields)) {
    const problem = required(obj, field, kind);
    if (problem) return fail("bad-message", problem);
  }
  return ok(build());
}

const MUTE_KINDS: readonly MuteKind[] = ["audio", "video", "screen"];

function parseMute(obj: JsonObject): ParseResult {
  const extra = unknownField(obj, ["type", "peer", "what"]);
  if (extra) return extra;
  if (obj.peer !== "all" && !isPeerId(obj.peer)) {
    return fail("bad-message", `"peer" must be "all" or ${PEER_ID_RULE}`);
  }
  const what = MUTE_KINDS.find((kind) => kind === obj.what);
  if (what === undefined) {
    return fail("bad-message", `"what" must be one of ${MUTE_KINDS.join(", ")}`);
  }
  return ok({ type: "mute", peer: obj.peer, what });
}

/** A Map, not an object literal, so types like "constructor" or "__proto__" find nothing. */
const CLIENT_PARSERS = new Map<string, (obj: JsonObject) => ParseResult>([
  ["join", parseJoin],
  ["signal", parseSignal],
  ["links", parseLinks],
  ["ping", parsePing],
  ["leave", parseLeave],
  ["knock", parseKnock],
  ["lock", (o) =>
    hostAction(o, { locked: "boolean" }, () => ({
      type: "lock",
      locked: o.locked as boolean,
    }))],
  [
    "lobby",
    (o) => hostAction(o, { on: "boolean" }, () => ({ type: "lobby", on: o.on as boolean })),
  ],
  ["admit", (o) =>
    hostAction(o, { knock: "peer", allow: "boolean" }, () => ({
      type: "admit",
      knock: o.knock as PeerId,
      allow: o.allow as boolean,
    }))],
  [
    "remove",
    (o) => hostAction(o, { peer: "peer" }, () => ({ type: "remove", peer: o.peer as PeerId })),
  ],
  ["role", (o) =>
    hostAction(o, { peer: "peer", host: "boolean" }, () => ({
      type: "role",
      peer: o.peer as PeerId,
      host: o.host as boolean,
    }))],
  ["mute", parseMute],
  ["end", (o) => hostAction(o, {}, () => ({ type: "end" }))],
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
