/**
 * Where the meeting's sound plays: the speaker (audio output device) the person chose, for every
 * audio element of the page, through `HTMLMediaElement.setSinkId` where the browser has it.
 *
 * @example Play an element on the chosen speaker, and change the choice
 * ```ts
 * const stop = followSpeaker(audioElement);
 * speaker.value = deviceId; // every following element moves to it
 * stop();
 * ```
 */
import { effect, signal } from "@preact/signals-core";

/**
 * The chosen output device ("" = the system's default). One for the page, like its autoplay
 * state (media_elements.tsx): the person hears the whole meeting on one device.
 */
export const speaker = signal("");

/** Whether this browser can send an element's sound to a chosen device (Safari cannot). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}

/** Plays `el` on the chosen speaker from now on; returns a function that stops following. */
export function followSpeaker(el: HTMLMediaElement): () => void {
  if (!canChooseSpeaker()) return () => {};
  return effect(() => {
    const id = speaker.value;
    // A device unplugged meanwhile: the element stays where it plays.
    if (el.sinkId !== id) el.setSinkId(id).catch(() => {});
  });
}
