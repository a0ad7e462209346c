import { useSignal } from "@preact/signals";
import type { ComponentChildren, Ref } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";
import { Icon, type IconName } from "./icons.tsx";

/** One entry of an `ActionMenu`. */
export interface MenuAction {
  /** The item's text and accessible name. */
  label: string;
  /** Unique in the menu (default: the label). */
  id?: string;
  /** Drawn in red: removes someone, ends something. */
  danger?: boolean;
  /** A core icon's name, or a 24×24 path, before the label. */
  icon?: IconName | { path: string };
  /** For toggles (`menuitemcheckbox`): whether it is on. */
  checked?: boolean;
  /** Text after the label, part of the item's name ("2 unread"). */
  note?: string;
  /** The single key that does the same outside the menu, shown and in `aria-keyshortcuts`. */
  shortcut?: string;
  /** Shown but not choosable now. */
  disabled?: boolean;
  onSelect(): void;
}

const ITEMS = '[role="menuitem"], [role="menuitemcheckbox"]';

/**
 * A menu button (WAI-ARIA menu pattern): Enter, Space or a click opens it on its first item,
 * ArrowDown/ArrowUp open it on the first/last; inside, the arrows, Home and End move, Enter or
 * Space chooses, Esc closes and returns focus to the button, Tab and a click elsewhere close it.
 * Keys handled here go no further, so the meeting's shortcuts and its Esc stay out of it.
 */
export function ActionMenu(
  {
    id,
    label,
    actions,
    buttonRef,
    buttonClass,
    icon = "more",
    placement = "below",
    badge,
    description,
  }: {
    /** Unique on the page; the button's id is `${id}-button`, the menu's `${id}-menu`. */
    id: string;
    /** The button's and the menu's accessible name, e.g. "Actions for Carol". */
    label: string;
    actions: readonly MenuAction[];
    /** The menu button, for whoever must return focus to it later (a dialog). */
    buttonRef?: Ref<HTMLButtonElement>;
    /** The button's classes (default: a small icon button for a list row). */
    buttonClass?: string;
    /** The button's icon. */
    icon?: IconName;
    /** Where the menu opens: under the button, or over it (a bar at the bottom). */
    placement?: "below" | "above";
    /** Drawn beside the button, outside it (a count), so it is not part of its name. */
    badge?: ComponentChildren;
    /** The button's accessible description ("2 unread"), if any. */
    description?: string;
  },
) {
  const open = useSignal(false);
  /** Which item gets focus when the menu opens: the first, or the last. */
  const startAt = useRef<"first" | "last">("first");
  const ownButton = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);
  const button = (buttonRef ?? ownButton) as { current: HTMLButtonElement | null };

  const items = () => [...(menu.current?.querySelectorAll<HTMLElement>(ITEMS) ?? [])];
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
      class="relative inline-flex"
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
        // Only while the menu is in the page: a reference to nothing is an error.
        aria-controls={open.value ? `${id}-menu` : undefined}
        aria-describedby={description ? `${id}-description` : undefined}
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
        class={buttonClass ??
          "rounded-lg p-1 text-slate-300 hover:bg-slate-800 hover:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"}
      >
        <Icon name={icon} class="h-5 w-5" />
        {description && <span id={`${id}-description`} class="sr-only">{description}</span>}
      </button>
      {badge}
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
          class={`absolute right-0 z-50 max-h-[70vh] min-w-[14rem] overflow-y-auto rounded-xl bg-slate-800 py-1 shadow-xl ring-1 ring-slate-700 ${
            placement === "above" ? "bottom-full mb-2" : "top-full mt-1"
          }`}
        >
          {actions.map((a) => (
            <li key={a.id ?? a.label} role="none">
              <button
                type="button"
                role={a.checked === undefined ? "menuitem" : "menuitemcheckbox"}
                aria-checked={a.checked}
                aria-disabled={a.disabled || undefined}
                aria-keyshortcuts={a.shortcut}
                tabIndex={-1}
                onClick={() => {
                  if (a.disabled) return;
                  // Focus back on the button first: what the action opens returns it there.
                  close(true);
                  a.onSelect();
                }}
                class={`flex w-full items-center gap-3 px-4 py-2 text-left text-sm hover:bg-slate-700 focus:bg-slate-700 focus:outline-none ${
                  a.danger ? "text-rose-300" : "text-slate-100"
                } ${a.disabled ? "opacity-50" : ""}`}
              >
                {a.icon && (
                  <Icon
                    name={typeof a.icon === "string" ? a.icon : undefined}
                    path={typeof a.icon === "string" ? undefined : a.icon.path}
                    class="h-5 w-5 shrink-0"
                  />
                )}
                <span class="flex-1">{a.label}</span>
                {a.checked && <span aria-hidden="true" class="text-xs text-indigo-200">On</span>}
                {a.note && (
                  <span class="rounded-full bg-rose-600 px-2 text-xs font-bold text-white">
                    {a.note}
                  </span>
                )}
                {a.shortcut && (
                  <kbd
                    aria-hidden="true"
                    class="rounded bg-slate-900 px-1.5 font-mono text-xs text-slate-300"
                  >
                    {a.shortcut}
                  </kbd>
                )}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
