/**
 * Short tones for what happens in a meeting while one may be looking elsewhere: someone joins or
 * leaves, a chat message arrives, a hand goes up. Made with WebAudio (no audio files to load),
 * quiet, and off when the person turned sounds off (preferences.ts). Never for our own actions.
 *
 * @example
 * ```ts
 * import { playSound } from "./sounds.ts";
 * playSound("hand"); // someone else raised their hand
 * ```
 */
import { preferences } from "./preferences.ts";

/** What a sound announces. */
export type Sound = "join" | "leave" | "message" | "hand";

/**
 * Each sound's notes (Hz), 90 ms apart, on one oscillator. The first notes differ, so each
 * sound can be told from the others (tests/controls_test.ts listens for them).
 */
export const TONES: Readonly<Record<Sound, readonly number[]>> = {
  join: [587, 880], // rising: someone came
  leave: [880, 587], // falling: someone went
  message: [1047], // one short blip
  hand: [784, 988, 1175], // three steps up: asks for attention
};

/**
 * The least time between two plays of one sound: eight people arriving at once, or a burst of
 * messages, make one sound, not a string of them.
 */
export const MIN_GAP_MS = 1_500;

/** When each sound last played (`performance.now()` or any clock), for `shouldPlay`. */
export type LastPlayed = Partial<Record<Sound, number>>;

/**
 * Whether `sound` plays now: sounds are on, it is not about something we did ourselves, and the
 * same sound did not play within `MIN_GAP_MS`.
 */
export function shouldPlay(
  sound: Sound,
  { enabled, own, now, last }: { enabled: boolean; own: boolean; now: number; last: LastPlayed },
): boolean {
  if (!enabled || own) return false;
  const previous = last[sound];
  return previous === undefined || now - previous >= MIN_GAP_MS;
}

let context: AudioContext | null = null;
const last: LastPlayed = {};

/**
 * Plays `sound` if `shouldPlay` says so (sounds on, not `own`, not just played). The audio
 * context is made at the first sound: the person has clicked Join by then, so the browser lets
 * it play.
 */
export function playSound(sound: Sound, own = false): void {
  const now = performance.now();
  if (!shouldPlay(sound, { enabled: preferences.sounds.peek(), own, now, last })) return;
  last[sound] = now;
  try {
    context ??= new AudioContext();
    if (context.state === "suspended") void context.resume().catch(() => {});
    tone(context, TONES[sound]);
  } catch {
    // No audio output, or WebAudio refused: the toasts still say what happened.
  }
}

const STEP_S = 0.09;
const VOLUME = 0.08;

function tone(ctx: AudioContext, notes: readonly number[]): void {
  const start = ctx.currentTime + 0.01;
  const end = start + notes.length * STEP_S + 0.08;
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = "sine";
  osc.frequency.value = notes[0];
  notes.forEach((f, i) => osc.frequency.setValueAtTime(f, start + i * STEP_S));
  // A soft attack and decay: no click at either end.
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(VOLUME, start + 0.015);
  gain.gain.exponentialRampToValueAtTime(0.0001, end);
  osc.connect(gain).connect(ctx.destination);
  osc.start(start);
  osc.stop(end);
}
