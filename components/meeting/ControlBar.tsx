import type { ComponentChildren } from "preact";
import { Icon, type IconName } from "./icons.tsx";

function ControlButton(
  {
    id,
    label,
    icon,
    path,
    pressed,
    expanded,
    onClick,
    tone = "default",
    shortcut,
    description,
    badge,
    controls,
    disabled,
  }: {
    id: string;
    label: string;
    icon?: IconName;
    path?: string;
    pressed?: boolean;
    expanded?: boolean;
    onClick: () => void;
    tone?: "default" | "off" | "danger" | "active";
    shortcut?: string;
    description?: string;
    badge?: ComponentChildren;
    controls?: string;
    disabled?: boolean;
  },
) {
  const colors = {
    default: "bg-slate-800 text-white hover:bg-slate-700",
    off: "bg-rose-600 text-white hover:bg-rose-500",
    danger: "bg-rose-600 text-white hover:bg-rose-500",
    active: "bg-indigo-600 text-white hover:bg-indigo-500",
  }[tone];
  const descId = description ? `control-${id}-description` : undefined;
  const button = (
    <button
      type="button"
      onClick={onClick}
      aria-label={label}
      aria-pressed={pressed}
      aria-expanded={expanded}
      aria-controls={controls}
      aria-describedby={descId}
      aria-keyshortcuts={shortcut}
      disabled={disabled}
      title={shortcut ? `${label} (${shortcut})` : label}
      class={`relative flex h-12 w-12 items-center justify-center rounded-full transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:ring-offset-2 focus-visible:ring-offset-slate-950 disabled:opacity-50 ${colors}`}
    >
      <Icon name={icon} path={path} />
      {description && <span id={descId} class="sr-only">{description}</span>}
    </button>
  );
  // The badge sits beside the button, not in it: a count inside would be visible text missing
  // from the button's name (WCAG 2.5.3); screen readers get it from the description instead.
  // Always wrapped, so a badge that comes and goes never re-creates a focused button.
  return (
    <span class="relative inline-flex">
      {button}
      {badge}
    </span>
  );
}

/** One button of the bar. */
export interface ControlItem {
  id: string;
  label: string;
  /** A core icon's name, or a feature's own 24×24 path. */
  icon: IconName | { path: string };
  pressed?: boolean;
  expanded?: boolean;
  /** Id of the panel the button opens. */
  controls?: string;
  tone?: "default" | "off" | "danger" | "active";
  shortcut?: string;
  /** A count on the button, said as "N unread" (or "N <countLabel>"). */
  count?: number;
  /** What `count` counts, for screen readers (default "unread"). */
  countLabel?: string;
  disabled?: boolean;
  onClick(): void;
}

/** A button from an item: the bar's look, name, state and shortcut for every control. */
export function ControlItemButton({ item }: { item: ControlItem }) {
  const count = item.count ?? 0;
  const icon = typeof item.icon === "string" ? item.icon : undefined;
  return (
    <ControlButton
      id={item.id}
      label={item.label}
      icon={icon}
      path={typeof item.icon === "string" ? undefined : item.icon.path}
      pressed={item.pressed}
      expanded={item.expanded}
      controls={item.controls}
      tone={item.tone ?? (item.pressed || item.expanded ? "active" : "default")}
      shortcut={item.shortcut}
      disabled={item.disabled}
      description={count > 0 ? `${count} ${item.countLabel ?? "unread"}` : undefined}
      onClick={item.onClick}
      badge={count > 0 && (
        <span
          aria-hidden="true"
          class="pointer-events-none absolute -right-1 -top-1 flex h-5 min-w-[1.25rem] items-center justify-center rounded-full bg-rose-500 px-1 text-xs font-bold text-white"
        >
          {count > 99 ? "99+" : count}
        </span>
      )}
    />
  );
}

/** The meeting's controls, in a toolbar; every button has a name, a state and a tooltip. */
export function ControlBar({ children }: { children: ComponentChildren }) {
  return (
    <div
      role="toolbar"
      aria-label="Meeting controls"
      class="flex flex-wrap items-center justify-center gap-2 sm:gap-3"
    >
      {children}
    </div>
  );
}
