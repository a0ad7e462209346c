/**
 * The settings' "Play test sound": a short chime on the chosen speaker, so people can hear where
 * the meeting's sound will come out before anyone talks.
 */
import { canChooseSpeaker } from "./audio_output.ts";

/** How long the test sound lasts, in seconds. */
const TEST_SOUND_S = 0.75;

/**
 * Plays a short chime on `el` routed to `sinkId` (a tone made with WebAudio, so it needs no file)
 * and resolves when it has finished; rejects when the device cannot be used. Call it from a click:
 * browsers start sound only after one.
 */
export async function playTestSound(el: HTMLAudioElement, sinkId: string): Promise<void> {
  const context = new AudioContext();
  try {
    const out = context.createMediaStreamDestination();
    const start = context.currentTime + 0.05;
    let last: OscillatorNode | undefined;
    // Two soft notes, a rising fifth: heard as a test, not as an alarm.
    for (const [i, frequency] of [523.25, 783.99].entries()) {
      const at = start + i * 0.35;
      const tone = new OscillatorNode(context, { frequency });
      const gain = new GainNode(context, { gain: 0 });
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.001, at + TEST_SOUND_S / 2.5);
      tone.connect(gain).connect(out);
      tone.start(at);
      tone.stop(at + TEST_SOUND_S / 2.5);
      last = tone;
    }
    const ended = new Promise((resolve) => last!.addEventListener("ended", resolve));
    if (canChooseSpeaker() && el.sinkId !== sinkId) await el.setSinkId(sinkId);
    el.srcObject = out.stream;
    await el.play();
    await ended;
  } finally {
    el.pause();
    el.srcObject = null;
    await context.close();
  }
}
