/**
 * The meeting screen's keyboard: the single-key shortcuts of the bar's buttons (M, V, H, C, P,
 * ? — each `ControlItem.shortcut`, so the bar, its tooltips and the shortcuts dialog list the
 * same keys), and Esc, which closes the open popup or side panel. People can turn the single
 * keys off (preferences.ts `shortcuts`; WCAG 2.1.4); Esc always works.
 */
import { useEffect } from "preact/hooks";
import type { ControlItem } from "./ControlBar.tsx";
import { allItems, closePanel, closePopup, type Controls, type ControlState } from "./controls.ts";
import { preferences } from "./preferences.ts";

/** What `shortcutFor` reads of a key press (a `KeyboardEvent` has it all). */
export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  repeat?: boolean;
  target: EventTarget | null;
}

/** Whether keys pressed in `target` are text being typed (a message, a name). */
export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

/**
 * The button a key press presses, or null: only while single-key shortcuts are `enabled`, never
 * while typing, never with Ctrl, Alt or Meta (the browser's and the system's), and not again
 * for a key held down (a held M would toggle the microphone on and off).
 */
export function shortcutFor<T extends Pick<ControlItem, "shortcut" | "disabled">>(
  items: readonly T[],
  press: KeyPress,
  enabled: boolean,
): T | null {
  if (!enabled || press.repeat || press.ctrlKey || press.metaKey || press.altKey) return null;
  if (isTyping(press.target)) return null;
  const key = press.key.toLowerCase();
  return items.find((i) => i.shortcut?.toLowerCase() === key && !i.disabled) ?? null;
}

/** Listens for the meeting's keys while the meeting screen shows. */
export function useShortcuts(controls: Controls, state: ControlState): void {
  const items = allItems(controls);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        if (state.popup.peek() !== null) closePopup(state);
        else closePanel(state);
        return;
      }
      const item = shortcutFor(items, e, preferences.shortcuts.peek());
      if (!item) return;
      e.preventDefault();
      item.onClick();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });
}
