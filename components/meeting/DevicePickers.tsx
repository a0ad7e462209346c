import type { MeetingCore } from "../../mesh/meeting.ts";
import { canChooseSpeaker, speaker } from "./audio_output.ts";
import { type DevicePicker, devicePicker } from "./devices.ts";

const SELECT =
  "mt-1 w-full truncate rounded-lg bg-slate-950 px-2 py-2 text-sm text-slate-100 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400 disabled:opacity-70";

/**
 * A labelled select of devices. It is never blank: it shows the devices, numbered when the
 * browser does not name them yet, or, when there are none to choose, a word in the list and
 * beside it what happened ("Camera blocked — allow it in the browser's site settings").
 */
export function DeviceSelect(
  { id, label, picker, onChoose, autoFocus }: {
    id: string;
    /** The select's name, shown above it ("Microphone device", "Speaker"). */
    label: string;
    picker: DevicePicker;
    onChoose(deviceId: string): void;
    autoFocus?: boolean;
  },
) {
  const problemId = `${id}-problem`;
  return (
    <div class="min-w-0 flex-1">
      <label for={id} class="block text-xs font-medium text-slate-400">{label}</label>
      <select
        id={id}
        value={picker.value}
        disabled={!picker.enabled}
        autoFocus={autoFocus}
        aria-describedby={picker.problem ? problemId : undefined}
        onChange={(e) => onChoose(e.currentTarget.value)}
        class={SELECT}
      >
        {picker.options.length === 0
          ? <option value="">{picker.short}</option>
          : picker.options.map((d, i) => <option key={d.id || i} value={d.id}>{d.label}</option>)}
      </select>
      {picker.problem && <p id={problemId} class="mt-1 text-xs text-amber-200">{picker.problem}</p>}
    </div>
  );
}

const CHECKING: DevicePicker = {
  options: [],
  value: "",
  enabled: false,
  problem: null,
  short: "Checking…",
};

/**
 * The microphone or camera picker of `meeting`: the device in use (or, with the camera off, the
 * one it comes back on with). Choosing switches the device in use at once, on every link.
 */
export function MediaDeviceSelect(
  { meeting, kind, id, label, autoFocus }: {
    meeting: MeetingCore | null;
    kind: "audio" | "video";
    id: string;
    label: string;
    autoFocus?: boolean;
  },
) {
  const media = meeting?.media;
  // Until the browser has been asked (and on the server), there is nothing to say yet.
  const picker = media?.ready.value
    ? devicePicker(kind === "audio" ? "audioinput" : "videoinput", media.devices.value, {
      selected: media.selected.value[kind],
      access: media.access.value[kind],
    })
    : CHECKING;
  return (
    <DeviceSelect
      id={id}
      label={label}
      picker={picker}
      autoFocus={autoFocus}
      onChoose={(deviceId) => void meeting?.useDevice(kind, deviceId)}
    />
  );
}

/**
 * The speaker picker, for the page's sound (`speaker`); where the browser cannot choose one, a
 * note saying where to change it instead.
 */
export function SpeakerSelect({ meeting, id }: { meeting: MeetingCore | null; id: string }) {
  if (!canChooseSpeaker()) {
    return (
      <p id={id} class="text-sm text-slate-300">
        This browser plays sound on the system's output. Change it in your device's sound settings.
      </p>
    );
  }
  const picker = devicePicker("audiooutput", meeting?.media.devices.value ?? [], {
    selected: speaker.value,
  });
  return (
    <DeviceSelect
      id={id}
      label="Speaker"
      picker={picker}
      onChoose={(deviceId) => (speaker.value = deviceId)}
    />
  );
}

/** The pre-join screen's microphone and camera pickers (side by side in its row). */
export function DevicePickers({ meeting }: { meeting: MeetingCore | null }) {
  return (
    <>
      <MediaDeviceSelect
        meeting={meeting}
        kind="audio"
        id="prejoin-audio-device"
        label="Microphone device"
      />
      <MediaDeviceSelect
        meeting={meeting}
        kind="video"
        id="prejoin-video-device"
        label="Camera device"
      />
    </>
  );
}
