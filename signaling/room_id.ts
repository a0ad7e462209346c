/**
 * Room ids: 100 random bits written as five groups of four characters, e.g. `k3fq-9xmp-2hdw-7rtc-a4ze`.
 * The alphabet drops i, l, o and u so an id read aloud or retyped is hard to get wrong; ids are
 * case-insensitive and the dashes are optional when typed. Safe to import in the browser.
 */

export const ROOM_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const GROUPS = 5;
const GROUP_LENGTH = 4;
/** Bits of randomness in an id: 20 characters of 5 bits. */
export const ROOM_ID_BITS = GROUPS * GROUP_LENGTH * 5;

const ROOM_ID = /^[0-9a-hjkmnp-tv-z]{4}(?:-[0-9a-hjkmnp-tv-z]{4}){4}$/;

/** A new unguessable room id from the platform's CSPRNG. */
export function newRoomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(GROUPS * GROUP_LENGTH));
  // 256 is a multiple of 32, so masking keeps every character equally likely.
  const chars = [...bytes].map((b) => ROOM_ID_ALPHABET[b & 31]).join("");
  return chars.match(/.{4}/g)!.join("-");
}

/** Whether `id` is a room id in its canonical form (as it appears in URLs). */
export function isRoomId(id: string): boolean {
  return ROOM_ID.test(id);
}

/**
 * Reads what a person pasted or typed into "Join": a full meeting link or a bare id, in any case,
 * with or without dashes and spaces. Returns the canonical id, or null when it is not one.
 */
export function parseRoomInput(input: string): string | null {
  let text = input.trim();
  if (text.length === 0 || text.length > 2048) return null;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || text.startsWith("/") || text.includes("/")) {
    try {
      const url = new URL(text, "https://placeholder.invalid");
      text = url.pathname.split("/").filter(Boolean).at(-1) ?? "";
      text = decodeURIComponent(text);
    } catch {
      return null;
    }
  }
  const compact = text.toLowerCase().replace(/[\s-]/g, "");
  if (compact.length !== GROUPS * GROUP_LENGTH) return null;
  const id = compact.match(/.{4}/g)!.join("-");
  return isRoomId(id) ? id : null;
}
