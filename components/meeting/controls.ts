/**
 * The control bar's buttons as data: the core's (microphone, camera, screen, participants, invite
 * link, settings, keyboard shortcuts, leave) and each feature's (its `controls` and its panel's
 * button), so the bar, the phone's "More options" menu, the keyboard shortcuts and their help
 * all read one list. Also what they open (a panel, a popup, a dialog) and where focus goes back
 * when that closes.
 */
import { type Signal, useSignal } from "@preact/signals";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { meetingLink } from "../../mesh/meeting_key.ts";
import type { ControlItem } from "./ControlBar.tsx";
import type { IconName } from "./icons.tsx";
import type { ControlSlot, FeatureModule, PanelSlot } from "./slots.ts";

/** The core's own panel. */
export const PEOPLE_PANEL = "people";

/** Element id of the phone's "More options" button. */
export const MORE_BUTTON_ID = "more-options-button";

/** The dialogs the bar opens. */
export type BarDialog = "leave" | "settings" | "shortcuts";

/** What the bar has open: at most one panel, one popup and one dialog. */
export interface ControlState {
  /** The side panel shown (a feature's panel id, or `PEOPLE_PANEL`). */
  panel: Signal<string | null>;
  /** The control whose popup shows (a feature's `Popup`). */
  popup: Signal<string | null>;
  dialog: Signal<BarDialog | null>;
}

/** A fresh `ControlState` for a meeting screen. */
export function useControlState(): ControlState {
  return { panel: useSignal(null), popup: useSignal(null), dialog: useSignal(null) };
}

/** The bar's buttons in their groups, in bar order. */
export interface Controls {
  /** Microphone, camera, share screen. */
  media: ControlItem[];
  /** Each feature's buttons, in registration order. */
  features: ControlItem[][];
  /** One button per panel: the features' panels, then participants. */
  panels: ControlItem[];
  /** Invite link, settings, keyboard shortcuts and leave. */
  end: ControlItem[];
}

/** Every button of `controls`, in bar order. */
export function allItems(controls: Controls): ControlItem[] {
  return [...controls.media, ...controls.features.flat(), ...controls.panels, ...controls.end];
}

/**
 * The bar's button for `id` if the bar shows it, else "More options" (on a phone, where the
 * button is in that menu): where focus goes when what the button opened closes.
 */
export function barButton(id: string): HTMLElement | null {
  const own = document.getElementById(`control-${id}`);
  return own && own.getClientRects().length > 0 ? own : document.getElementById(MORE_BUTTON_ID);
}

/**
 * Sends focus back to the bar's button for `id` if it is inside `container` (which is about to
 * go) or nowhere (on the page's body). Focus the person moved elsewhere stays there.
 */
export function returnFocus(id: string, container: Element | null): void {
  const active = document.activeElement;
  if (!active || active === document.body || container?.contains(active)) barButton(id)?.focus();
}

/** Closes the open side panel; focus inside it goes back to its button. */
export function closePanel(state: ControlState): void {
  const id = state.panel.peek();
  if (id === null) return;
  returnFocus(id, document.getElementById(`${id}-panel`));
  state.panel.value = null;
}

/** Closes the open popup; focus inside it goes back to its button. */
export function closePopup(state: ControlState): void {
  const id = state.popup.peek();
  if (id === null) return;
  returnFocus(id, document.getElementById(`${id}-popup`));
  state.popup.value = null;
}

/** The buttons for the meeting as it is now, opening and closing what `state` holds. */
export function controlItems(
  meeting: MeetingCore,
  features: readonly FeatureModule[],
  state: ControlState,
): Controls {
  const media = meeting.media;
  const micOn = media.micOn.value;
  const cameraOn = media.video.value !== null;
  const sharing = media.screen.value !== null;
  const openPanel = state.panel.value;
  const openPopup = state.popup.value;
  const togglePanel = (id: string) => {
    if (state.panel.peek() === id) closePanel(state);
    else state.panel.value = id;
  };
  const togglePopup = (id: string) => {
    if (state.popup.peek() === id) closePopup(state);
    else state.popup.value = id;
  };
  const openDialog = (dialog: BarDialog) => (state.dialog.value = dialog);
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
    primary: true,
    onClick: () => void set(!on),
  });
  const mediaItems = [
    device("mic", "Microphone", micOn, ["mic", "micOff"], "M", (on) => meeting.setMic(on)),
    device("camera", "Camera", cameraOn, ["cam", "camOff"], "V", (on) => meeting.setCamera(on)),
  ];
  if (media.canShareScreen) {
    // No single key: a stray key press must never show someone's screen.
    mediaItems.push({
      id: "share",
      label: "Share screen",
      icon: "screen",
      pressed: sharing,
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
  const slotItem = (c: ControlSlot): ControlItem => ({
    id: c.id,
    label: c.label,
    icon: { path: typeof c.icon === "string" ? c.icon : c.icon(meeting) },
    pressed: c.pressed?.(meeting),
    expanded: c.Popup ? openPopup === c.id : c.expanded?.(meeting),
    controls: c.Popup && `${c.id}-popup`,
    shortcut: c.shortcut,
    disabled: c.disabled?.(meeting),
    onClick: () => c.Popup ? togglePopup(c.id) : c.onPress?.(meeting),
  });
  return {
    media: mediaItems,
    features: features.map(({ ui }) => (ui.controls ?? []).map(slotItem)),
    panels: [
      ...features.flatMap(({ ui: { panel } }) =>
        panel && panelVisible(meeting, panel)
          ? [panelItem(panel, { path: panel.icon }, panel.badge?.(meeting))]
          : []
      ),
      panelItem({ id: PEOPLE_PANEL, label: "Participants", shortcut: "P" }, "people"),
    ],
    end: [
      { id: "copy", label: "Copy invite link", icon: "link", onClick: () => copyLink(meeting) },
      {
        id: "settings",
        label: "Settings",
        icon: "settings",
        dialog: true,
        onClick: () => openDialog("settings"),
      },
      {
        id: "shortcuts",
        label: "Keyboard shortcuts",
        icon: "keyboard",
        shortcut: "?",
        dialog: true,
        onClick: () => openDialog("shortcuts"),
      },
      {
        id: "leave",
        label: "Leave meeting",
        icon: "leave",
        tone: "danger",
        primary: true,
        dialog: true,
        onClick: () => openDialog("leave"),
      },
    ],
  };
}

/** Whether a feature's panel is offered now (host-only panels to hosts only). */
export function panelVisible(meeting: MeetingCore, panel: PanelSlot): boolean {
  return panel.visible?.(meeting) ?? true;
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
