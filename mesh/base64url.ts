/**
 * Unpadded base64url (RFC 4648 §5) for keys in links and for sealed envelopes. Browser-safe.
 *
 * Written on `btoa`/`atob` because `Uint8Array.prototype.toBase64` is newer than the browsers the
 * islands are built for (fresh.config.ts targets Chrome 109, Firefox 115, Safari 16).
 * `decodeBase64url` is strict: it reads its input from links and from the network, so it accepts
 * exactly one spelling per byte string (no padding, no whitespace, no `+` or `/`, unused trailing
 * bits zero) and returns null for anything else instead of throwing.
 */

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * `bytes` as unpadded base64url.
 *
 * @example
 * ```ts
 * encodeBase64url(new Uint8Array([251, 255])); // "-_8"
 * ```
 */
export function encodeBase64url(bytes: Uint8Array): string {
  let binary = "";
  // Chunks keep String.fromCharCode's argument list far below engines' limits for 32 KiB inputs.
  for (let i = 0; i < bytes.length; i += 0x2000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The bytes of an unpadded base64url string, or null unless `text` is one in its only canonical
 * spelling (so two different strings never decode to the same bytes).
 *
 * @example
 * ```ts
 * decodeBase64url("-_8"); // Uint8Array [251, 255]
 * decodeBase64url("-_9"); // null: the unused low bits are not zero
 * decodeBase64url("-_8="); // null: padding
 * ```
 */
export function decodeBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (typeof text !== "string" || !ALPHABET.test(text) || text.length % 4 === 1) return null;
  let binary: string;
  try {
    binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // atob ignores set bits after the last whole byte; re-encoding finds them.
  return encodeBase64url(bytes) === text ? bytes : null;
}

/**
 * Length of the unpadded base64url text of `byteCount` bytes.
 *
 * @example
 * ```ts
 * base64urlLength(16); // 22
 * ```
 */
export function base64urlLength(byteCount: number): number {
  return Math.ceil(byteCount * 4 / 3);
}
