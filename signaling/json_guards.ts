/**
 * Type guards for values fresh from `JSON.parse`, shared by the validators of both directions
 * (`parse_client_message.ts` on the server, `parseServerMessage` in the browser). Browser-safe.
 */
import { LINK_STATES, type LinkState } from "./types.ts";

/** A parsed JSON object (not an array, not null), its fields still unchecked. */
export type JsonObject = Record<string, unknown>;

/** Whether `value` is a JSON object: not null, not an array. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * What a display name may not contain, here and in every browser that shows one: C0 and C1
 * controls (including DEL), line and paragraph separators, bidi overrides and isolates (which can
 * make a name display as someone else's), and lone surrogates (not valid Unicode).
 */
export const FORBIDDEN_IN_NAME = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069\p{Cs}]/u;

/** JSON turns 1e999 into Infinity; no field of this protocol wants it. */
export function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** Whether `value` is a string. */
export function isString(value: unknown): value is string {
  return typeof value === "string";
}

/** Whether `value` is a boolean. */
export function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

/** Whether `value` is one of the link states. */
export function isLinkState(value: unknown): value is LinkState {
  return (LINK_STATES as readonly unknown[]).includes(value);
}
