import { useSignal } from "@preact/signals";
import type { Ref } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";
import { Icon } from "./icons.tsx";

/** One entry of an `ActionMenu`. */
export interface MenuAction {
  /** The item's text and accessible name. */
  label: string;
  /** Drawn in red: removes someone, ends something. */
  danger?: boolean;
  onSelect(): void;
}

/**
 * A menu button (WAI-ARIA menu pattern): Enter, Space or a click opens it on its first item,
 * ArrowDown/ArrowUp open it on the first/last; inside, the arrows, Home and End move, Enter or
 * Space chooses, Esc closes and returns focus to the button, Tab and a click elsewhere close it.
 * Keys handled here go no further, so the meeting's shortcuts and its Esc stay out of it.
 */
export function ActionMenu(
  { id, label, actions, buttonRef }: {
    /** Unique on the page; the menu's element id is `${id}-menu`. */
    id: string;
    /** The button's and the menu's accessible name, e.g. "Actions for Carol". */
    label: string;
    actions: readonly MenuAction[];
    /** The menu button, for whoever must return focus to it later (a dialog). */
    buttonRef?: Ref<HTMLButtonElement>;
  },
) {
  const open = useSignal(false);
  /** Which item gets focus when the menu opens: the first, or the last. */
  const startAt = useRef<"first" | "last">("first");
  const ownButton = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);
  const button = (buttonRef ?? ownButton) as { current: HTMLButtonElement | null };

  const items = () => [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
  const focusItem = (index: number) => {
    const all = items();
    if (all.length) all[(index + all.length) % all.length].focus();
  };
  const close = (refocus: boolean) => {
    open.value = false;
    if (refocus) button.current?.focus();
  };

  // Before the browser paints: the menu appears with its item focused, never the button.
  useLayoutEffect(() => {
    if (open.value) focusItem(startAt.current === "first" ? 0 : -1);
  }, [open.value]);

  if (actions.length === 0) return null;

  return (
    <div
      class="relative"
      onFocusOut={(e) => {
        // Focus left the button and the menu (Tab, a click elsewhere): close without stealing it.
        const next = e.relatedTarget as Node | null;
        if (open.value && next && !e.currentTarget.contains(next)) close(false);
      }}
    >
      <button
        ref={button}
        type="button"
        id={`${id}-button`}
        aria-label={label}
        title={label}
        aria-haspopup="menu"
        aria-expanded={open.value}
        aria-controls={`${id}-menu`}
        onClick={() => {
          startAt.current = "first";
          open.value = !open.value;
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            e.stopPropagation();
            startAt.current = e.key === "ArrowDown" ? "first" : "last";
            if (open.value) focusItem(startAt.current === "first" ? 0 : -1);
            else open.value = true;
          } else if (e.key === "Escape" && open.value) {
            e.stopPropagation();
            close(true);
          }
        }}
        class="rounded-lg p-1 text-slate-300 hover:bg-slate-800 hover:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
      >
        <Icon name="more" class="h-5 w-5" />
      </button>
      {open.value && (
        <ul
          ref={menu}
          id={`${id}-menu`}
          role="menu"
          aria-label={label}
          onKeyDown={(e) => {
            const all = items();
            const at = all.indexOf(document.activeElement as HTMLElement);
            const moves: Record<string, number> = {
              ArrowDown: at + 1,
              ArrowUp: at - 1,
              Home: 0,
              End: all.length - 1,
            };
            if (e.key in moves) {
              e.preventDefault();
              focusItem(moves[e.key]);
            } else if (e.key === "Escape") {
              e.preventDefault();
              close(true);
            } else if (e.key === "Tab") {
              close(false);
              return;
            } else if (e.key !== "Enter" && e.key !== " ") {
              // Letters would otherwise reach the meeting's single-key shortcuts.
              if (e.key.length === 1) e.stopPropagation();
              return;
            }
            e.stopPropagation();
          }}
          class="absolute right-0 top-full z-50 mt-1 min-w-[14rem] rounded-xl bg-slate-800 py-1 shadow-xl ring-1 ring-slate-700"
        >
          {actions.map((a) => (
            <li key={a.label} role="none">
              <button
                type="button"
                role="menuitem"
                tabIndex={-1}
                onClick={() => {
                  // Focus back on the button first: a dialog the action opens returns it there.
                  close(true);
                  a.onSelect();
                }}
                class={`block w-full px-4 py-2 text-left text-sm hover:bg-slate-700 focus:bg-slate-700 focus:outline-none ${
                  a.danger ? "text-rose-300" : "text-slate-100"
                }`}
              >
                {a.label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
