/**
 * This browser's secret for one meeting: 32 random bytes, base64url, kept in localStorage under
 * `mooz.secret.<room>` and sent in every `join` (`JoinMessage.secret`). The server keeps only its
 * hash: it makes the meeting's creator its host, lets a host who reloads the page take the role
 * back, and is what a removal bans. It never goes into the link, so sharing the link shares
 * neither the host role nor a ban.
 *
 * Where storage is unavailable (blocked, private modes that throw, a sandboxed frame), the
 * secret lives in memory for as long as the page: rejoins from the same page keep it, a reload
 * does not (that person rejoins as a newcomer, and a host loses the way back to its role).
 *
 * @example
 * ```ts
 * const secret = browserSecret(room); // the same on every call for this room in this browser
 * new SignalingClient({ url, secret });
 * ```
 */
// limits.ts, not protocol.ts: this module is on the meeting page's first load.
import { SECRET_PATTERN } from "../signaling/limits.ts";
import { encodeBase64url } from "./base64url.ts";

/** Random bytes in a secret: 256 bits, 43 base64url characters. */
export const SECRET_BYTES = 32;

/** The localStorage key of the secret for `room`. */
export function secretKey(room: string): string {
  return `mooz.secret.${room}`;
}

/** Secrets of rooms whose storage failed, for the life of the page. */
const inMemory = new Map<string, string>();

/** The storage a browser has, or null (Deno without `--location`, or access refused). */
function defaultStorage(): Pick<Storage, "getItem" | "setItem"> | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    // Reading `localStorage` itself throws where storage is blocked.
    return null;
  }
}

/** A new secret from the platform's CSPRNG. */
export function newSecret(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/**
 * The secret of `room` in this browser: the stored one, or a new one (stored for next time).
 * A stored value that is not a secret (edited, damaged) is replaced. Never throws.
 *
 * @example
 * ```ts
 * const secret = browserSecret("k3fq-9xmp-2hdw-7rtc-a4ze");
 * ```
 */
export function browserSecret(
  room: string,
  storage: Pick<Storage, "getItem" | "setItem"> | null = defaultStorage(),
): string {
  const remembered = inMemory.get(room);
  if (remembered) return remembered;
  const key = secretKey(room);
  try {
    if (storage) {
      const stored = storage.getItem(key);
      if (stored !== null && SECRET_PATTERN.test(stored)) return stored;
      const secret = newSecret();
      storage.setItem(key, secret);
      // A storage that accepts writes and forgets them (some private modes) would give a new
      // secret every time: read it back, and keep it in memory when it did not stick.
      if (storage.getItem(key) === secret) return secret;
      inMemory.set(room, secret);
      return secret;
    }
  } catch {
    // Blocked or full: fall through to memory.
  }
  const secret = newSecret();
  inMemory.set(room, secret);
  return secret;
}
