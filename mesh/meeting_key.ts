/**
 * The meeting key and the link that carries it: `https://host/<room>#<key>`.
 *
 * The key sits in the URL's fragment, which browsers never send to a server (not in the request,
 * not in `Referer`), so the signaling server relays sealed signals it cannot read or forge
 * (`seal.ts`). Whoever has the whole link has the key; whoever has only the room id (the server,
 * its logs, a proxy) has not. Browser-safe: no DOM, WebCrypto's CSPRNG only.
 *
 * **128 bits.** A key is 16 random bytes, 22 base64url characters, so a link stays short enough
 * to paste into a chat or read over the phone (a room id is 24 characters). 128 bits is beyond
 * any brute force, and `seal.ts` derives the AES key from the key *and* the room id, so an
 * attacker holding many rooms' traffic cannot test one guess against all of them at once
 * (no multi-target speed-up). 256 bits would add 21 characters for no practical gain.
 */
import { isRoomId, parseRoomInput } from "../signaling/room_id.ts";
import { decodeBase64url, encodeBase64url } from "./base64url.ts";

/** Random bytes in a meeting key: 128 bits. */
export const MEETING_KEY_BYTES = 16;
/** Characters of a meeting key as written in links: unpadded base64url of 16 bytes. */
export const MEETING_KEY_LENGTH = 22;

const KEY_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${MEETING_KEY_LENGTH}}$`);
/** Longer pasted text is not a link of ours (parseRoomInput has the same bound). */
const MAX_LINK_LENGTH = 2048;

/**
 * A new meeting key from the platform's CSPRNG, as it goes into the link's fragment.
 *
 * @example
 * ```ts
 * const key = newMeetingKey(); // e.g. "q3J0_zH8aLw-X1b2c3d4eQ", 22 characters
 * location.hash = key;
 * ```
 */
export function newMeetingKey(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(MEETING_KEY_BYTES)));
}

/** A parsed meeting key, or why the fragment holds none. */
export type MeetingKeyResult =
  | { ok: true; key: string; bytes: Uint8Array }
  | { ok: false; reason: "missing" | "malformed" };

/**
 * Reads the key from a link's fragment (`location.hash`, with or without its `#`). Only the exact
 * form `newMeetingKey` writes is a key: anything shorter, longer or with another character is
 * `malformed`, which the UI shows as "this link is incomplete" (a link cut short in a chat).
 *
 * @example
 * ```ts
 * const parsed = parseMeetingKey(location.hash);
 * if (!parsed.ok) showIncompleteLink(parsed.reason); // "missing" or "malformed"
 * else sealer = await Sealer.create({ key: parsed.bytes, room });
 * ```
 */
export function parseMeetingKey(fragment: string): MeetingKeyResult {
  if (typeof fragment !== "string") return { ok: false, reason: "malformed" };
  const key = fragment.startsWith("#") ? fragment.slice(1) : fragment;
  if (key.length === 0) return { ok: false, reason: "missing" };
  if (!KEY_PATTERN.test(key)) return { ok: false, reason: "malformed" };
  // 22 characters carry 132 bits: the last 4 must be zero, or two spellings would share one key.
  const bytes = decodeBase64url(key);
  if (bytes === null || bytes.length !== MEETING_KEY_BYTES) {
    return { ok: false, reason: "malformed" };
  }
  return { ok: true, key, bytes };
}

/**
 * The link to share: the page of `room` on `origin`, with the key in the fragment.
 * Throws (a mistake in the caller, never input from a person) unless all three are valid.
 *
 * @example
 * ```ts
 * meetingLink("https://meet.example.com", "k3fq-9xmp-2hdw-7rtc-a4ze", newMeetingKey());
 * // "https://meet.example.com/k3fq-9xmp-2hdw-7rtc-a4ze#q3J0_zH8aLw-X1b2c3d4eQ"
 * ```
 */
export function meetingLink(origin: string, room: string, key: string): string {
  const base = originOf(origin);
  if (base === null) {
    throw new TypeError(
      `meetingLink: "${origin}" is not an origin; pass location.origin (scheme, host, port only)`,
    );
  }
  if (!isRoomId(room)) {
    throw new TypeError(`meetingLink: "${room}" is not a room id; pass one from newRoomId()`);
  }
  if (!parseMeetingKey(key).ok) {
    throw new TypeError("meetingLink: the key is not a meeting key; pass one from newMeetingKey()");
  }
  return `${base.origin}/${room}#${key}`;
}

/** What a person pasted into "Join", read as a meeting link. */
export type MeetingLinkResult =
  | { ok: true; room: string; key: string; bytes: Uint8Array }
  | {
    ok: false;
    /**
     * - `bare-room`: only a room id, no link and no key: ask for the whole link.
     * - `no-key`: a link to the room without its `#key` (cut before the `#`, or an old link).
     * - `bad-key`: a link to the room whose key is cut short or damaged.
     * - `other-origin`: a meeting link, but to another server than `expectedOrigin`.
     * - `malformed`: not a meeting link at all.
     */
    reason: "bare-room" | "no-key" | "bad-key" | "other-origin" | "malformed";
    /** The room, when one could be read (every reason but `malformed`). */
    room?: string;
  };

/**
 * Reads a meeting link a person pasted or typed: `https://host/<room>#<key>`, also without the
 * scheme (`host/<room>#<key>`), as a path (`/<room>#<key>`) or as `<room>#<key>`. The room id is
 * read as `parseRoomInput` reads it (any case, dashes optional); the key must be exact. Spaces
 * around it, surrounding `<>` or quotes, and punctuation a sentence put after it (`.`, `,`, `)`)
 * are ignored: no room id or key ends with those.
 *
 * With `expectedOrigin` (the page's `location.origin`), a link to another server is
 * `other-origin`, so the page can say so instead of joining a meeting of the same id here.
 *
 * @example
 * ```ts
 * const link = parseMeetingLink(input.value, location.origin);
 * if (link.ok) location.assign(meetingLink(location.origin, link.room, link.key));
 * else if (link.reason === "bare-room") say("Paste the whole link: the part after # is its key.");
 * ```
 */
export function parseMeetingLink(text: string, expectedOrigin?: string): MeetingLinkResult {
  const malformed = { ok: false, reason: "malformed" } as const;
  if (typeof text !== "string" || text.length > MAX_LINK_LENGTH) return malformed;
  const expected = expectedOrigin === undefined ? null : originOf(expectedOrigin);
  if (expectedOrigin !== undefined && expected === null) {
    throw new TypeError(
      `parseMeetingLink: "${expectedOrigin}" is not an origin; pass location.origin`,
    );
  }
  const trimmed = unwrap(text);
  if (trimmed.length === 0) return malformed;

  const hashAt = trimmed.indexOf("#");
  const head = hashAt === -1 ? trimmed : trimmed.slice(0, hashAt);
  const fragment = hashAt === -1 ? null : trimmed.slice(hashAt + 1);

  let room: string | null;
  let bare = false;
  let otherOrigin = false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(head)) {
    const url = urlOf(head);
    if (url === null) return malformed;
    room = roomOfPath(url.pathname);
    otherOrigin = expected !== null && url.origin !== expected.origin;
  } else if (head.startsWith("/")) {
    room = roomOfPath(head.split("?")[0]);
  } else if (head.includes("/")) {
    // `host/<room>` without a scheme: the scheme is unknown, so only the host is compared.
    const url = urlOf(`https://${head}`);
    if (url === null) return malformed;
    room = roomOfPath(url.pathname);
    otherOrigin = expected !== null && url.host !== expected.host;
  } else {
    room = parseRoomInput(head);
    bare = true;
  }
  if (room === null) return malformed;
  if (otherOrigin) return { ok: false, reason: "other-origin", room };
  if (fragment === null) return { ok: false, reason: bare ? "bare-room" : "no-key", room };
  const key = parseMeetingKey(fragment);
  if (!key.ok) return { ok: false, reason: key.reason === "missing" ? "no-key" : "bad-key", room };
  return { ok: true, room, key: key.key, bytes: key.bytes };
}

/** Trims spaces, one pair of `<>` or quotes around a link, and sentence punctuation after it. */
function unwrap(text: string): string {
  let t = text.trim();
  const pairs: Record<string, string> = { "<": ">", '"': '"', "'": "'", "“": "”", "(": ")" };
  const close = pairs[t[0]];
  if (close !== undefined && t.endsWith(close) && t.length >= 2) t = t.slice(1, -1).trim();
  return t.replace(/[.,;:!?)\]}>'"”’]+$/u, "");
}

/** The room id of a meeting page's path (`/<room>` or `/<room>/`), or null. */
function roomOfPath(pathname: string): string | null {
  const segments = pathname.split("/").filter(Boolean);
  if (segments.length !== 1) return null;
  let segment: string;
  try {
    segment = decodeURIComponent(segments[0]);
  } catch {
    return null;
  }
  // parseRoomInput reads a segment with a slash as a path of its own.
  return segment.includes("/") ? null : parseRoomInput(segment);
}

function urlOf(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** `origin` as an http(s) origin with nothing after it (a trailing slash allowed), or null. */
function originOf(origin: string): URL | null {
  const url = typeof origin === "string" ? urlOf(origin) : null;
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) return null;
  if (url.origin !== origin.replace(/\/$/, "")) return null;
  return url;
}
