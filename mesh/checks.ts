/**
 * Building blocks for validators of what peers send (`TopicOptions.validate`): each takes an
 * untrusted value and returns a clean one or null, and never throws.
 *
 * @example
 * ```ts
 * import { checkName, isObject } from "../../mesh/checks.ts";
 * const validate = (body: unknown) => {
 *   if (!isObject(body)) return null;
 *   const name = checkName(body.name);
 *   return name === null ? null : { name }; // a fresh object: extra fields never pass
 * };
 * ```
 */
import { MAX_NAME_LENGTH } from "../signaling/protocol.ts";

export { MAX_NAME_LENGTH };

/**
 * Same rule as the server's names: controls, line separators, bidi overrides and isolates (which
 * can make a name display as someone else's) and lone surrogates.
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069\p{Cs}]/u;
/** Text may span lines and contain tabs; other controls and lone surrogates are refused. */
const FORBIDDEN_IN_TEXT = /(?![\t\n\r])[\p{Cc}\p{Cs}]/u;
const FORBIDDEN_IN_TEXT_ALL = new RegExp(FORBIDDEN_IN_TEXT.source, "gu");

/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string of 1 to `max` UTF-16 units. */
export function isShortString(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= max;
}

/** Length in code points, so an emoji counts as one character, as the server counts names. */
export function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The trimmed display name if valid (1 to 64 characters, nothing deceptive), else null. */
export function checkName(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const name = value.trim();
  const length = codePoints(name);
  return length >= 1 && length <= MAX_NAME_LENGTH && !FORBIDDEN_IN_NAME.test(name) ? name : null;
}

/** Trimmed text of 1 to `max` characters with no controls but line breaks and tabs, or null. */
export function checkText(value: unknown, max: number): string | null {
  if (typeof value !== "string") return null;
  const text = value.trim();
  const length = codePoints(text);
  return length >= 1 && length <= max && !FORBIDDEN_IN_TEXT.test(text) ? text : null;
}

/** Removes what `checkText` refuses, for text the user typed or pasted. */
export function stripForbiddenText(text: string): string {
  return text.replace(FORBIDDEN_IN_TEXT_ALL, "");
}

/** A finite, non-negative number (a timestamp, a count), or null; `-0` comes back as `0`. */
export function checkNonNegative(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value + 0 : null;
}
