/**
 * Turns what the recorder wrote into a file people can play and seek: MediaRecorder's WebM has no
 * duration and no index (cues), and its MP4 is fragmented with no duration in its header, so the
 * packets are copied (not re-encoded) into a new file by a maintained muxer (Mediabunny): an MP4
 * whose index sits at its end, or a WebM with its duration and cues. The file is written into the
 * origin-private file system, from where the person downloads it; Mediabunny is loaded only here,
 * when a recording is saved, never with the meeting.
 *
 * @example
 * ```ts
 * const saved = await finalize(await journal.blob(id), "Mooz meeting 2026-12-03 09.30", (p) => show(p));
 * const file = await savedFile(saved.name); // a disk-backed File: download it with an object URL
 * ```
 */

/** A saved recording in the origin-private file system. */
export interface SavedRecording {
  /** File name, with its extension. */
  name: string;
  size: number;
  /** When it was saved. */
  lastModified: number;
}

const FOLDER = "recordings";

async function folder(): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  return await root.getDirectoryHandle(FOLDER, { create: true });
}

/** Whether this browser can save recordings (an origin-private file system). */
export function canSave(): boolean {
  return typeof navigator !== "undefined" && typeof navigator.storage?.getDirectory === "function";
}

/** A file name for a recording that started at `startedAt`: "Mooz meeting 2026-12-03 09.30". */
export function recordingTitle(startedAt: number): string {
  const d = new Date(startedAt);
  const two = (n: number) => String(n).padStart(2, "0");
  return `Mooz meeting ${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}.${two(d.getMinutes())}`;
}

/** The extension for a recorder's MIME type. */
export function extensionOf(mimeType: string): "mp4" | "webm" {
  return mimeType.startsWith("video/mp4") ? "mp4" : "webm";
}

/**
 * Copies the recording in `raw` (MediaRecorder's output, fragmented MP4 or WebM) into a new,
 * seekable file named after `title` in the origin-private file system; `onProgress` hears 0..1.
 * Returns the saved file. The raw data is read from disk as needed, never whole into memory.
 */
export async function finalize(
  raw: Blob,
  title: string,
  onProgress?: (progress: number) => void,
): Promise<SavedRecording> {
  const mb = await import("mediabunny");
  const mp4 = extensionOf(raw.type) === "mp4";
  const dir = await folder();
  const name = await freeName(dir, title, mp4 ? "mp4" : "webm");
  const handle = await dir.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  const input = new mb.Input({ source: new mb.BlobSource(raw), formats: [mb.MP4, mb.WEBM] });
  try {
    const output = new mb.Output({
      // MP4: the index at the end (no fast start), which keeps only the index in memory.
      format: mp4 ? new mb.Mp4OutputFormat({ fastStart: false }) : new mb.WebMOutputFormat(),
      target: new mb.StreamTarget(writable, { chunked: true }),
    });
    const conversion = await mb.Conversion.init({
      input,
      output,
      video: { forceTranscode: false },
      audio: { forceTranscode: false },
    });
    if (!conversion.isValid) {
      throw new Error(
        "The recording could not be written as a file: " +
          conversion.discardedTracks.map((t) => t.reason).join(", "),
      );
    }
    if (onProgress) conversion.onProgress = (p) => onProgress(p);
    await conversion.execute();
  } catch (err) {
    await writable.abort().catch(() => {});
    await dir.removeEntry(name).catch(() => {});
    throw err;
  } finally {
    input.dispose?.();
  }
  const file = await handle.getFile();
  return { name, size: file.size, lastModified: file.lastModified };
}

async function freeName(dir: FileSystemDirectoryHandle, title: string, ext: string) {
  const taken = new Set<string>();
  for await (const key of dir.keys()) taken.add(key);
  for (let n = 1;; n++) {
    const name = n === 1 ? `${title}.${ext}` : `${title} (${n}).${ext}`;
    if (!taken.has(name)) return name;
  }
}

/** The saved recordings, newest first. */
export async function savedRecordings(): Promise<SavedRecording[]> {
  if (!canSave()) return [];
  const dir = await folder();
  const list: SavedRecording[] = [];
  for await (const handle of dir.values()) {
    if (handle.kind !== "file") continue;
    const file = await (handle as FileSystemFileHandle).getFile();
    list.push({ name: handle.name, size: file.size, lastModified: file.lastModified });
  }
  return list.sort((a, b) => b.lastModified - a.lastModified);
}

/** A saved recording's file (disk-backed). */
export async function savedFile(name: string): Promise<File> {
  return await (await (await folder()).getFileHandle(name)).getFile();
}

/** Deletes a saved recording. */
export async function deleteSaved(name: string): Promise<void> {
  await (await folder()).removeEntry(name);
}
