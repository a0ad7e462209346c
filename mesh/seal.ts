/**
 * Sealing of signaling payloads, so the signaling server is a blind relay: it passes envelopes it
 * can neither read nor forge, and a receiver drops (and counts) anything that does not open.
 * Browser-safe; WebCrypto only (HKDF-SHA256, AES-GCM-256), no hand-written primitives.
 *
 * **Keys.** Every member of a meeting holds the meeting key from the link (`meeting_key.ts`).
 * `Sealer.create` derives one AES-GCM-256 key from it with HKDF-SHA256:
 * salt `SEAL_HKDF_SALT` (fixed, public: HKDF's extract step needs no secret salt), info
 * `["mooz/seal/v1", room]` as JSON text. The room id in `info` gives the same link key another
 * AES key in another room, and keeps an attacker with many rooms' traffic from testing one key
 * guess against all of them at once. The AES key is not extractable.
 *
 * **Envelopes.** `{ v: 1, s, n, iv, ct }`: `s` the sender's session nonce (96 random bits), `n`
 * its sequence number, `iv` a fresh random 96-bit IV, `ct` the AES-GCM ciphertext of the
 * payload's JSON text with its 128-bit tag; strings are unpadded base64url. The associated data,
 * authenticated but not sent, is `["mooz/seal/v1", room, sender, recipient, s, n]` as JSON text:
 * an envelope opens only in its room, from the sender the server names in `from`, at the
 * recipient it was sealed for, with the session and sequence number it carries.
 *
 * **Sequence numbers are per session, not per recipient**: one counter for everything a session
 * seals, so `(s, n)` names one envelope among all of a session's envelopes to everyone, and the
 * sender keeps no state per recipient. A receiver therefore sees gaps (the envelopes sealed for
 * the others, and any the server refused with `relay-busy`), which are fine; it accepts only a
 * number greater than the last it accepted from that sender, because the server relays one
 * sender's signals to one receiver in order. So after `relay-busy`, seal the signal again (it
 * gets a new number): re-sending the refused envelope fails as `replayed` once a later one got
 * through. `seal` and `open` settle in call order, so sending each envelope as it settles keeps
 * the numbers increasing on the wire.
 *
 * **Sessions.** A receiver pins the first session nonce that opened from a peer id; an envelope
 * from the same id with another session is `stale-session`. Peer ids are random per join and a
 * resumed member keeps its page and so its `SealSession`. (If resume tokens are ever kept across
 * page loads, the session nonce and counter must be kept with them.)
 *
 * **IV bound.** With random 96-bit IVs, NIST SP 800-38D (§8.3) allows 2^32 encryptions per key
 * (IV collision chance at most 2^-32). Every member of a meeting shares its AES key, so the bound
 * is per meeting: at the server's rate limit (50 frames a second per member), 64 members sending
 * nothing but signals would take 15 days to get there; a meeting sends a few hundred.
 *
 * **Overhead.** An envelope is its payload's JSON, 16 bytes of tag, base64url (4/3) and
 * `ENVELOPE_FRAME_BYTES` (83) of JSON around it. What fits in the protocol's `MAX_PAYLOAD_BYTES`
 * (32 KiB) is `MAX_SEALED_PAYLOAD_BYTES` (24,497 bytes of payload JSON); `seal` throws a
 * `RangeError` beyond it. An offer or answer is 3 to 10 KB, an ICE candidate about 200 bytes.
 *
 * @example
 * ```ts
 * const sealer = await Sealer.create({ key: parseMeetingKey(location.hash).bytes, room });
 * const session = sealer.session(selfPeerId);
 * signaling.signal(to, await session.seal(to, { sdp: offer }));
 * // on a `signal` delivery:
 * const opened = await session.open(from, payload);
 * if (opened.ok) link.handle(opened.payload);
 * else if (session.untrusted(from)) showCouldNotVerify(from);
 * ```
 */
import { MAX_PAYLOAD_BYTES } from "../signaling/limits.ts";
import { PEER_ID_PATTERN } from "../signaling/protocol.ts";
import { isRoomId } from "../signaling/room_id.ts";
import type { PeerId } from "../signaling/types.ts";
import { base64urlLength, decodeBase64url, encodeBase64url } from "./base64url.ts";
import { MEETING_KEY_BYTES } from "./meeting_key.ts";

/** The envelope version (`v`); the label in the key derivation and the associated data. */
export const SEAL_VERSION = 1;
const LABEL = "mooz/seal/v1";
/** HKDF-SHA256 salt of the sealing key, as UTF-8 text: fixed, public, versioned. */
export const SEAL_HKDF_SALT = "mooz/seal/salt/v1";

/** Random bytes in a session nonce (`s`): 96 bits, 16 base64url characters. */
const SESSION_NONCE_BYTES = 12;
/** AES-GCM IV bytes (`iv`): 96 bits, the size GCM is specified for. */
const IV_BYTES = 12;
/** AES-GCM tag bytes: the full 128 bits. */
const TAG_BYTES = 16;
const SESSION_NONCE_CHARS = base64urlLength(SESSION_NONCE_BYTES);
const IV_CHARS = base64urlLength(IV_BYTES);

/**
 * Bytes of an envelope's JSON besides `ct`'s text, at the longest `s`, `n` and `iv`:
 * `{"v":1,"s":"…16…","n":9007199254740991,"iv":"…16…","ct":""}`.
 */
export const ENVELOPE_FRAME_BYTES = JSON.stringify({
  v: SEAL_VERSION,
  s: "A".repeat(SESSION_NONCE_CHARS),
  n: Number.MAX_SAFE_INTEGER,
  iv: "A".repeat(IV_CHARS),
  ct: "",
}).length;
/** Longest `ct` text that keeps an envelope within `MAX_PAYLOAD_BYTES`. */
const MAX_CT_CHARS = MAX_PAYLOAD_BYTES - ENVELOPE_FRAME_BYTES;
/** Shortest `ct` text: the tag and one byte of JSON (`0`). */
const MIN_CT_CHARS = base64urlLength(TAG_BYTES + 1);
/**
 * Largest payload `seal` takes, as UTF-8 bytes of its JSON text: what fits in the protocol's
 * `MAX_PAYLOAD_BYTES` (32 KiB) once the tag, base64url and the envelope are added (24,497).
 */
export const MAX_SEALED_PAYLOAD_BYTES = Math.floor(MAX_CT_CHARS * 3 / 4) - TAG_BYTES;

/**
 * Failures from one sender, with no envelope of it ever opened, after which `untrusted` says
 * so. Three: a peer with another key (or none) fails on every signal, and sends several at once
 * (an offer and its ICE candidates), so it is flagged within a second; one stray envelope (an
 * old tab's, a forgery) is not enough to flag someone.
 */
export const UNTRUSTED_AFTER = 3;
/**
 * Senders a session keeps records of. A room has at most 64 members and `forget` drops those who
 * left, so this is never reached by a room's members; it bounds the table when the server (not
 * trusted) names thousands of made-up senders. Records of senders never opened go first.
 */
export const MAX_TRACKED_SENDERS = 256;
/** Forgotten senders remembered, so their old envelopes stay refused (`stale-session`). */
export const MAX_CLOSED_SENDERS = 4096;

/** A sealed signal as it travels: the `payload` of a `signal` message. */
export interface SealedEnvelope {
  /** `SEAL_VERSION`. */
  v: typeof SEAL_VERSION;
  /** The sender's session nonce, 16 base64url characters. */
  s: string;
  /** Sequence number within the sender's session, from 1, increasing with every seal. */
  n: number;
  /** The AES-GCM IV, 16 base64url characters. */
  iv: string;
  /** AES-GCM ciphertext and tag of the payload's JSON text, base64url. */
  ct: string;
}

/**
 * Why an envelope was dropped:
 * - `malformed`: not an envelope (shape, types, sizes), or it opened to something not JSON.
 * - `failed`: it does not open: another key or room, tampered, or for another sender or
 *   recipient than the server says.
 * - `replayed`: genuine, but its sequence number is not above the last one accepted from its
 *   sender (a copy, or older than one already accepted).
 * - `stale-session`: genuine, but from another session of a peer id than the one pinned (or a
 *   peer that was forgotten).
 */
export type OpenFailure = "malformed" | "failed" | "replayed" | "stale-session";

/** The result of `SealSession.open`. */
export type OpenResult = { ok: true; payload: unknown } | { ok: false; reason: OpenFailure };

/** What a session has seen from one sender. */
export interface SenderStats {
  /** Envelopes that opened and were accepted. */
  opened: number;
  failed: number;
  malformed: number;
  replayed: number;
  stale: number;
}

/** What `Sealer.create` needs. */
export interface SealerOptions {
  /** The meeting key's bytes (`parseMeetingKey(...).bytes`), at least 16. */
  key: Uint8Array;
  /** The room id, as in the link. */
  room: string;
  /** Failures before `untrusted` (`UNTRUSTED_AFTER` unless set), at least 1. */
  untrustedAfter?: number;
}

const encoder = new TextEncoder();

/**
 * The sealing key of one meeting: derives it once, then hands out sessions.
 *
 * @example
 * ```ts
 * const key = parseMeetingKey(location.hash);
 * if (key.ok) {
 *   const sealer = await Sealer.create({ key: key.bytes, room: "k3fq-9xmp-2hdw-7rtc-a4ze" });
 *   const session = sealer.session(welcome.peer);
 * }
 * ```
 */
export class Sealer {
  readonly #key: CryptoKey;

  private constructor(
    key: CryptoKey,
    /** The room the key is bound to. */
    readonly room: string,
    /** Failures, with nothing opened, before a sender is `untrusted`. */
    readonly untrustedAfter: number,
  ) {
    this.#key = key;
  }

  /**
   * Derives the meeting's AES-GCM-256 sealing key (non-extractable) for `room`. Throws a
   * `TypeError` for a key shorter than 128 bits or a room that is not a room id.
   *
   * @example
   * ```ts
   * const sealer = await Sealer.create({ key: bytes, room: "k3fq-9xmp-2hdw-7rtc-a4ze" });
   * ```
   */
  static async create(options: SealerOptions): Promise<Sealer> {
    const { key, room, untrustedAfter = UNTRUSTED_AFTER } = options;
    if (!(key instanceof Uint8Array) || key.length < MEETING_KEY_BYTES) {
      throw new TypeError(
        `Sealer.create: the key must be at least ${MEETING_KEY_BYTES} bytes; pass ` +
          "parseMeetingKey(location.hash).bytes",
      );
    }
    if (!isRoomId(room)) {
      throw new TypeError(`Sealer.create: "${room}" is not a room id; pass the one in the link`);
    }
    if (!Number.isSafeInteger(untrustedAfter) || untrustedAfter < 1) {
      throw new TypeError("Sealer.create: untrustedAfter must be a whole number, at least 1");
    }
    const base = await crypto.subtle.importKey("raw", new Uint8Array(key), "HKDF", false, [
      "deriveKey",
    ]);
    const aes = await crypto.subtle.deriveKey(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: encoder.encode(SEAL_HKDF_SALT),
        info: encoder.encode(JSON.stringify([LABEL, room])),
      },
      base,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
    return new Sealer(aes, room, untrustedAfter);
  }

  /**
   * A new session for the member `self` (our peer id from `welcome`): a fresh session nonce, a
   * counter from 1, and the receiving state. One per join; keep it across resumes.
   *
   * @example
   * ```ts
   * const session = sealer.session(welcome.peer);
   * ```
   */
  session(self: PeerId): SealSession {
    if (typeof self !== "string" || !PEER_ID_PATTERN.test(self)) {
      throw new TypeError(`Sealer.session: "${self}" is not a peer id; pass welcome.peer`);
    }
    return new SealSession(this.#key, this.room, self, this.untrustedAfter);
  }
}

/** What a session knows of one sender. */
interface SenderRecord extends SenderStats {
  /** The pinned session nonce: the first that opened. Null until one has. */
  session: string | null;
  /** Last accepted sequence number (0: none). */
  lastSeq: number;
}

/**
 * One member's sealing session: seals what it sends, opens what it receives, and keeps per
 * sender the pinned session, the last sequence number and the counts. Create it with
 * `Sealer.session`.
 *
 * @example
 * ```ts
 * const envelope = await session.seal(peer, { candidate });
 * const opened = await session.open(from, delivery.payload);
 * ```
 */
export class SealSession {
  /** This session's nonce, as it appears in the envelopes' `s`. */
  readonly nonce: string = encodeBase64url(
    crypto.getRandomValues(new Uint8Array(SESSION_NONCE_BYTES)),
  );
  #seq = 0;
  readonly #key: CryptoKey;
  readonly #sealing = new SerialQueue();
  readonly #opening = new SerialQueue();
  /** Least recently used first. */
  readonly #senders = new Map<PeerId, SenderRecord>();
  /** Oldest first. */
  readonly #closed = new Set<PeerId>();

  constructor(
    key: CryptoKey,
    /** The room of the sealer. */
    readonly room: string,
    /** Our peer id: the sender of what we seal, the recipient of what we open. */
    readonly self: PeerId,
    readonly untrustedAfter: number = UNTRUSTED_AFTER,
  ) {
    this.#key = key;
  }

  /**
   * Seals `payload` (any JSON value) for the member `to`. The promise rejects with a
   * `TypeError` for a `to` that is not a peer id or a payload that is not JSON, and with a
   * `RangeError` for a payload over `MAX_SEALED_PAYLOAD_BYTES` as JSON. Envelopes settle in call
   * order.
   *
   * @example
   * ```ts
   * const envelope = await session.seal("AAAAAAAAAAAAAAAB", { type: "offer", sdp });
   * ```
   */
  async seal(to: PeerId, payload: unknown): Promise<SealedEnvelope> {
    if (typeof to !== "string" || !PEER_ID_PATTERN.test(to)) {
      throw new TypeError(`seal: "${to}" is not a peer id; pass a member's peer id`);
    }
    let text: string | undefined;
    try {
      text = JSON.stringify(payload);
    } catch (error) {
      throw new TypeError(`seal: the payload is not JSON (${(error as Error).message})`);
    }
    if (text === undefined) {
      throw new TypeError(`seal: a payload of type ${typeof payload} is not JSON; send a value`);
    }
    const plain = encoder.encode(text);
    if (plain.length > MAX_SEALED_PAYLOAD_BYTES) {
      throw new RangeError(
        `seal: the payload is ${plain.length} bytes as JSON; at most ${MAX_SEALED_PAYLOAD_BYTES} ` +
          `fit in one signal (${MAX_PAYLOAD_BYTES} sealed). Split it, or send it over a data channel`,
      );
    }
    // Numbered now, in call order; the queue makes the envelopes settle in that order too.
    const n = ++this.#seq;
    return await this.#sealing.run(async () => {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const ct = await crypto.subtle.encrypt(
        {
          name: "AES-GCM",
          iv,
          additionalData: associatedData(this.room, this.self, to, this.nonce, n),
          tagLength: TAG_BYTES * 8,
        },
        this.#key,
        plain,
      );
      return {
        v: SEAL_VERSION,
        s: this.nonce,
        n,
        iv: encodeBase64url(iv),
        ct: encodeBase64url(new Uint8Array(ct)),
      };
    });
  }

  /**
   * Opens an envelope the server delivered as from `from` (its `from` field, never a field of
   * the payload). Never throws: anything wrong is a reason, counted against `from`. Results
   * settle in call order.
   *
   * @example
   * ```ts
   * client.on("signal", async ({ from, payload }) => {
   *   const opened = await session.open(from, payload);
   *   if (opened.ok) links.signal(from, opened.payload);
   * });
   * ```
   */
  open(from: PeerId, envelope: unknown): Promise<OpenResult> {
    return this.#opening.run(async () => {
      try {
        return await this.#open(from, envelope);
      } catch {
        // Nothing above throws on any input; should WebCrypto, this is still not a message.
        return this.#refuse(from, "malformed");
      }
    });
  }

  /**
   * Whether `from` should be shown as "could not verify" and never connected: it has sent
   * `untrustedAfter` envelopes that failed or were malformed, and none that opened. One that
   * opened proves the peer holds the key; failures after that cannot come from it (it seals with
   * the same code and key) but from the path, and are dropped without blaming it.
   *
   * @example
   * ```ts
   * if (session.untrusted(peer)) tile.status = "could not verify";
   * ```
   */
  untrusted(from: PeerId): boolean {
    const record = this.#senders.get(from);
    return record !== undefined && record.opened === 0 &&
      record.failed + record.malformed >= this.untrustedAfter;
  }

  /**
   * Whether an envelope from `from` has opened: the peer holds the meeting key.
   *
   * @example
   * ```ts
   * if (session.verified(peer)) links.connect(peer);
   * ```
   */
  verified(from: PeerId): boolean {
    return (this.#senders.get(from)?.opened ?? 0) > 0;
  }

  /**
   * What this session has counted from `from` (zeros for a sender it has no record of).
   *
   * @example
   * ```ts
   * const { failed, replayed } = session.stats(peer);
   * ```
   */
  stats(from: PeerId): SenderStats {
    const r = this.#senders.get(from);
    return {
      opened: r?.opened ?? 0,
      failed: r?.failed ?? 0,
      malformed: r?.malformed ?? 0,
      replayed: r?.replayed ?? 0,
      stale: r?.stale ?? 0,
    };
  }

  /**
   * Drops what is known of `peer` once it has left the room for good (the server never gives a
   * peer id to anyone else). Its envelopes are refused from then on as `stale-session`, so one
   * replayed later cannot reopen its session.
   *
   * @example
   * ```ts
   * ctx.on("peer-left", (peer) => session.forget(peer));
   * ```
   */
  forget(peer: PeerId): void {
    const record = this.#senders.get(peer);
    this.#senders.delete(peer);
    if (record?.session) this.#close(peer);
  }

  async #open(from: PeerId, envelope: unknown): Promise<OpenResult> {
    // The signaling client checks `from`; this is a second guard, not counted against anyone.
    if (typeof from !== "string" || !PEER_ID_PATTERN.test(from)) {
      return this.#refuse(from, "malformed");
    }
    const parsed = parseEnvelope(envelope);
    if (parsed === null) return this.#refuse(from, "malformed");
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: parsed.iv,
          additionalData: associatedData(this.room, from, this.self, parsed.s, parsed.n),
          tagLength: TAG_BYTES * 8,
        },
        this.#key,
        parsed.ct,
      );
    } catch {
      return this.#refuse(from, "failed");
    }
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
    } catch {
      return this.#refuse(from, "malformed");
    }
    // Only a genuine envelope gets this far: replays and sessions are judged on those alone, so
    // nobody without the key can pin a session or move a counter for a peer.
    if (this.#closed.has(from)) return { ok: false, reason: "stale-session" };
    const record = this.#senders.get(from);
    if (record?.session && record.session !== parsed.s) return this.#refuse(from, "stale-session");
    if (record?.session && parsed.n <= record.lastSeq) return this.#refuse(from, "replayed");
    const accepted = this.#record(from, true);
    if (accepted === null) return { ok: false, reason: "stale-session" };
    accepted.session = parsed.s;
    accepted.lastSeq = parsed.n;
    accepted.opened++;
    return { ok: true, payload };
  }

  #refuse(from: PeerId, reason: OpenFailure): OpenResult {
    // A sender that is no peer id gets no record: it names nobody.
    const named = typeof from === "string" && PEER_ID_PATTERN.test(from);
    const record = named ? this.#record(from, false) : null;
    if (record !== null) {
      if (reason === "stale-session") record.stale++;
      else record[reason]++;
    }
    return { ok: false, reason };
  }

  /**
   * The record of `from`, most recently used from now on; a new one if there is room. A sender
   * that opened (`verified`) may push out the longest unused verified one, which is then closed;
   * a sender that never opened only ever pushes out another such sender, so made-up senders
   * cannot evict real ones.
   */
  #record(from: PeerId, verified: boolean): SenderRecord | null {
    const existing = this.#senders.get(from);
    if (existing !== undefined) {
      this.#senders.delete(from);
      this.#senders.set(from, existing);
      return existing;
    }
    if (this.#senders.size >= MAX_TRACKED_SENDERS) {
      let victim: PeerId | null = null;
      for (const [peer, record] of this.#senders) {
        if (record.session === null) {
          victim = peer;
          break;
        }
      }
      if (victim === null && !verified) return null;
      victim ??= this.#senders.keys().next().value as PeerId;
      if (this.#senders.get(victim)?.session) this.#close(victim);
      this.#senders.delete(victim);
    }
    const record: SenderRecord = {
      session: null,
      lastSeq: 0,
      opened: 0,
      failed: 0,
      malformed: 0,
      replayed: 0,
      stale: 0,
    };
    this.#senders.set(from, record);
    return record;
  }

  #close(peer: PeerId): void {
    this.#closed.add(peer);
    if (this.#closed.size > MAX_CLOSED_SENDERS) {
      this.#closed.delete(this.#closed.values().next().value as PeerId);
    }
  }
}

/** An envelope's fields, decoded. */
interface ParsedEnvelope {
  s: string;
  n: number;
  iv: Uint8Array<ArrayBuffer>;
  ct: Uint8Array<ArrayBuffer>;
}

const ENVELOPE_FIELDS = ["v", "s", "n", "iv", "ct"];

/**
 * An envelope from the network, checked field by field (exactly these fields, each of its type
 * and size, base64url in its one spelling), or null. Lengths are checked before any decoding, so
 * a huge string costs nothing.
 */
function parseEnvelope(value: unknown): ParsedEnvelope | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const keys = Object.keys(value);
  if (keys.length !== ENVELOPE_FIELDS.length) return null;
  if (!ENVELOPE_FIELDS.every((field) => Object.hasOwn(value, field))) return null;
  const { v, s, n, iv, ct } = value as Record<string, unknown>;
  if (v !== SEAL_VERSION) return null;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) return null;
  if (typeof s !== "string" || s.length !== SESSION_NONCE_CHARS) return null;
  if (typeof iv !== "string" || iv.length !== IV_CHARS) return null;
  if (typeof ct !== "string" || ct.length < MIN_CT_CHARS || ct.length > MAX_CT_CHARS) return null;
  const ivBytes = decodeBase64url(iv);
  const ctBytes = decodeBase64url(ct);
  if (decodeBase64url(s) === null || ivBytes === null || ctBytes === null) return null;
  return { s, n, iv: ivBytes, ct: ctBytes };
}

/** The associated data of one envelope; JSON text, so no two field lists encode alike. */
function associatedData(
  room: string,
  from: PeerId,
  to: PeerId,
  session: string,
  seq: number,
): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify([LABEL, room, from, to, session, seq]));
}

/** Runs async work one piece at a time, in the order it was queued; a failure does not stop it. */
class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
