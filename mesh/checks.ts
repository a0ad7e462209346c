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
import { FORBIDDEN_IN_NAME, isObject } from "../signaling/json_guards.ts";
import { MAX_NAME_LENGTH } from "../signaling/protocol.ts";

export { isObject, MAX_NAME_LENGTH };
/** Text may span lines and contain tabs; other controls and lone surrogates are refused. */
const FORBIDDEN_IN_TEXT = /(?![\t\n\r])[\p{Cc}\p{Cs}]/u;
const FORBIDDEN_IN_TEXT_ALL = new RegExp(FORBIDDEN_IN_TEXT.source, "gu");

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
