/**
 * The recording this page makes, kept outside any component so that closing the Recording panel
 * never stops it: one at a time per page. Starting loads the recorder (recorder.ts) then; until
 * someone presses Record, none of its code is fetched.
 */
import { signal } from "@preact/signals-core";
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { MeetingRecorder } from "./recorder.ts";
import type { Recording } from "./recording.ts";

/** This page's recording: the one running, or the last one (saved or failed). */
export const current = signal<MeetingRecorder | null>(null);
/** Whether a recording is starting (loading the recorder, opening the journal). */
export const starting = signal(false);
/** Why the last attempt to start failed, in words for the person; "" otherwise. */
export const startError = signal("");

/** Whether this page records now (running or paused). */
export function isRecording(): boolean {
  const phase = current.peek()?.phase.peek();
  return phase === "recording" || phase === "paused";
}

/**
 * Starts recording `meeting`. Call it from the click on Record: the audio that mixes everyone
 * (and paces the picture) may only start in a person's gesture, so it is made here, at once.
 */
export async function startRecording(meeting: MeetingCore, feature: Recording): Promise<void> {
  if (starting.peek() || isRecording()) return;
  if (!feature.allowed.peek()) {
    startError.value = "Only hosts, and the people they allow, can record this meeting.";
    return;
  }
  let context: AudioContext;
  try {
    context = new AudioContext({ latencyHint: "playback" });
  } catch {
    startError.value = "This browser cannot mix the meeting's sound, so it cannot record.";
    return;
  }
  starting.value = true;
  startError.value = "";
  try {
    const { MeetingRecorder } = await import("./recorder.ts");
    const recorder = await MeetingRecorder.start({ meeting, feature, context });
    current.value = recorder;
    // Beside `__mooz.meeting` (the page's debug handle): frames drawn and dropped, bytes, for
    // the devtools and the benchmark (bench/recording.ts).
    const debug = (globalThis as { __mooz?: Record<string, unknown> }).__mooz;
    if (debug) debug.recorder = recorder;
    meeting.notify("info", "You are recording. Everyone in the meeting sees that you are.");
  } catch (err) {
    void context.close().catch(() => {});
    startError.value = (err as Error)?.message || "The recording could not start.";
  } finally {
    starting.value = false;
  }
}
