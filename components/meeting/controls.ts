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

/** A gear (24×24); here, not in icons.tsx, to stay off the pre-join screen's first load. */
const SETTINGS_ICON =
  "M19.1 12.9a7 7 0 0 0 0-1.8l2-1.6a.5.5 0 0 0 .1-.6l-1.9-3.3a.5.5 0 0 0-.6-.2l-2.4 1a7 7 0 0 0-1.6-.9L14.4 3a.5.5 0 0 0-.5-.4h-3.8a.5.5 0 0 0-.5.4l-.4 2.5a7 7 0 0 0-1.6.9l-2.4-1a.5.5 0 0 0-.6.2L2.7 8.9a.5.5 0 0 0 .1.6l2 1.6a7 7 0 0 0 0 1.8l-2 1.6a.5.5 0 0 0-.1.6l1.9 3.3c.1.2.4.3.6.2l2.4-1a7 7 0 0 0 1.6.9l.4 2.5c0 .2.2.4.5.4h3.8c.3 0 .5-.2.5-.4l.4-2.5a7 7 0 0 0 1.6-.9l2.4 1c.2.1.5 0 .6-.2l1.9-3.3a.5.5 0 0 0-.1-.6zM12 15.6a3.6 3.6 0 1 1 0-7.2 3.6 3.6 0 0 1 0 7.2z";

/** A keyboard (24×24). */
const KEYBOARD_ICON =
  "M20 5H4a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm-9 3h2v2h-2zm0 3h2v2h-2zM8 8h2v2H8zm0 3h2v2H8zM5 8h2v2H5zm0 3h2v2H5zm11 6H8v-2h8zm0-4h-2v-2h2zm0-3h-2V8h2zm3 3h-2v-2h2zm0-3h-2V8h2z";

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
        icon: { path: SETTINGS_ICON },
        dialog: true,
        onClick: () => openDialog("settings"),
      },
      {
        id: "shortcuts",
        label: "Keyboard shortcuts",
        icon: { path: KEYBOARD_ICON },
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
