import assert from "node:assert/strict";
import { extensionOf, recordingTitle } from "./finalize.ts";
import { formatBytes, formatDuration, MIME_TYPES, pickMimeType } from "./format.ts";

Deno.test("pickMimeType: MP4 (H.264 + Opus) first, then WebM VP9, then VP8; null for none", () => {
  assert.equal(pickMimeType(() => true), "video/mp4;codecs=avc1,opus");
  assert.equal(pickMimeType((t) => t.startsWith("video/webm")), "video/webm;codecs=vp9,opus");
  assert.equal(pickMimeType((t) => t.includes("vp8")), "video/webm;codecs=vp8,opus");
  assert.equal(pickMimeType(() => false), null);
  assert.equal(
    pickMimeType(() => {
      throw new Error("old browser");
    }),
    null,
  );
  assert.ok(MIME_TYPES.every((t) => t.includes("opus")));
});

Deno.test("file names and extensions of recordings", () => {
  assert.equal(extensionOf("video/mp4;codecs=avc1,opus"), "mp4");
  assert.equal(extensionOf("video/webm;codecs=vp9,opus"), "webm");
  const title = recordingTitle(new Date(2026, 11, 3, 9, 5).getTime());
  assert.equal(title, "Mooz meeting 2026-12-03 09.05");
  assert.doesNotMatch(title, /[/\\:]/, "no characters file systems refuse");
});

Deno.test("formatBytes and formatDuration say sizes and times as people read them", () => {
  assert.equal(formatBytes(999), "1 kB");
  assert.equal(formatBytes(12_345_678), "12.3 MB");
  assert.equal(formatBytes(2_500_000_000), "2.50 GB");
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(65_400), "1:05");
  assert.equal(formatDuration(3_723_000), "1:02:03");
});
