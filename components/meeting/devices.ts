/**
 * What a device picker offers: the browser's list of one kind of device, with names for the
 * devices it does not name yet, and, when there is nothing to choose, what to say instead of an
 * empty list.
 *
 * @example
 * ```ts
 * const picker = devicePicker("videoinput", media.devices.value, {
 *   selected: media.selected.value.video,
 *   access: media.access.value.video,
 * });
 * picker.problem; // "No camera found", or null when picker.options lists cameras
 * ```
 */
import type { MediaAccess } from "../../mesh/local_media.ts";

export type DeviceKind = "audioinput" | "videoinput" | "audiooutput";

/** The word for one device of a kind, as a picker's options and messages say it. */
export const DEVICE_NOUN: Record<DeviceKind, string> = {
  audioinput: "Microphone",
  videoinput: "Camera",
  audiooutput: "Speaker",
};

export interface DeviceOption {
  /** The device id ("" before permission: the browser hides ids then). */
  id: string;
  label: string;
}

export interface DevicePicker {
  options: DeviceOption[];
  /** The option shown as selected: one of `options` (never a blank select), or "" without any. */
  value: string;
  /** Whether a device can be chosen: listed with its id. */
  enabled: boolean;
  /** Why there is nothing to choose, said in place of the list; null when there is a list. */
  problem: string | null;
  /** The list's one entry while `options` is empty ("Blocked", "None found"). */
  short: string;
}

/**
 * The picker for `kind` from the browser's `devices`. `selected` is the device in use or chosen;
 * `access` is what the browser said when last asked for this kind (the speaker has none).
 */
export function devicePicker(
  kind: DeviceKind,
  devices: readonly Pick<MediaDeviceInfo, "deviceId" | "kind" | "label">[],
  { selected, access = "unknown" }: { selected?: string; access?: MediaAccess } = {},
): DevicePicker {
  const noun = DEVICE_NOUN[kind];
  if (access === "blocked") {
    return {
      options: [],
      value: "",
      enabled: false,
      problem: `${noun} blocked — allow it in the browser's site settings`,
      short: "Blocked",
    };
  }
  const options: DeviceOption[] = [];
  const seen = new Set<string>();
  for (const d of devices) {
    if (d.kind !== kind || seen.has(d.deviceId)) continue;
    seen.add(d.deviceId);
    // Before permission browsers list devices without names (or ids): number them.
    options.push({ id: d.deviceId, label: d.label || `${noun} ${options.length + 1}` });
  }
  const nameless = options.every((o) => o.id === "");
  if (options.length === 0 || (access === "missing" && nameless)) {
    return {
      options: [],
      value: "",
      enabled: false,
      problem: `No ${noun.toLowerCase()} found`,
      short: "None found",
    };
  }
  // What the browser uses when nothing was chosen is the first of its list.
  const value = options.some((o) => o.id === selected) ? selected! : options[0].id;
  return { options, value, enabled: !nameless, problem: null, short: "" };
}
