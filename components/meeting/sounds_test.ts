/** When the meeting's sounds play: `shouldPlay`, the decision `playSound` follows. */
import assert from "node:assert/strict";
import { MIN_GAP_MS, shouldPlay, type Sound, TONES } from "./sounds.ts";

const SOUNDS: Sound[] = ["join", "leave", "message", "hand"];

Deno.test("shouldPlay: a sound about someone else plays while sounds are on", () => {
  for (const sound of SOUNDS) {
    assert.equal(shouldPlay(sound, { enabled: true, own: false, now: 0, last: {} }), true, sound);
  }
});

Deno.test("shouldPlay: never while sounds are off, never for our own actions", () => {
  for (const sound of SOUNDS) {
    assert.equal(shouldPlay(sound, { enabled: false, own: false, now: 0, last: {} }), false);
    assert.equal(shouldPlay(sound, { enabled: true, own: true, now: 0, last: {} }), false);
    assert.equal(shouldPlay(sound, { enabled: false, own: true, now: 0, last: {} }), false);
  }
});

Deno.test("shouldPlay: a burst of one sound plays once per gap; other sounds are not held", () => {
  const last = { join: 10_000 };
  const at = (now: number, sound: Sound = "join") =>
    shouldPlay(sound, { enabled: true, own: false, now, last });
  assert.equal(at(10_000), false, "the same moment");
  assert.equal(at(10_000 + MIN_GAP_MS - 1), false, "just inside the gap");
  assert.equal(at(10_000 + MIN_GAP_MS), true, "once the gap is over");
  assert.equal(at(10_001, "leave"), true, "another sound");
  assert.equal(at(10_001, "hand"), true, "another sound");
});

Deno.test("every sound starts on its own note, so each can be told from the others", () => {
  const first = SOUNDS.map((s) => TONES[s][0]);
  assert.equal(new Set(first).size, SOUNDS.length);
  for (const s of SOUNDS) {
    assert.ok(TONES[s].every((f) => f >= 200 && f <= 2_000), `${s}: an audible, gentle pitch`);
  }
});
