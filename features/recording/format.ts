/**
 * Which format the recording is made in: MP4 with H.264 and Opus where the browser's recorder
 * makes it (Chromium), else WebM with VP9 or VP8 and Opus (Firefox). Either is copied into a
 * seekable file when saved (finalize.ts). Also how sizes and times read in the panel.
 */

/** The formats tried, best first. */
export const MIME_TYPES = [
  "video/mp4;codecs=avc1,opus",
  "video/webm;codecs=vp9,opus",
  "video/webm;codecs=vp8,opus",
] as const;

/** The first of `MIME_TYPES` the browser can record, or null (`MediaRecorder.isTypeSupported`). */
export function pickMimeType(isTypeSupported: (type: string) => boolean): string | null {
  return MIME_TYPES.find((t) => {
    try {
      return isTypeSupported(t);
    } catch {
      return false;
    }
  }) ?? null;
}

/** "12.3 MB" */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000_000) return `${Math.max(0, Math.round(bytes / 1000))} kB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(2)} GB`;
}

/** "1:05", "1:02:03" */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return s >= 3600
    ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`
    : `${Math.floor(s / 60)}:${two(s % 60)}`;
}
