/** Which button a key press presses: `shortcutFor`, what the meeting's key listener follows. */
import assert from "node:assert/strict";
import { type KeyPress, shortcutFor } from "./shortcuts.ts";

const ITEMS = [
  { id: "mic", shortcut: "M" },
  { id: "camera", shortcut: "V" },
  { id: "share" }, // no key: a stray press never shares a screen
  { id: "hand", shortcut: "H", disabled: true },
  { id: "shortcuts", shortcut: "?" },
];

const press = (key: string, more: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  target: null,
  ...more,
});

const pressed = (p: KeyPress, enabled = true) => shortcutFor(ITEMS, p, enabled)?.id ?? null;

Deno.test("shortcutFor: a button's key presses it, whatever its case", () => {
  assert.equal(pressed(press("m")), "mic");
  assert.equal(pressed(press("M")), "mic");
  assert.equal(pressed(press("v")), "camera");
  assert.equal(pressed(press("?")), "shortcuts");
  assert.equal(pressed(press("x")), null);
  assert.equal(pressed(press("s")), null, "screen sharing has no key");
  assert.equal(pressed(press("h")), null, "a disabled button is not pressed");
});

Deno.test("shortcutFor: single keys do nothing while they are turned off", () => {
  for (const key of ["m", "M", "v", "?"]) assert.equal(pressed(press(key), false), null, key);
});

Deno.test("shortcutFor: never with Ctrl, Alt or Meta, never for a held key", () => {
  assert.equal(pressed(press("m", { ctrlKey: true })), null);
  assert.equal(pressed(press("m", { altKey: true })), null);
  assert.equal(pressed(press("m", { metaKey: true })), null);
  assert.equal(pressed(press("m", { repeat: true })), null);
});

Deno.test("shortcutFor: never while typing in a field", () => {
  for (const tagName of ["INPUT", "TEXTAREA", "SELECT"]) {
    const target = { tagName, isContentEditable: false } as unknown as EventTarget;
    assert.equal(pressed(press("m", { target })), null, tagName);
  }
  const editable = { tagName: "DIV", isContentEditable: true } as unknown as EventTarget;
  assert.equal(pressed(press("m", { target: editable })), null, "contenteditable");
  const button = { tagName: "BUTTON", isContentEditable: false } as unknown as EventTarget;
  assert.equal(pressed(press("m", { target: button })), "mic", "on a focused button");
});
