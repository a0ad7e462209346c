/**
 * The control bar's buttons as data: the core's (microphone, camera, screen, participants, invite
 * link, leave) and each feature's (its `controls` and its panel's button), so the bar, the keyboard
 * shortcuts and the panels all read one list.
 */
import type { MeetingCore } from "../../mesh/meeting.ts";
import { meetingLink } from "../../mesh/meeting_key.ts";
import type { ControlItem } from "./ControlBar.tsx";
import type { IconName } from "./icons.tsx";
import type { ControlSlot, FeatureModule, PanelSlot } from "./slots.ts";

/** A gear (Material Icons "settings", Apache 2.0). */
const SETTINGS_ICON =
  "M19.14 12.94c.04-.3.06-.61.06-.94 0-.32-.02-.64-.07-.94l2.03-1.58a.49.49 0 0 0 .12-.61l-1.92-3.32a.49.49 0 0 0-.59-.22l-2.39.96c-.5-.38-1.03-.7-1.62-.94l-.36-2.54a.48.48 0 0 0-.48-.41h-3.84c-.24 0-.43.17-.47.41l-.36 2.54c-.59.24-1.13.57-1.62.94l-2.39-.96a.48.48 0 0 0-.59.22L2.74 8.87c-.12.21-.08.47.12.61l2.03 1.58c-.05.3-.09.63-.09.94s.02.64.07.94l-2.03 1.58a.49.49 0 0 0-.12.61l1.92 3.32c.12.22.37.29.59.22l2.39-.96c.5.38 1.03.7 1.62.94l.36 2.54c.05.24.24.41.48.41h3.84c.24 0 .44-.17.47-.41l.36-2.54c.59-.24 1.13-.56 1.62-.94l2.39.96c.22.08.47 0 .59-.22l1.92-3.32c.12-.22.07-.47-.12-.61zM12 15.6a3.6 3.6 0 1 1 0-7.2 3.6 3.6 0 0 1 0 7.2z";

/** The core's own panel. */
export const PEOPLE_PANEL = "people";

/** The bar's buttons in their groups, in bar order. */
export interface Controls {
  /** Microphone, camera, share screen. */
  media: ControlItem[];
  /** Each feature's buttons, in registration order. */
  features: ControlItem[][];
  /** One button per panel: the features' panels, then participants. */
  panels: ControlItem[];
  /** Invite link and leave. */
  end: ControlItem[];
}

/** The buttons for the meeting as it is now; `openPanel` is the panel shown, if any. */
export function controlItems(
  meeting: MeetingCore,
  features: readonly FeatureModule[],
  openPanel: string | null,
  togglePanel: (id: string) => void,
  openSettings?: () => void,
): Controls {
  const media = meeting.media;
  const micOn = media.micOn.value;
  const cameraOn = media.video.value !== null;
  const sharing = media.screen.value !== null;
  // A device toggle is red while off.
  const device = (
    id: string,
    label: string,
    on: boolean,
    icons: [IconName, IconName],
    shortcut: string,
    set: (on: boolean) => Promise<void>,
  ): ControlItem => ({
    id,
    label,
    icon: icons[on ? 0 : 1],
    pressed: on,
    tone: on ? "default" : "off",
    shortcut,
    onClick: () => void set(!on),
  });
  const mediaItems = [
    device("mic", "Microphone", micOn, ["mic", "micOff"], "M", (on) => meeting.setMic(on)),
    device("camera", "Camera", cameraOn, ["cam", "camOff"], "V", (on) => meeting.setCamera(on)),
  ];
  if (media.canShareScreen) {
    mediaItems.push({
      id: "share",
      label: "Share screen",
      icon: "screen",
      pressed: sharing,
      shortcut: "S",
      onClick: () => sharing ? meeting.stopScreenShare() : void meeting.startScreenShare(),
    });
  }
  const panelItem = (
    p: { id: string; label: string; shortcut?: string; badgeLabel?: string },
    icon: ControlItem["icon"],
    count?: number,
  ): ControlItem => ({
    id: p.id,
    label: p.label,
    icon,
    expanded: openPanel === p.id,
    controls: `${p.id}-panel`,
    shortcut: p.shortcut,
    count,
    countLabel: p.badgeLabel,
    onClick: () => togglePanel(p.id),
  });
  return {
    media: mediaItems,
    features: features.map(({ ui }) => (ui.controls ?? []).map((c) => slotItem(meeting, c))),
    panels: [
      ...features.flatMap(({ ui: { panel } }) =>
        panel && panelVisible(meeting, panel)
          ? [panelItem(panel, { path: panel.icon }, panel.badge?.(meeting))]
          : []
      ),
      panelItem({ id: PEOPLE_PANEL, label: "Participants", shortcut: "P" }, "people"),
    ],
    end: [
      ...(openSettings
        ? [{
          id: "settings",
          label: "Settings",
          icon: { path: SETTINGS_ICON },
          onClick: openSettings,
        }]
        : []),
      { id: "copy", label: "Copy invite link", icon: "link", onClick: () => copyLink(meeting) },
      {
        id: "leave",
        label: "Leave meeting",
        icon: "leave",
        tone: "danger",
        onClick: () => meeting.leave(),
      },
    ],
  };
}

/** Whether a feature's panel is offered now (host-only panels to hosts only). */
export function panelVisible(meeting: MeetingCore, panel: PanelSlot): boolean {
  return panel.visible?.(meeting) ?? true;
}

function slotItem(meeting: MeetingCore, c: ControlSlot): ControlItem {
  return {
    id: c.id,
    label: c.label,
    icon: { path: typeof c.icon === "string" ? c.icon : c.icon(meeting) },
    pressed: c.pressed?.(meeting),
    expanded: c.expanded?.(meeting),
    shortcut: c.shortcut,
    disabled: c.disabled?.(meeting),
    onClick: () => c.onPress(meeting),
  };
}

async function copyLink(meeting: MeetingCore): Promise<void> {
  // The whole link: without its key (the part after #) nobody could join. The current key: a
  // host may have changed it after removing someone, and the old one no longer gets anyone in.
  const link = meetingLink(location.origin, meeting.roomId, meeting.key.key);
  try {
    await navigator.clipboard.writeText(link);
    meeting.notify("info", "Invite link copied.");
  } catch {
    meeting.notify("error", `Copying was blocked: the link is ${link}`);
  }
}
