/**
 * Peer ids and resume tokens: random ids from the platform CSPRNG, and the secret that lets a
 * dropped participant take its place back. The store keeps only a hash of the secret, so a read
 * of the database cannot be turned into a takeover.
 *
 * A resume token is `{peer}.{secret}`: the peer id (16 base64url characters, 96 random bits) and
 * a secret of 43 base64url characters (256 random bits). Server-only (node:crypto).
 */
import { createHash } from "node:crypto";
import { PEER_ID_PATTERN } from "./protocol.ts";
import type { PeerId } from "./types.ts";

/** Bytes of randomness in a peer id: 96 bits, 16 base64url characters (`PEER_ID_PATTERN`). */
const PEER_ID_BYTES = 12;
/** Bytes of randomness in a resume token's secret: 256 bits, 43 base64url characters. */
const SECRET_BYTES = 32;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new member's id and resume token; `text` goes to the client, `secret` only into a hash. */
export interface NewToken {
  peer: PeerId;
  secret: string;
  /** The token as the client holds it: `{peer}.{secret}`. */
  text: string;
}

/**
 * Draws a fresh resume token: for a new member (a new random peer id), or with `peer`, a new
 * secret for an existing member (every resume rotates the token, so an old one stops working).
 */
export function newToken(peer: PeerId = randomBase64url(PEER_ID_BYTES)): NewToken {
  const secret = randomBase64url(SECRET_BYTES);
  return { peer, secret, text: `${peer}.${secret}` };
}

/** Splits a client's resume token into peer id and secret; null unless it is well formed. */
export function parseToken(token: string): { peer: PeerId; secret: string } | null {
  const [peer, secret, ...rest] = token.split(".");
  if (
    rest.length > 0 || !PEER_ID_PATTERN.test(peer) || secret === undefined ||
    !SECRET_PATTERN.test(secret)
  ) {
    return null;
  }
  return { peer, secret };
}

/**
 * `bytes` random bytes from the CSPRNG as unpadded base64url (URL- and log-safe).
 *
 * @example
 * ```ts
 * randomBase64url(9); // "q3J0_zH8aLw-" (12 characters)
 * ```
 */
export function randomBase64url(bytes: number): string {
  return crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * SHA-256 of `text`, as 64 hex digits. Synchronous on purpose: `crypto.subtle.digest` hands every
 * call to a worker thread and back, about 30 µs of CPU for these few bytes, against about 1 µs
 * here (one per join and resume).
 */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Compares without an early exit, so timing does not reveal how much of a hash matched. */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
