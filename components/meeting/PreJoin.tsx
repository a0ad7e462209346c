import { useSignal } from "@preact/signals";
import { useEffect, useMemo, useRef } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { meetingLink } from "../../mesh/meeting_key.ts";
import { Button } from "../Button.tsx";
import { useMicLevel } from "./mic_level.ts";
import { DevicePickers } from "./DevicePickers.tsx";
import { Icon } from "./icons.tsx";
import { StreamVideo } from "./media_elements.tsx";
import { preferences } from "./preferences.ts";
import { useOccupancy } from "./use_occupancy.ts";
import { joinBlocked, WhoIsHere } from "./WhoIsHere.tsx";

const NAME_KEY = "mooz:name";
const MAX_NAME = 64;
/** How long "Link copied" stays: long enough to read, gone before it could be taken for news. */
const COPIED_MS = 4_000;

/** Microphone and camera as the person left them; both on for a first visit. */
export interface MediaWanted {
  mic: boolean;
  camera: boolean;
}

function storedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    return ""; // storage disabled (private mode, policy): start empty
  }
}

/**
 * The screen before the meeting: name, camera preview, mic meter, device choice, who is already
 * there, invite link. Renders `meeting.media` and calls the meeting's actions; `meeting` is null
 * while rendering on the server, before the browser's meeting core exists. `media`: how to open
 * the microphone and camera (as the person had them when they left, for "Rejoin").
 */
export function PreJoin(
  { room, meeting, media: wanted = { mic: true, camera: true } }: {
    room: string;
    meeting: MeetingCore | null;
    media?: MediaWanted;
  },
) {
  const name = useSignal("");
  const copied = useSignal("");
  const copiedTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const nameError = useSignal("");
  const media = meeting?.media;
  const level = useMicLevel(media);
  const micOn = media?.micOn.value ?? false;
  const camOn = (media?.video.value ?? null) !== null;
  const ready = media?.ready.value ?? false;
  const notices = media?.notices.value.map((n) => n.message) ?? [];
  const joining = meeting?.phase.value === "joining";
  const error = meeting?.joinError.value ?? "";
  const occupancy = useOccupancy(room, meeting?.key.key ?? null);
  const blocked = joinBlocked(occupancy.value);
  // The whole link, key included; none on the server, which never knows the key.
  const link = meeting ? meetingLink(location.origin, room, meeting.key.key) : "";
  const videoTrack = media?.video.value ?? null;
  // A new stream per track, so the preview notices the change.
  const preview = useMemo(() => videoTrack ? new MediaStream([videoTrack]) : null, [videoTrack]);

  // What was typed before the page hydrated wins over the remembered name.
  const nameInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    name.value = nameInput.current?.value || storedName();
    // The first thing to do here is type a name. The server-rendered field has `autofocus`;
    // a screen made anew ("Rejoin") needs the call, unless focus went somewhere on purpose.
    const active = document.activeElement;
    if (!active || active === document.body) nameInput.current?.focus();
    return () => clearTimeout(copiedTimer.current);
  }, []);
  useEffect(() => {
    if (!media || !meeting) return;
    // For the whole meeting: the settings dialog changes the preference, the microphone follows.
    media.followNoiseSuppression(preferences.noiseSuppression);
    // The camera stays off (its light too) for someone who left with it off; a muted
    // microphone still opens, for the level meter and an instant unmute.
    void media.open({ audio: true, video: wanted.camera }).then(() => {
      if (!wanted.mic && media.micOn.peek()) void meeting.setMic(false);
    });
  }, [media]);

  async function copyLink() {
    clearTimeout(copiedTimer.current);
    // Emptied first, so a second copy is announced again.
    copied.value = "";
    try {
      await navigator.clipboard.writeText(link);
      copied.value = "Link copied. Send it to the people you want to meet.";
    } catch {
      copied.value = "Copying was blocked by the browser: select the link and copy it yourself.";
    }
    copiedTimer.current = setTimeout(() => (copied.value = ""), COPIED_MS);
  }

  function submit(e: Event) {
    e.preventDefault();
    if (blocked) return;
    const trimmed = name.value.trim();
    if (!trimmed) {
      nameError.value = "Enter your name so the others know who joined.";
      return;
    }
    try {
      localStorage.setItem(NAME_KEY, trimmed);
    } catch {
      // Not remembering the name is fine.
    }
    void meeting?.join(trimmed);
  }

  const toggleClass = (on: boolean) =>
    `flex h-11 w-11 items-center justify-center rounded-full focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300 ${
      on
        ? "bg-slate-800/90 text-white hover:bg-slate-700"
        : "bg-rose-600 text-white hover:bg-rose-700"
    }`;

  return (
    <section
      class="flex flex-1 flex-col items-center justify-center py-6 sm:py-10"
      aria-labelledby="prejoin-title"
    >
      <div class="grid w-full max-w-4xl gap-6 md:grid-cols-2">
        <div>
          <div class="relative aspect-video overflow-hidden rounded-2xl bg-slate-900 ring-1 ring-slate-800">
            {preview ? <StreamVideo stream={preview} mirror label="Camera preview" /> : (
              <div
                role="img"
                aria-label="Camera preview"
                class="flex h-full w-full items-center justify-center text-sm text-slate-400"
              >
                {ready ? "Camera is off" : "Starting camera…"}
              </div>
            )}
            <div class="absolute inset-x-0 bottom-3 flex justify-center gap-3">
              <button
                type="button"
                aria-label="Microphone"
                aria-pressed={micOn}
                title={micOn ? "Mute microphone" : "Unmute microphone"}
                onClick={() => void meeting?.setMic(!micOn)}
                class={toggleClass(micOn)}
              >
                <Icon name={micOn ? "mic" : "micOff"} />
              </button>
              <button
                type="button"
                aria-label="Camera"
                aria-pressed={camOn}
                title={camOn ? "Turn camera off" : "Turn camera on"}
                onClick={() => void meeting?.setCamera(!camOn)}
                class={toggleClass(camOn)}
              >
                <Icon name={camOn ? "cam" : "camOff"} />
              </button>
            </div>
          </div>
          <div class="mt-3 flex items-center gap-3">
            <Icon name="mic" class="h-4 w-4 text-slate-400" />
            <div
              role="meter"
              aria-label="Microphone level"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={Math.round(level.value * 100)}
              class="h-2 flex-1 overflow-hidden rounded-full bg-slate-800"
            >
              <div
                class="h-full origin-left rounded-full bg-emerald-400 transition-transform duration-75"
                ref={(el) => {
                  // Set through the CSSOM: the page's CSP refuses inline style attributes.
                  if (el) el.style.transform = `scaleX(${level.value})`;
                }}
              />
            </div>
          </div>
          <div class="mt-3 flex gap-3">
            <DevicePickers meeting={meeting} />
          </div>
          <div role="status" class="mt-3 space-y-1 text-sm text-amber-200">
            {notices.map((n) => <p key={n}>{n}</p>)}
            {ready && !micOn && !camOn && notices.length > 0 && (
              <p class="text-slate-300">You can still join to listen, watch and chat.</p>
            )}
          </div>
        </div>
        <div class="rounded-2xl bg-slate-900 p-6 shadow-xl ring-1 ring-slate-800 sm:p-8">
          <h1 id="prejoin-title" class="text-2xl font-bold text-white">Ready to join?</h1>
          <p class="mt-1 break-all text-sm text-slate-400">
            Meeting <span class="font-mono text-slate-300">{room}</span>
          </p>
          <WhoIsHere occupancy={occupancy.value} />
          <form class="mt-6" onSubmit={submit} noValidate>
            <label for="prejoin-name" class="block text-sm font-medium text-slate-200">
              Your name
            </label>
            <input
              ref={nameInput}
              autoFocus
              id="prejoin-name"
              name="name"
              type="text"
              required
              maxLength={MAX_NAME}
              autoComplete="name"
              placeholder="How others will see you"
              value={name}
              onInput={(e) => {
                name.value = e.currentTarget.value;
                nameError.value = "";
              }}
              aria-invalid={nameError.value ? "true" : "false"}
              aria-describedby="prejoin-error"
              class="mt-2 w-full rounded-xl bg-slate-950 px-4 py-3 text-base text-white placeholder-slate-500 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
            />
            <Button
              type="submit"
              class="mt-4 w-full"
              disabled={joining || !ready || blocked}
              aria-describedby={blocked ? "prejoin-occupancy" : undefined}
            >
              {joining ? "Joining…" : "Join meeting"}
            </Button>
            <p id="prejoin-error" role="alert" class="mt-3 min-h-[1.25rem] text-sm text-rose-300">
              {nameError.value || error}
            </p>
          </form>
          <div class="mt-2 border-t border-slate-800 pt-4">
            <label for="prejoin-link" class="block text-sm font-medium text-slate-200">
              Invite link
            </label>
            <div class="mt-2 flex gap-2">
              <input
                id="prejoin-link"
                readOnly
                value={link}
                onFocus={(e) => e.currentTarget.select()}
                class="min-w-0 flex-1 rounded-xl bg-slate-950 px-3 py-2 font-mono text-sm text-slate-300 ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
              />
              <Button
                type="button"
                variant="secondary"
                class="px-4 py-2 text-sm"
                onClick={copyLink}
                disabled={!link}
              >
                Copy link
              </Button>
            </div>
            <p role="status" class="mt-2 min-h-[1.25rem] text-sm text-emerald-300">{copied}</p>
          </div>
        </div>
      </div>
    </section>
  );
}
