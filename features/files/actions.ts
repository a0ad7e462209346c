/**
 * What the files UI does on a click or a drop, shared by the panel and the drop target: who new
 * files go to, sharing, accepting (with the save dialog where there is one) and saving.
 */
import { signal } from "@preact/signals";
import type { MeetingCore } from "../../mesh/meeting.ts";
import type { PeerId } from "../../mesh/types.ts";
import { files } from "./files.ts";
import { chooseFile, download, writeTo } from "./save.ts";

/** Who files chosen or dropped now go to: everyone (newcomers too) or one person. */
export const sendTo = signal<PeerId | "all">("all");

/** Finished files the person saved to their downloads in this page (to say where they went). */
export const downloaded = signal<ReadonlySet<string>>(new Set());

/** `sendTo`, or everyone when that person is no longer here. */
export function recipient(meeting: MeetingCore): PeerId | "all" {
  const to = sendTo.value;
  return to === "all" || meeting.peers.value.some((p) => p.peer === to) ? to : "all";
}

/** The name of whoever `to` is, for "to everyone" / "to Bob". */
export function recipientName(meeting: MeetingCore, to: PeerId | "all"): string {
  return to === "all" ? "everyone" : meeting.peers.peek().find((p) => p.peer === to)?.name ??
    "someone";
}

/** Shares files (a picker's or a drop's), saying so when the panel may be closed. */
export function shareFiles(meeting: MeetingCore, list: readonly File[], announce: boolean): void {
  if (list.length === 0) return;
  const to = recipient(meeting);
  meeting.feature(files).share(list, to);
  if (announce) {
    const what = list.length === 1 ? list[0].name : `${list.length} files`;
    meeting.notify(
      "info",
      `Sharing ${what} with ${recipientName(meeting, to)}. Files shows how it goes.`,
    );
  }
}

/**
 * Accepts an offer: where the browser lets the person choose the file to write to, they choose it
 * first (closing the dialog leaves the offer waiting); elsewhere it is kept in the browser.
 */
export async function acceptOffer(meeting: MeetingCore, id: string, name: string): Promise<void> {
  const target = await chooseFile(name);
  if (target === "cancelled") return;
  await meeting.feature(files).accept(id, target ?? undefined);
}

/** Saves a finished file kept in the browser: to a chosen file, or to the downloads. */
export async function saveFile(meeting: MeetingCore, id: string, name: string): Promise<void> {
  const feature = meeting.feature(files);
  const blob = await feature.file(id);
  if (!blob) {
    meeting.notify("error", `${name} is no longer in this browser's storage.`);
    return;
  }
  const target = await chooseFile(name);
  if (target === "cancelled") return;
  if (target) {
    try {
      await writeTo(target, blob);
      meeting.notify("info", `${name} is saved as ${target.name}.`);
    } catch (err) {
      meeting.notify("error", `${name} could not be saved (${(err as Error).message}).`);
    }
    return;
  }
  download(blob, name);
  downloaded.value = new Set([...downloaded.peek(), id]);
}
