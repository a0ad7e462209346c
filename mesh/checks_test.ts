/**
 * The validator building blocks every feature uses on what peers send: each refuses exactly what
 * it documents, counts limits as the server does, and never throws.
 */
import assert from "node:assert/strict";
import {
  checkName,
  checkNonNegative,
  checkText,
  codePoints,
  isObject,
  isShortString,
  MAX_NAME_LENGTH,
  stripForbiddenText,
} from "./checks.ts";
import { MAX_NAME_LENGTH as SERVER_MAX_NAME_LENGTH } from "../signaling/protocol.ts";

const NOT_STRINGS: unknown[] = [undefined, null, 0, 1, true, {}, [], ["Ada"], 1n, Symbol("x")];

Deno.test("MAX_NAME_LENGTH is the signaling server's limit, 64", () => {
  assert.equal(MAX_NAME_LENGTH, SERVER_MAX_NAME_LENGTH);
  assert.equal(MAX_NAME_LENGTH, 64);
});

Deno.test("codePoints counts an emoji as one and a lone surrogate as one", () => {
  assert.equal(codePoints(""), 0);
  assert.equal(codePoints("abc"), 3);
  assert.equal(codePoints("😀"), 1);
  assert.equal(codePoints("😀é"), 2);
  assert.equal(codePoints("\uD800x"), 2);
});

// ---------------------------------------------------------------------------------------------
// checkName

Deno.test("checkName: returns the trimmed name", () => {
  assert.equal(checkName("Ada"), "Ada");
  assert.equal(checkName("  Ada Lovelace \n\t"), "Ada Lovelace");
  assert.equal(checkName("\u00A0\uFEFFAda\u2028"), "Ada"); // JS whitespace and line separators
  assert.equal(checkName("Zoë 😀 李"), "Zoë 😀 李");
});

Deno.test("checkName: 1 to 64 code points after trimming, inclusive", () => {
  assert.equal(checkName("x"), "x");
  assert.equal(checkName("x".repeat(MAX_NAME_LENGTH)), "x".repeat(MAX_NAME_LENGTH));
  assert.equal(checkName("x".repeat(MAX_NAME_LENGTH + 1)), null);
  const emoji = "😀".repeat(MAX_NAME_LENGTH); // 128 UTF-16 units
  assert.equal(checkName(emoji), emoji);
  assert.equal(checkName("😀".repeat(MAX_NAME_LENGTH + 1)), null);
  const padded = `   ${"x".repeat(MAX_NAME_LENGTH)}   `;
  assert.equal(checkName(padded), "x".repeat(MAX_NAME_LENGTH));
  for (const empty of ["", " ", "   \t\n ", "\u3000"]) {
    assert.equal(checkName(empty), null, JSON.stringify(empty));
  }
});

Deno.test("checkName: refuses bidi overrides and isolates, which can disguise a name", () => {
  for (const mark of ["\u202A", "\u202B", "\u202C", "\u202D", "\u202E"]) {
    assert.equal(checkName(`Ada${mark}malloy`), null, `accepted U+${mark.codePointAt(0)}`);
  }
  for (const mark of ["\u2066", "\u2067", "\u2068", "\u2069"]) {
    assert.equal(checkName(`Ada${mark}malloy`), null, `accepted U+${mark.codePointAt(0)}`);
  }
  // At the edges too: trimming does not remove them.
  assert.equal(checkName("\u202EAda"), null);
  assert.equal(checkName("Ada\u2069"), null);
});

Deno.test("checkName: refuses controls, line separators inside, and lone surrogates", () => {
  for (
    const bad of [
      "Ad\u0000a",
      "Ad\u001Fa",
      "Ad\u007Fa",
      "Ad\u0080a",
      "Ad\u009Fa",
      "Ad\na",
      "Ad\ra",
      "Ad\ta", // unlike chat text, a name is one line with no tabs
      "Ad\u2028a",
      "Ad\u2029a",
      "\uD800",
      "Ada\uDFFF",
      "\uDC00\uD800", // a pair in the wrong order is two lone surrogates
    ]
  ) {
    assert.equal(checkName(bad), null, `accepted ${JSON.stringify(bad)}`);
  }
});

Deno.test("checkName: refuses non-strings without throwing", () => {
  for (const value of NOT_STRINGS) assert.equal(checkName(value), null, String(value));
});

// ---------------------------------------------------------------------------------------------
// checkText and stripForbiddenText

Deno.test("checkText: trimmed, 1 to max code points inclusive", () => {
  assert.equal(checkText("  hello  ", 5), "hello");
  assert.equal(checkText("hello!", 5), null);
  assert.equal(checkText("😀".repeat(5), 5), "😀".repeat(5));
  assert.equal(checkText("😀".repeat(6), 5), null);
  assert.equal(checkText(`\n  ${"x".repeat(5)}\t `, 5), "xxxxx");
  assert.equal(checkText("", 5), null);
  assert.equal(checkText(" \n\t\r ", 5), null);
  assert.equal(checkText("x", 0), null);
});

Deno.test("checkText: keeps line breaks and tabs inside, refuses other controls and lone surrogates", () => {
  assert.equal(checkText("a\nb\r\nc\td", 100), "a\nb\r\nc\td");
  // Unlike names, text may carry bidi marks and line separators: it is shown as a block.
  assert.equal(checkText("a\u202Eb\u2028c", 100), "a\u202Eb\u2028c");
  for (
    const bad of [
      "a\u0000b",
      "a\u0007b",
      "a\u000Bb",
      "a\u000Cb",
      "a\u001Bb",
      "a\u007Fb",
      "a\u0085b",
      "a\u009Fb",
      "a\uD800b",
      "a\uDFFF",
      "\uDC00\uD800",
    ]
  ) {
    assert.equal(checkText(bad, 100), null, `accepted ${JSON.stringify(bad)}`);
  }
  for (const value of NOT_STRINGS) assert.equal(checkText(value, 100), null, String(value));
});

Deno.test("stripForbiddenText removes exactly what checkText refuses", () => {
  assert.equal(stripForbiddenText("a\u0000b\u0007c\u007F\u0085\u009Fd\uD800e\uDC00"), "abcde");
  assert.equal(
    stripForbiddenText("lines\nand\ttabs\r\n😀 \u202E"),
    "lines\nand\ttabs\r\n😀 \u202E",
  );
  assert.equal(stripForbiddenText("😀\uD83D"), "😀"); // a valid pair stays, the lone half goes
  // Every code unit on its own: stripping leaves it iff checkText accepts it inside text.
  for (let unit = 0; unit <= 0xffff; unit++) {
    const c = String.fromCharCode(unit);
    const kept = stripForbiddenText(`a${c}b`) === `a${c}b`;
    const accepted = checkText(`a${c}b`, 10) !== null;
    assert.equal(kept, accepted, `U+${unit.toString(16)}`);
    if (!kept) assert.equal(stripForbiddenText(`a${c}b`), "ab");
  }
});

// ---------------------------------------------------------------------------------------------
// isObject, isShortString, checkNonNegative

Deno.test("isObject: plain objects only, not null, arrays or primitives", () => {
  assert.equal(isObject({}), true);
  assert.equal(isObject({ a: 1 }), true);
  assert.equal(isObject(Object.create(null)), true);
  assert.equal(isObject(JSON.parse('{"__proto__":1}')), true);
  for (const value of [null, undefined, [], [1], "x", "", 0, 1, true, false, () => 1, 1n]) {
    assert.equal(isObject(value), false, String(value));
  }
});

Deno.test("isShortString: 1 to max UTF-16 units, inclusive", () => {
  assert.equal(isShortString("a", 1), true);
  assert.equal(isShortString("x".repeat(128), 128), true);
  assert.equal(isShortString("x".repeat(129), 128), false);
  assert.equal(isShortString("", 128), false);
  // Units, not code points: an emoji is two.
  assert.equal(isShortString("😀", 2), true);
  assert.equal(isShortString("😀", 1), false);
  // No trimming and no character checks: it is for ids, compared as they are.
  assert.equal(isShortString(" ", 1), true);
  for (const value of NOT_STRINGS) assert.equal(isShortString(value, 10), false, String(value));
});

Deno.test("checkNonNegative: finite numbers from 0 up", () => {
  for (const n of [0, 1, 1.5, 1_700_000_000_000, Number.MAX_VALUE, Number.MIN_VALUE]) {
    assert.equal(checkNonNegative(n), n);
  }
  for (
    const value of [-1, -Number.MIN_VALUE, NaN, Infinity, -Infinity, "1", "0", null, undefined]
  ) {
    assert.equal(checkNonNegative(value), null, String(value));
  }
  for (const value of [true, false, [], [1], {}, 1n]) {
    assert.equal(checkNonNegative(value), null, String(value));
  }
  // JSON has no Infinity, but 1e999 parses to it.
  assert.equal(checkNonNegative(JSON.parse("1e999")), null);
});
