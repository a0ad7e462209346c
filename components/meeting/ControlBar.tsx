import type { ComponentChildren } from "preact";
import { Icon, type IconName } from "./icons.tsx";

function ControlButton(
  {
    label,
    icon,
    pressed,
    expanded,
    onClick,
    tone = "default",
    shortcut,
    description,
    badge,
    controls,
  }: {
    label: string;
    icon: IconName;
    pressed?: boolean;
    expanded?: boolean;
    onClick: () => void;
    tone?: "default" | "off" | "danger" | "active";
    shortcut?: string;
    description?: string;
    badge?: ComponentChildren;
    controls?: string;
  },
) {
  const colors = {
    default: "bg-slate-800 text-white hover:bg-slate-700",
    off: "bg-rose-600 text-white hover:bg-rose-500",
    danger: "bg-rose-600 text-white hover:bg-rose-500",
    active: "bg-indigo-600 text-white hover:bg-indigo-500",
  }[tone];
  const descId = description ? `desc-${label.replace(/\W+/g, "-").toLowerCase()}` : undefined;
  return (
    <button
      type="button"
      onClick={onClick}
      aria-label={label}
      aria-pressed={pressed}
      aria-expanded={expanded}
      aria-controls={controls}
      aria-describedby={descId}
      aria-keyshortcuts={shortcut}
      title={shortcut ? `${label} (${shortcut})` : label}
      class={`relative flex h-12 w-12 items-center justify-center rounded-full transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:ring-offset-2 focus-visible:ring-offset-slate-950 ${colors}`}
    >
      <Icon name={icon} />
      {badge}
      {description && <span id={descId} class="sr-only">{description}</span>}
    </button>
  );
}

export interface ControlBarProps {
  micOn: boolean;
  cameraOn: boolean;
  sharing: boolean;
  canShare: boolean;
  handRaised: boolean;
  chatOpen: boolean;
  peopleOpen: boolean;
  unread: number;
  onMic(): void;
  onCamera(): void;
  onShare(): void;
  onHand(): void;
  onChat(): void;
  onPeople(): void;
  onCopy(): void;
  onLeave(): void;
}

/** The meeting's controls; every button has a name, a state and a keyboard shortcut. */
export function ControlBar(p: ControlBarProps) {
  return (
    <div
      role="toolbar"
      aria-label="Meeting controls"
      class="flex flex-wrap items-center justify-center gap-2 sm:gap-3"
    >
      <ControlButton
        label="Microphone"
        icon={p.micOn ? "mic" : "micOff"}
        pressed={p.micOn}
        tone={p.micOn ? "default" : "off"}
        shortcut="M"
        onClick={p.onMic}
      />
      <ControlButton
        label="Camera"
        icon={p.cameraOn ? "cam" : "camOff"}
        pressed={p.cameraOn}
        tone={p.cameraOn ? "default" : "off"}
        shortcut="V"
        onClick={p.onCamera}
      />
      {p.canShare && (
        <ControlButton
          label="Share screen"
          icon="screen"
          pressed={p.sharing}
          tone={p.sharing ? "active" : "default"}
          shortcut="S"
          onClick={p.onShare}
        />
      )}
      <ControlButton
        label="Raise hand"
        icon="hand"
        pressed={p.handRaised}
        tone={p.handRaised ? "active" : "default"}
        shortcut="H"
        onClick={p.onHand}
      />
      <ControlButton
        label="Chat"
        icon="chat"
        expanded={p.chatOpen}
        controls="chat-panel"
        tone={p.chatOpen ? "active" : "default"}
        shortcut="C"
        description={p.unread > 0 ? `${p.unread} unread` : undefined}
        onClick={p.onChat}
        badge={p.unread > 0 && (
          <span
            aria-hidden="true"
            class="absolute -right-1 -top-1 flex h-5 min-w-[1.25rem] items-center justify-center rounded-full bg-rose-500 px-1 text-xs font-bold text-white"
          >
            {p.unread > 99 ? "99+" : p.unread}
          </span>
        )}
      />
      <ControlButton
        label="Participants"
        icon="people"
        expanded={p.peopleOpen}
        controls="people-panel"
        tone={p.peopleOpen ? "active" : "default"}
        shortcut="P"
        onClick={p.onPeople}
      />
      <ControlButton label="Copy invite link" icon="link" onClick={p.onCopy} />
      <ControlButton label="Leave meeting" icon="leave" tone="danger" onClick={p.onLeave} />
    </div>
  );
}
