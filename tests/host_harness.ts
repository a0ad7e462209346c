/**
 * Helpers for the host-controls browser tests (host_controls_test.ts), through the selectors of
 * tests/MEETING_UI_CONTRACT.md: the participants panel and its per-person menus, the "Host
 * controls" panel, the lobby's waiting screen, and what a page's core knows of the room (hosts,
 * key, epoch) and of its links.
 */
import type { Locator, Page } from "playwright-core";
import type { MeetingCore } from "../mesh/meeting.ts";
import {
  bounded,
  control,
  fillPreJoin,
  linkStats,
  type MediaChoice,
  type MeetingWorld,
  type Participant,
  waitForPhase,
} from "./meeting_harness.ts";

/** Neither microphone nor camera: data-only meetings. */
export const OFF: MediaChoice = { mic: false, camera: false };

/** The participants side panel (open it with `openParticipants`). */
export function participantsPanel(page: Page): Locator {
  return page.getByRole("complementary", { name: "Participants" });
}

/** Opens the participants panel if it is closed. */
export async function openParticipants(page: Page): Promise<Locator> {
  const button = control(page, "Participants");
  if (await button.getAttribute("aria-expanded") !== "true") await button.click();
  const panel = participantsPanel(page);
  await panel.waitFor();
  return panel;
}

/** The "Host controls" side panel. */
export function hostPanel(page: Page): Locator {
  return page.getByRole("complementary", { name: "Host controls" });
}

/** Opens the "Host controls" panel (hosts only) if it is closed. */
export async function openHostControls(page: Page): Promise<Locator> {
  const button = control(page, "Host controls");
  if (await button.getAttribute("aria-expanded") !== "true") await button.click();
  const panel = hostPanel(page);
  await panel.waitFor();
  return panel;
}

/** The menu button "Actions for <name>" in the participants panel (opened). */
export async function personMenuButton(page: Page, name: string): Promise<Locator> {
  const panel = await openParticipants(page);
  return panel.getByRole("button", { name: `Actions for ${name}`, exact: true });
}

/** Opens the actions menu of `name` and chooses `item`. */
export async function choosePersonAction(page: Page, name: string, item: string): Promise<void> {
  const button = await personMenuButton(page, name);
  await button.click();
  await page.getByRole("menu", { name: `Actions for ${name}` })
    .getByRole("menuitem", { name: item, exact: true }).click();
}

/** Removes `name` through its menu and the confirmation dialog; resolves at the confirming click. */
export async function removeFromMeeting(page: Page, name: string): Promise<void> {
  await choosePersonAction(page, name, "Remove from meeting");
  const dialog = page.getByRole("dialog", { name: `Remove ${name} from the meeting?` });
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "Remove", exact: true }).click();
}

/** Opens a participant and asks to join; waits for the lobby's waiting screen. */
export async function joinToLobby(w: MeetingWorld, name: string): Promise<Participant> {
  const p = await w.open(name);
  await p.page.goto(w.link);
  await fillPreJoin(p.page, name, OFF);
  await p.page.getByRole("button", { name: "Join meeting" }).click();
  await waitForPhase(p.page, "waiting", { who: name, timeoutMs: 30_000 });
  w.log(`${name} is waiting in the lobby`);
  return p;
}

/** The page's link fragment, without `#`: the meeting key the address bar carries. */
export async function fragment(page: Page): Promise<string> {
  return await bounded(page.evaluate(() => location.hash.slice(1)), 5_000, "location.hash");
}

/** What the page's core knows of the room (`__mooz.meeting.room`), for assertions and diagnostics. */
export interface RoomSeen {
  hosts: string[];
  isHost: boolean;
  locked: boolean;
  lobby: boolean;
  key: string;
  keyEpoch: number;
  removals: { peer: string; code: string; by: string | null }[];
}

export async function roomSeen(page: Page): Promise<RoomSeen | null> {
  return await bounded(
    page.evaluate(() => {
      const core = (globalThis as unknown as { __mooz?: { meeting: MeetingCore } }).__mooz?.meeting;
      const room = core?.room;
      if (!room) return null;
      return {
        hosts: [...room.hosts.value],
        isHost: room.isHost.value,
        locked: room.locked.value,
        lobby: room.lobby.value,
        key: room.key.value,
        keyEpoch: room.keyEpoch.value,
        removals: room.removals.value.map((r) => ({ peer: r.peer, code: r.code, by: r.by })),
      };
    }),
    5_000,
    "reading __mooz.meeting.room",
  );
}

/** Peer ids the page has a peer connection with (`__mooz.meeting.stats()`), any state. */
export async function linkedPeers(page: Page): Promise<string[]> {
  return Object.keys(await linkStats(page)).sort();
}

/** Total of the page's dropped signals (`signalsDropped`: did not open with its keys). */
export async function signalsDroppedTotal(page: Page): Promise<number> {
  return await bounded(
    page.evaluate(() => {
      const core = (globalThis as unknown as { __mooz?: { meeting: MeetingCore } }).__mooz?.meeting;
      return Object.values(core?.signalsDropped ?? {}).reduce((a, b) => a + b, 0);
    }),
    5_000,
    "reading signalsDropped",
  );
}

/** The page's local microphone: whether a track exists, is enabled, and `micOn`. */
export async function micState(
  page: Page,
): Promise<{ track: boolean; enabled: boolean | null; micOn: boolean }> {
  return await bounded(
    page.evaluate(() => {
      const core = (globalThis as unknown as { __mooz: { meeting: MeetingCore } }).__mooz.meeting;
      const track = core.media.audio.value;
      return {
        track: track !== null,
        enabled: track?.enabled ?? null,
        micOn: core.media.micOn.value,
      };
    }),
    5_000,
    "reading the microphone",
  );
}

/** The texts of the page's toasts (the status region at the top). */
export async function toastTexts(page: Page): Promise<string[]> {
  return await bounded(
    page.evaluate(() =>
      (globalThis as unknown as { __mooz: { meeting: MeetingCore } }).__mooz.meeting
        .notices.value.map((n) => n.text)
    ),
    5_000,
    "reading the toasts",
  );
}
