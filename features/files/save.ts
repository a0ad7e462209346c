/**
 * Where a received file goes on the person's device: a file they choose (`showSaveFilePicker`,
 * Chromium-based browsers), or the browser's downloads. Browser-only; called from clicks, since
 * both need a user gesture.
 */
import type { SaveTarget } from "./types.ts";

interface SavePickerWindow {
  showSaveFilePicker?(options: { suggestedName?: string }): Promise<SaveTarget>;
}

/** Whether the browser lets the person choose the file to write to. */
export function canChooseFile(): boolean {
  return typeof (globalThis as SavePickerWindow).showSaveFilePicker === "function";
}

/**
 * Asks where to save `name`: the chosen file, "cancelled" when the person closed the dialog, or
 * null when the browser has no such dialog or refused it (keep the file in the browser instead).
 */
export async function chooseFile(name: string): Promise<SaveTarget | "cancelled" | null> {
  const picker = (globalThis as SavePickerWindow).showSaveFilePicker;
  if (typeof picker !== "function") return null;
  try {
    return await picker.call(globalThis, { suggestedName: name });
  } catch (err) {
    return (err as Error).name === "AbortError" ? "cancelled" : null;
  }
}

/** Writes `blob` (read from disk as it goes) into `target`. */
export async function writeTo(target: SaveTarget, blob: Blob): Promise<void> {
  await blob.stream().pipeTo(await target.createWritable());
}

/**
 * Hands `blob` to the browser's downloads as `name`. The browser reads it from its storage as it
 * writes the download; the address is released a minute later (the download holds the data).
 */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
