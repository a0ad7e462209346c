import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { MeetingCore } from "../../mesh/meeting.ts";
import { recipient, recipientName, shareFiles } from "./actions.ts";
import { files } from "./files.ts";

/** Whether a drag carries files (not text or a link dragged within the page). */
function carriesFiles(e: DragEvent): boolean {
  return [...(e.dataTransfer?.types ?? [])].includes("Files");
}

/** The files of a drop, without folders (a folder cannot be read as a file). */
function droppedFiles(e: DragEvent): { files: File[]; folders: number } {
  const items = [...(e.dataTransfer?.items ?? [])].filter((i) => i.kind === "file");
  const out: File[] = [];
  let folders = 0;
  for (const item of items) {
    if (item.webkitGetAsEntry?.()?.isDirectory) {
      folders++;
      continue;
    }
    const file = item.getAsFile();
    if (file) out.push(file);
  }
  return { files: out, folders };
}

/**
 * Dropping files anywhere on the meeting shares them (with whoever the Files panel's "To" names,
 * everyone by default). While files are dragged over the window, a layer says so; it is only a
 * picture of what the drop does (the "Choose files…" button in Files is the way in for keyboards
 * and screen readers), so it is hidden from assistive technology and lets the drop through.
 */
export function DropZone({ meeting }: { meeting: MeetingCore }) {
  const over = useSignal(false);
  useEffect(() => {
    // Beside `__mooz.meeting` (islands/Meeting.tsx): a handle for devtools and end-to-end tests.
    const handle = (globalThis as { __mooz?: Record<string, unknown> }).__mooz;
    if (handle) handle.files = meeting.feature(files);
  }, [meeting]);
  useEffect(() => {
    // dragenter and dragleave fire for every element crossed: count them to know when it left.
    let depth = 0;
    const enter = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      depth++;
      over.value = true;
    };
    const move = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
    };
    const leave = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) over.value = false;
    };
    const drop = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      // Never let the browser open the file in place of the meeting.
      e.preventDefault();
      depth = 0;
      over.value = false;
      const { files, folders } = droppedFiles(e);
      if (folders > 0) {
        meeting.notify(
          "error",
          "Folders can't be sent as they are: put the folder into an archive (zip) and drop that.",
        );
      }
      shareFiles(meeting, files, true);
    };
    addEventListener("dragenter", enter);
    addEventListener("dragover", move);
    addEventListener("dragleave", leave);
    addEventListener("drop", drop);
    return () => {
      removeEventListener("dragenter", enter);
      removeEventListener("dragover", move);
      removeEventListener("dragleave", leave);
      removeEventListener("drop", drop);
    };
  }, []);
  if (!over.value) return null;
  return (
    <div
      aria-hidden="true"
      data-files-drop
      class="pointer-events-none fixed inset-0 z-50 flex items-center justify-center bg-slate-950/80 p-6"
    >
      <p class="rounded-2xl border-4 border-dashed border-indigo-400 px-8 py-10 text-center text-lg font-semibold text-white">
        Drop to send to {recipientName(meeting, recipient(meeting))}
      </p>
    </div>
  );
}
