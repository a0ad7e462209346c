import { useSignal } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { ActionMenu, type MenuAction } from "./ActionMenu.tsx";
import { ConfirmDialog } from "./ConfirmDialog.tsx";
import { allItems, closePopup, type Controls, type ControlState } from "./controls.ts";
import { Icon, type IconName } from "./icons.tsx";
import { preferences } from "./preferences.ts";
import { LazySettingsDialog } from "./LazySettingsDialog.tsx";
import { ShortcutsDialog } from "./ShortcutsDialog.tsx";
import type { FeatureModule } from "./slots.ts";

/** One button of the bar. */
export interface ControlItem {
  /** Unique among the bar's buttons; the button's element id is `control-${id}`. */
  id: string;
  label: string;
  /** A core icon's name, or a feature's own 24×24 path. */
  icon: IconName | { path: string };
  pressed?: boolean;
  expanded?: boolean;
  /** Id of the panel or popup the button opens. */
  controls?: string;
  /** It opens a dialog (`aria-haspopup="dialog"`). */
  dialog?: boolean;
  tone?: "default" | "off" | "danger" | "active";
  /** A single key that presses it, while single-key shortcuts are on. */
  shortcut?: string;
  /** A count on the button, said as "N unread" (or "N <countLabel>"). */
  count?: number;
  /** What `count` counts, for screen readers (default "unread"). */
  countLabel?: string;
  disabled?: boolean;
  /** Stays in the bar on a phone; the others go into the "More options" menu. */
  primary?: boolean;
  onClick(): void;
}

const BUTTON =
  "relative flex h-12 w-12 shrink-0 items-center justify-center rounded-full transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:ring-offset-2 focus-visible:ring-offset-slate-950 disabled:opacity-50";
const TONES = {
  default: "bg-slate-800 text-white hover:bg-slate-700",
  off: "bg-rose-600 text-white hover:bg-rose-700",
  danger: "bg-rose-600 text-white hover:bg-rose-700",
  active: "bg-indigo-600 text-white hover:bg-indigo-700",
};

/** The count beside a button (not in it: visible text missing from its name, WCAG 2.5.3). */
function Badge({ count }: { count: number }) {
  return (
    <span
      aria-hidden="true"
      class="pointer-events-none absolute -right-1 -top-1 flex h-5 min-w-[1.25rem] items-center justify-center rounded-full bg-rose-600 px-1 text-xs font-bold text-white"
    >
      {count > 99 ? "99+" : count}
    </span>
  );
}

const countText = (item: ControlItem) =>
  item.count ? `${item.count} ${item.countLabel ?? "unread"}` : undefined;

/** A button from an item: the bar's look, name, state and shortcut for every control. */
export function ControlItemButton({ item }: { item: ControlItem }) {
  const description = countText(item);
  const descId = description ? `control-${item.id}-description` : undefined;
  // Hints only for keys that work: with single-key shortcuts off they would mislead.
  const shortcut = preferences.shortcuts.value ? item.shortcut : undefined;
  const tone = item.tone ?? (item.pressed || item.expanded ? "active" : "default");
  // Always wrapped, so a badge that comes and goes never re-creates a focused button.
  return (
    <span class="relative inline-flex">
      <button
        type="button"
        id={`control-${item.id}`}
        onClick={item.onClick}
        aria-label={item.label}
        aria-pressed={item.pressed}
        aria-expanded={item.expanded}
        aria-controls={item.controls}
        aria-haspopup={item.dialog ? "dialog" : undefined}
        aria-describedby={descId}
        aria-keyshortcuts={shortcut}
        disabled={item.disabled}
        title={shortcut ? `${item.label} (${shortcut})` : item.label}
        class={`${BUTTON} ${TONES[tone]}`}
      >
        <Icon
          name={typeof item.icon === "string" ? item.icon : undefined}
          path={typeof item.icon === "string" ? undefined : item.icon.path}
        />
        {description && <span id={descId} class="sr-only">{description}</span>}
      </button>
      {item.count ? <Badge count={item.count} /> : null}
    </span>
  );
}

/** Narrower than a small tablet: the bar keeps its primary buttons and a "More options" menu. */
const COMPACT = "(max-width: 767px)";

function useCompact(): boolean {
  const compact = useSignal(globalThis.matchMedia?.(COMPACT).matches ?? false);
  useEffect(() => {
    const query = matchMedia(COMPACT);
    const update = () => (compact.value = query.matches);
    update();
    query.addEventListener("change", update);
    return () => query.removeEventListener("change", update);
  }, []);
  return compact.value;
}

/** The phone's "More options": every button that is not primary, as a menu. */
function MoreMenu({ items }: { items: ControlItem[] }) {
  const shortcuts = preferences.shortcuts.value;
  const count = items.reduce((n, i) => n + (i.count ?? 0), 0);
  const actions: MenuAction[] = items.map((item) => ({
    id: item.id,
    label: item.label,
    icon: item.icon,
    checked: item.pressed,
    note: countText(item),
    shortcut: shortcuts ? item.shortcut : undefined,
    disabled: item.disabled,
    onSelect: item.onClick,
  }));
  return (
    <ActionMenu
      // Its button is `MORE_BUTTON_ID` (controls.ts), where focus goes back from its items.
      id="more-options"
      label="More options"
      actions={actions}
      placement="above"
      buttonClass={`${BUTTON} ${TONES[items.some((i) => i.expanded) ? "active" : "default"]}`}
      description={items.filter((i) => i.count).map(countText).join(", ") || undefined}
      badge={count > 0 && <Badge count={count} />}
    />
  );
}

/**
 * The meeting's controls: a toolbar of buttons (on a phone, one row of the primary ones and
 * "More options"), the popup a button opened, the bar's dialogs (leave, settings, keyboard
 * shortcuts), and the features' alerts. Every button has a name, a state and a tooltip; focus
 * goes back to the button that opened something when it closes.
 */
export function ControlBar(
  { meeting, features, controls, state }: {
    meeting: MeetingCore;
    features: readonly FeatureModule[];
    controls: Controls;
    state: ControlState;
  },
) {
  const compact = useCompact();
  const items = allItems(controls);
  const dialog = state.dialog.value;
  const popupId = state.popup.value;
  const Popup = features.flatMap((f) => f.ui.controls ?? []).find((c) => c.id === popupId)?.Popup;
  const custom = features.map(({ definition, ui }) =>
    ui.Control && <ui.Control key={definition.name} meeting={meeting} />
  );
  const button = (item: ControlItem) => <ControlItemButton key={item.id} item={item} />;

  // Focus back to what opened a dialog, should the dialog not have done it (it unmounted with
  // focus inside, leaving it on the page's body).
  const opener = useRef<HTMLElement | null>(null);
  useEffect(() => {
    if (dialog !== null) return;
    const target = opener.current;
    opener.current = null;
    const active = document.activeElement;
    if (target?.isConnected && (!active || active === document.body)) target.focus();
  }, [dialog]);
  if (dialog !== null && opener.current === null) {
    opener.current = document.activeElement as HTMLElement | null;
  }
  const closeDialog = () => (state.dialog.value = null);

  let bar: ComponentChildren;
  if (compact) {
    const primary = items.filter((i) => i.primary);
    bar = [
      ...primary.filter((i) => i.tone !== "danger").map(button),
      ...custom,
      <MoreMenu key="more" items={items.filter((i) => !i.primary)} />,
      ...primary.filter((i) => i.tone === "danger").map(button),
    ];
  } else {
    bar = [
      ...controls.media.map(button),
      ...features.map((_, i) => [...controls.features[i].map(button), custom[i]]),
      ...[...controls.panels, ...controls.end].map(button),
    ];
  }

  return (
    <div class="relative">
      {Popup && popupId && (
        <div
          id={`${popupId}-popup`}
          onKeyDown={(e) => {
            if (e.key !== "Escape") return;
            e.stopPropagation();
            closePopup(state);
          }}
          class="absolute bottom-full left-1/2 z-30 mb-3 -translate-x-1/2"
        >
          <Popup meeting={meeting} close={() => closePopup(state)} />
        </div>
      )}
      <div
        role="toolbar"
        aria-label="Meeting controls"
        class="flex flex-wrap items-center justify-center gap-2"
      >
        {bar}
      </div>
      {dialog === "leave" && (
        <ConfirmDialog
          title="Leave the meeting?"
          confirmLabel="Leave"
          onCancel={closeDialog}
          onConfirm={() => {
            closeDialog();
            meeting.leave();
          }}
        >
          <p>The others go on without you. You can come back with the same link.</p>
        </ConfirmDialog>
      )}
      {dialog === "settings" && <LazySettingsDialog meeting={meeting} onClose={closeDialog} />}
      {dialog === "shortcuts" && <ShortcutsDialog items={items} onClose={closeDialog} />}
      {features.map(({ definition, ui }) =>
        ui.Alerts && <ui.Alerts key={definition.name} meeting={meeting} />
      )}
    </div>
  );
}
