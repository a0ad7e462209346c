import { type Signal, useSignal } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef } from "preact/hooks";
import type { LocalMedia } from "../../mesh/local_media.ts";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { speaker } from "./audio_output.ts";
import { MediaDeviceSelect, SpeakerSelect } from "./DevicePickers.tsx";
import { Icon } from "./icons.tsx";
import { StreamVideo } from "./media_elements.tsx";
import { type Layout, preferences } from "./preferences.ts";
import { playTestSound } from "./test_sound.ts";

/** What Tab can reach, in order (of a radio group, only the checked radio is in the Tab order). */
const TABBABLE =
  "button:not([disabled]), select:not([disabled]), input:not([disabled]):not([type=radio]), input[type=radio]:checked:not([disabled]), [tabindex]:not([tabindex='-1'])";

/**
 * The meeting's settings, in a modal dialog: microphone (with its level, and noise suppression),
 * speaker (with a test sound), camera (with a preview), self view, sounds, single-key shortcuts
 * and layout. Devices switch at once, on every link; the rest are the person's preferences
 * (preferences.ts), kept for later meetings.
 *
 * A native `<dialog>` opened with `showModal`: the page behind is inert, Tab and Shift+Tab cycle
 * inside, Esc closes, and focus goes back to what had it (the "Settings" button). Keys pressed
 * inside go no further, so the meeting's single-key shortcuts and its Esc do not act behind it.
 */
export function SettingsDialog(props: { meeting: MeetingCore; onClose: () => void }) {
  const { meeting, onClose } = props;
  const media = meeting.media;
  const dialog = useRef<HTMLDialogElement>(null);

  useLayoutEffect(() => {
    const el = dialog.current;
    if (!el) return;
    const before = document.activeElement as HTMLElement | null;
    // Focus goes to the element marked autofocus (the microphone), else the first control.
    if (!el.open) el.showModal();
    return () => {
      if (el.open) el.close();
      if (before?.isConnected) before.focus();
    };
  }, []);

  const onKeyDown = (e: KeyboardEvent) => {
    e.stopPropagation();
    if (e.key === "Escape") {
      e.preventDefault();
      onClose();
    } else if (e.key === "Tab" && dialog.current) {
      // The browser would let Tab leave a modal dialog for its own toolbar; keep it inside.
      const all = [...dialog.current.querySelectorAll<HTMLElement>(TABBABLE)]
        .filter((el) => el.getClientRects().length > 0);
      const first = all[0], last = all[all.length - 1];
      const active = document.activeElement;
      if (e.shiftKey && (active === first || active === dialog.current)) {
        e.preventDefault();
        last?.focus();
      } else if (!e.shiftKey && active === last) {
        e.preventDefault();
        first?.focus();
      }
    }
  };

  return (
    <dialog
      ref={dialog}
      aria-modal="true"
      aria-labelledby="settings-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onKeyDown={onKeyDown}
      class="w-full overflow-y-auto rounded-2xl sm:max-w-lg bg-slate-900 p-0 text-left text-slate-100 shadow-xl ring-1 ring-slate-700 backdrop:bg-slate-950/70"
    >
      <div class="sticky top-0 z-10 flex items-center justify-between border-b border-slate-800 bg-slate-900 px-5 py-3">
        <h2 id="settings-title" class="text-lg font-semibold text-white">Settings</h2>
        <button
          type="button"
          aria-label="Close settings"
          title="Close settings (Esc)"
          onClick={onClose}
          class="rounded-full p-2 text-slate-300 hover:bg-slate-800 hover:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
        >
          <Icon name="close" />
        </button>
      </div>
      <div class="divide-y divide-slate-800 px-5">
        <Section id="settings-audio" title="Audio">
          <MediaDeviceSelect
            meeting={meeting}
            kind="audio"
            id="settings-microphone"
            label="Microphone"
            autoFocus
          />
          <LevelMeter media={media} />
          <SpeakerSelect meeting={meeting} id="settings-speaker" />
          <TestSound />
          <Switch
            id="settings-noise"
            label="Noise suppression"
            hint="Filters out steady background noise, such as fans and typing."
            value={preferences.noiseSuppression}
          />
        </Section>
        <Section id="settings-video" title="Video">
          <CameraPreview media={media} />
          <MediaDeviceSelect meeting={meeting} kind="video" id="settings-camera" label="Camera" />
          <Switch
            id="settings-self-view"
            label="Hide self view"
            hint="Your own video is hidden from you; the others still see it."
            value={preferences.hideSelfView}
          />
        </Section>
        <Section id="settings-general" title="General">
          <Switch
            id="settings-sounds"
            label="Sounds"
            hint="A short sound when someone joins or leaves, a message arrives or a hand goes up."
            value={preferences.sounds}
          />
          <Switch
            id="settings-shortcuts"
            label="Single-key shortcuts"
            hint="M, V and other single keys work the controls. Turn them off if you use speech input or a switch device."
            value={preferences.shortcuts}
          />
          <LayoutChoice value={preferences.layout} />
        </Section>
      </div>
      <div role="status" class="px-5 pb-4 text-sm text-amber-200">
        {media.notices.value.filter((n) => n.kind !== "screen").map((n) => (
          <p key={n.kind}>{n.message}</p>
        ))}
      </div>
    </dialog>
  );
}

function Section(
  { id, title, children }: { id: string; title: string; children: ComponentChildren },
) {
  return (
    <section aria-labelledby={`${id}-title`} class="space-y-4 py-4">
      <h3 id={`${id}-title`} class="text-xs font-semibold uppercase tracking-wide text-slate-400">
        {title}
      </h3>
      {children}
    </section>
  );
}

/** An on/off preference: a switch named by its label, described by its hint. */
function Switch(
  { id, label, hint, value }: { id: string; label: string; hint: string; value: Signal<boolean> },
) {
  const on = value.value;
  return (
    <div class="flex items-start justify-between gap-4">
      <span>
        <span id={`${id}-label`} class="block text-sm font-medium text-white">{label}</span>
        <span id={`${id}-hint`} class="block text-xs text-slate-400">{hint}</span>
      </span>
      <button
        type="button"
        role="switch"
        id={id}
        aria-checked={on}
        aria-labelledby={`${id}-label`}
        aria-describedby={`${id}-hint`}
        onClick={() => (value.value = !on)}
        class={`relative mt-0.5 inline-flex h-6 w-11 shrink-0 items-center rounded-full transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 focus-visible:ring-offset-2 focus-visible:ring-offset-slate-900 ${
          on ? "bg-indigo-600" : "bg-slate-600"
        }`}
      >
        <span
          aria-hidden="true"
          class={`inline-block h-5 w-5 rounded-full bg-white shadow transition-transform ${
            on ? "translate-x-5" : "translate-x-0.5"
          }`}
        />
      </button>
    </div>
  );
}

/**
 * The microphone's level, moving with the voice, also while muted (to check the microphone
 * before unmuting). Drawn straight into the DOM each frame: the dialog does not re-render.
 */
function LevelMeter({ media }: { media: LocalMedia }) {
  const meterRef = useRef<HTMLDivElement>(null);
  const bar = useRef<HTMLDivElement>(null);
  const track = media.audio.value;
  const muted = track !== null && !media.micOn.value;
  useEffect(() => {
    const meter = media.meter();
    if (!meter) return;
    let frame = 0, shown = -1;
    const tick = () => {
      const level = meter.read();
      const percent = Math.round(level * 100);
      if (percent !== shown) {
        shown = percent;
        meterRef.current?.setAttribute("aria-valuenow", String(percent));
        // Set through the CSSOM: the page's CSP refuses inline style attributes.
        if (bar.current) bar.current.style.transform = `scaleX(${level})`;
      }
      frame = requestAnimationFrame(tick);
    };
    tick();
    return () => {
      cancelAnimationFrame(frame);
      meter.close();
    };
  }, [track]);
  return (
    <div>
      <div class="flex items-center gap-3">
        <Icon name="mic" class="h-4 w-4 text-slate-400" />
        <div
          ref={meterRef}
          role="meter"
          aria-label="Microphone level"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={0}
          class="h-2 flex-1 overflow-hidden rounded-full bg-slate-800"
        >
          <div class="h-full origin-left scale-x-0 rounded-full bg-emerald-400" ref={bar} />
        </div>
      </div>
      {muted && (
        <p class="mt-1 text-xs text-slate-400">
          You're muted: the others don't hear you until you unmute.
        </p>
      )}
    </div>
  );
}

/** "Play test sound": a chime on the chosen speaker, and whether it worked. */
function TestSound() {
  const audio = useRef<HTMLAudioElement>(null);
  const playing = useSignal(false);
  const said = useSignal("");
  const play = async () => {
    if (playing.value || !audio.current) return;
    playing.value = true;
    said.value = "Playing a test sound…";
    try {
      await playTestSound(audio.current, speaker.value);
      said.value = "Test sound played. Didn't hear it? Choose another speaker or turn it up.";
    } catch {
      said.value = "That speaker can't play sound now. Choose another one.";
    } finally {
      playing.value = false;
    }
  };
  return (
    <div class="flex flex-wrap items-center gap-3">
      <button
        type="button"
        onClick={play}
        aria-disabled={playing.value}
        class="inline-flex items-center gap-2 rounded-xl bg-slate-800 px-4 py-2 text-sm font-semibold text-slate-100 ring-1 ring-slate-700 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-slate-300"
      >
        Play test sound
      </button>
      <p role="status" class="min-w-0 flex-1 text-xs text-slate-300">{said}</p>
      {/* Not shown (no controls): it only carries the test sound to the chosen speaker. */}
      <audio ref={audio} data-test-sound />
    </div>
  );
}

/** The camera as it is now, to see the chosen one; says so when it is off. */
function CameraPreview({ media }: { media: LocalMedia }) {
  const track = media.video.value;
  const preview = useMemo(() => track ? new MediaStream([track]) : null, [track]);
  return (
    <div class="aspect-video w-full max-w-xs overflow-hidden rounded-xl bg-slate-950 ring-1 ring-slate-800">
      {preview ? <StreamVideo stream={preview} mirror label="Camera preview" /> : (
        <div
          role="img"
          aria-label="Camera preview"
          class="flex h-full w-full items-center justify-center text-sm text-slate-400"
        >
          Camera is off
        </div>
      )}
    </div>
  );
}

const LAYOUTS: { value: Layout; label: string; hint: string }[] = [
  { value: "grid", label: "Grid", hint: "Everyone the same size." },
  { value: "speaker", label: "Speaker", hint: "Whoever is talking large, the others in a row." },
];

/** Grid or speaker layout: native radios, so the arrow keys move between them. */
function LayoutChoice({ value }: { value: Signal<Layout> }) {
  return (
    <div role="radiogroup" aria-labelledby="settings-layout-label" class="space-y-2">
      <span id="settings-layout-label" class="block text-sm font-medium text-white">Layout</span>
      {LAYOUTS.map((l) => (
        <div key={l.value} class="flex items-start gap-3">
          <input
            type="radio"
            id={`settings-layout-${l.value}`}
            name="settings-layout"
            value={l.value}
            checked={value.value === l.value}
            onChange={() => (value.value = l.value)}
            aria-describedby={`settings-layout-${l.value}-hint`}
            class="mt-1 h-4 w-4 accent-indigo-500"
          />
          <span>
            <label for={`settings-layout-${l.value}`} class="block text-sm text-white">
              {l.label}
            </label>
            <span id={`settings-layout-${l.value}-hint`} class="block text-xs text-slate-400">
              {l.hint}
            </span>
          </span>
        </div>
      ))}
    </div>
  );
}
