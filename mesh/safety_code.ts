/**
 * Safety codes: a short emoji code per pair of people that both their browsers show, to compare
 * by voice or side by side. Equal codes mean each browser's DTLS peer is the other's, with no one
 * in between: the code covers both DTLS certificate fingerprints as each side sees them (its own
 * and the remote one `RTCDtlsTransport.getRemoteCertificates()` reports), so someone who relays
 * the media between them with certificates of their own makes the two codes differ. Sealed
 * signaling (`seal.ts`) already stops anyone without the meeting key from doing that; the code
 * is for the case where the key leaked or a member colludes with the server.
 *
 * Browser-safe; WebCrypto only.
 *
 * **Derivation.** PBKDF2-HMAC-SHA256 with the meeting key as password, 100,000 iterations, and as
 * salt the JSON text `["mooz/safety-code/v1", room, peer1, fingerprint1, peer2, fingerprint2]`,
 * the two (peer, fingerprint) pairs ordered by peer id so A,B and B,A give one code. Each of the
 * 5 derived bytes picks one of 64 emoji with its low 6 bits (64 divides 256: no bias): 30 bits.
 *
 * **Why slow.** A man in the middle who has the key answers last: it learns both real
 * fingerprints, then chooses its own certificate, and can try certificates until the two codes
 * agree; with a fast hash, the 2^30 tries it needs on average take one GPU about a second.
 * 100,000 iterations make each try cost what the honest browsers pay once per pair (15 to 25 ms
 * in Deno on the 2-core build machine): 200,000 SHA-256 blocks a try, some three GPU-hours per
 * match, so matching a code within the 20 s the mesh gives a link to connect would take about
 * 500 GPUs. A commitment in the handshake (each side committing to its fingerprint before seeing
 * the other's) would remove the advantage altogether; until then, each more emoji (`length`)
 * multiplies the work by 64.
 *
 * @example
 * ```ts
 * const code = await safetyCode({
 *   key: meetingKey.bytes,
 *   room,
 *   a: { peer: self, fingerprint: fingerprintFromSdp(localDescription.sdp)! },
 *   b: { peer, fingerprint: await fingerprintOfCertificate(transport.getRemoteCertificates()[0]) },
 * });
 * label.textContent = code.map((c) => c.emoji).join(" ");
 * label.ariaLabel = code.map((c) => c.name).join(", ");
 * ```
 */
import { PEER_ID_PATTERN } from "../signaling/protocol.ts";
import { isRoomId } from "../signaling/room_id.ts";
import type { PeerId } from "../signaling/types.ts";
import { MEETING_KEY_BYTES } from "./meeting_key.ts";

/** One symbol of a safety code, with the name a screen reader says and a person reads out. */
export interface SafetyEmoji {
  emoji: string;
  name: string;
}

/**
 * The 64 symbols, in order: Matrix's emoji for verifying devices (matrix-org/matrix-spec,
 * `data-definitions/sas-emoji.json`), chosen there to be told apart at a glance on every
 * platform and to have short names in many languages. The order is part of the derivation.
 */
export const SAFETY_EMOJI: readonly SafetyEmoji[] = Object.freeze(
  ([
    ["🐶", "Dog"],
    ["🐱", "Cat"],
    ["🦁", "Lion"],
    ["🐎", "Horse"],
    ["🦄", "Unicorn"],
    ["🐷", "Pig"],
    ["🐘", "Elephant"],
    ["🐰", "Rabbit"],
    ["🐼", "Panda"],
    ["🐓", "Rooster"],
    ["🐧", "Penguin"],
    ["🐢", "Turtle"],
    ["🐟", "Fish"],
    ["🐙", "Octopus"],
    ["🦋", "Butterfly"],
    ["🌷", "Flower"],
    ["🌳", "Tree"],
    ["🌵", "Cactus"],
    ["🍄", "Mushroom"],
    ["🌏", "Globe"],
    ["🌙", "Moon"],
    ["☁️", "Cloud"],
    ["🔥", "Fire"],
    ["🍌", "Banana"],
    ["🍎", "Apple"],
    ["🍓", "Strawberry"],
    ["🌽", "Corn"],
    ["🍕", "Pizza"],
    ["🎂", "Cake"],
    ["❤️", "Heart"],
    ["😀", "Smiley"],
    ["🤖", "Robot"],
    ["🎩", "Hat"],
    ["👓", "Glasses"],
    ["🔧", "Spanner"],
    ["🎅", "Santa"],
    ["👍", "Thumbs up"],
    ["☂️", "Umbrella"],
    ["⌛", "Hourglass"],
    ["⏰", "Clock"],
    ["🎁", "Gift"],
    ["💡", "Light bulb"],
    ["📕", "Book"],
    ["✏️", "Pencil"],
    ["📎", "Paperclip"],
    ["✂️", "Scissors"],
    ["🔒", "Lock"],
    ["🔑", "Key"],
    ["🔨", "Hammer"],
    ["☎️", "Telephone"],
    ["🏁", "Flag"],
    ["🚂", "Train"],
    ["🚲", "Bicycle"],
    ["✈️", "Aeroplane"],
    ["🚀", "Rocket"],
    ["🏆", "Trophy"],
    ["⚽", "Ball"],
    ["🎸", "Guitar"],
    ["🎺", "Trumpet"],
    ["🔔", "Bell"],
    ["⚓", "Anchor"],
    ["🎧", "Headphones"],
    ["📁", "Folder"],
    ["📌", "Pin"],
  ] as const).map(([emoji, name]) => Object.freeze({ emoji, name })),
);

/** Symbols in a code: 5 × 6 bits = 30 bits. */
export const SAFETY_CODE_LENGTH = 5;
/** PBKDF2 iterations per code (see "Why slow" above). Part of the derivation: both sides use it. */
export const SAFETY_CODE_ITERATIONS = 100_000;
const LABEL = "mooz/safety-code/v1";
/** Most symbols a code may have: 16 × 6 = 96 bits, more than any person compares. */
const MAX_LENGTH = 16;

/** One side of a pair: its peer id and its DTLS certificate's SHA-256 fingerprint. */
export interface SafetyCodeSide {
  peer: PeerId;
  /** As in SDP (`AB:CD:…`, any case, with or without `sha-256 ` before it). */
  fingerprint: string;
}

/** What `safetyCode` needs. */
export interface SafetyCodeOptions {
  /** The meeting key's bytes. */
  key: Uint8Array;
  room: string;
  a: SafetyCodeSide;
  b: SafetyCodeSide;
  /** Symbols, `SAFETY_CODE_LENGTH` unless set; both browsers of a pair must use the same. */
  length?: number;
}

const encoder = new TextEncoder();
const FINGERPRINT = /^[0-9A-F]{2}(?::[0-9A-F]{2}){31}$/;

/**
 * The safety code of the pair `a`, `b` in `room`: the same for `a, b` and `b, a`, different for
 * another key, room, peer or certificate. Throws a `TypeError` for a key under 128 bits, a room
 * or peer id that is not one, equal peers, or a fingerprint that is not a SHA-256 one.
 *
 * @example
 * ```ts
 * const code = await safetyCode({ key, room, a: { peer: me, fingerprint: mine }, b: { peer, fingerprint: theirs } });
 * code.map((c) => c.emoji).join(""); // e.g. "🐼🔑🌵🚲🎺"
 * ```
 */
export async function safetyCode(options: SafetyCodeOptions): Promise<SafetyEmoji[]> {
  const { key, room, a, b, length = SAFETY_CODE_LENGTH } = options;
  if (!(key instanceof Uint8Array) || key.length < MEETING_KEY_BYTES) {
    throw new TypeError(
      `safetyCode: the key must be at least ${MEETING_KEY_BYTES} bytes; pass the meeting key's bytes`,
    );
  }
  if (!isRoomId(room)) throw new TypeError(`safetyCode: "${room}" is not a room id`);
  if (!Number.isSafeInteger(length) || length < 1 || length > MAX_LENGTH) {
    throw new TypeError(`safetyCode: length must be a whole number from 1 to ${MAX_LENGTH}`);
  }
  const sides = [a, b].map((side) => {
    if (typeof side?.peer !== "string" || !PEER_ID_PATTERN.test(side.peer)) {
      throw new TypeError(`safetyCode: "${side?.peer}" is not a peer id`);
    }
    const fingerprint = normalizeFingerprint(side.fingerprint);
    if (fingerprint === null) {
      throw new TypeError(
        `safetyCode: "${side.fingerprint}" is not a SHA-256 fingerprint; pass one from ` +
          "fingerprintFromSdp or fingerprintOfCertificate",
      );
    }
    return { peer: side.peer, fingerprint };
  });
  if (sides[0].peer === sides[1].peer) {
    throw new TypeError("safetyCode: a and b are the same peer; a code is for two people");
  }
  // By peer id, compared by code unit: the same order in every browser and locale.
  sides.sort((x, y) => (x.peer < y.peer ? -1 : 1));
  const salt = JSON.stringify([
    LABEL,
    room,
    sides[0].peer,
    sides[0].fingerprint,
    sides[1].peer,
    sides[1].fingerprint,
  ]);
  const password = await crypto.subtle.importKey("raw", new Uint8Array(key), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: "PBKDF2",
      hash: "SHA-256",
      salt: encoder.encode(salt),
      iterations: SAFETY_CODE_ITERATIONS,
    },
    password,
    length * 8,
  );
  return [...new Uint8Array(bits)].map((byte) => SAFETY_EMOJI[byte & 63]);
}

/**
 * A SHA-256 fingerprint in the form SDP writes it (`AB:CD:…`, 32 uppercase hex pairs), from
 * any case and with or without a leading `sha-256 `; null for anything else.
 *
 * @example
 * ```ts
 * normalizeFingerprint("sha-256 ab:cd:…"); // "AB:CD:…"
 * ```
 */
export function normalizeFingerprint(text: string): string | null {
  if (typeof text !== "string" || text.length > 120) return null;
  const value = text.trim().replace(/^sha-256\s+/i, "").toUpperCase();
  return FINGERPRINT.test(value) ? value : null;
}

/**
 * The SHA-256 certificate fingerprint an SDP offer or answer announces
 * (`a=fingerprint:sha-256 …`, at session or media level). Null when there is none, when one is
 * damaged, or when the SDP names two different ones: then no single certificate is the one the
 * DTLS handshake must show. Other hash functions' lines are ignored.
 *
 * @example
 * ```ts
 * fingerprintFromSdp(pc.localDescription.sdp); // "96:C3:10:…:69:B2"
 * ```
 */
export function fingerprintFromSdp(sdp: string): string | null {
  if (typeof sdp !== "string") return null;
  let found: string | null = null;
  for (const line of sdp.split(/\r?\n/)) {
    const match = /^a=fingerprint:(\S+)\s+(.*?)\s*$/i.exec(line);
    if (match === null || match[1].toLowerCase() !== "sha-256") continue;
    const fingerprint = normalizeFingerprint(match[2]);
    if (fingerprint === null || (found !== null && found !== fingerprint)) return null;
    found = fingerprint;
  }
  return found;
}

/**
 * The SHA-256 fingerprint of a DER certificate, as SDP writes it: what to compare a remote
 * certificate (`RTCDtlsTransport.getRemoteCertificates()[0]`) with the fingerprint that came
 * sealed in its SDP.
 *
 * @example
 * ```ts
 * const [leaf] = pc.getSenders()[0].transport!.getRemoteCertificates();
 * const ok = (await fingerprintOfCertificate(leaf)) === fingerprintFromSdp(remoteSdp);
 * ```
 */
export async function fingerprintOfCertificate(der: ArrayBuffer | Uint8Array): Promise<string> {
  const bytes = der instanceof Uint8Array ? new Uint8Array(der) : new Uint8Array(der.slice(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0")).join(":");
}
