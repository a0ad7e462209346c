/**
 * Every screen of the app, reached for real: the real server (`deno serve main.ts`), real
 * headless Chromium with a fake camera and microphone, real WebRTC between the pages, and only
 * the clicks and typing a person would do. `SCREENS` lists them in the order one tour reaches
 * them (a later screen may build on an earlier one: the meeting the host started, the person in
 * the lobby); `runTour` drives them all and hands each reached screen to a caller, which resizes
 * it to each of `WIDTHS` and looks at it: tests/axe_screens_test.ts runs axe-core on it,
 * tests/screenshots.ts (`deno task screenshots`) saves a picture of it.
 *
 * Adding a screen is one entry in `SCREENS`: a name (file-name safe), what it shows, and `show`,
 * which drives the tour's pages there and returns the page and a locator that is visible exactly
 * while the screen is on; `widths` when it exists at one size only (a phone's menu).
 *
 * Two servers: `main`, with the default settings, for the meeting and what its host does (killed
 * and started again once, for the reconnecting banner), and `limits`, with a room of two, a short
 * link deadline and a short grace period, for the ends that take a server's limits (room full,
 * evicted) or its absence (unreachable: it is killed). Two browsers: one with a fake camera,
 * microphone and screen that grants every request, for the meetings, and one that refuses camera
 * and microphone, for the visitor's screens before any meeting. Media only where it shows: the
 * host's camera and one screen share; everyone else has camera and microphone off.
 * Selectors are those of tests/MEETING_UI_CONTRACT.md, mostly through the meeting and host
 * harnesses. Like the other WebRTC tests, this runs only in a loopback-only network namespace.
 */
import type { Browser, Locator, Page } from "playwright-core";
import { meetingLink, newMeetingKey } from "../mesh/meeting_key.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { watchErrors } from "./browser.ts";
import { launchBrowser, onlyLoopback } from "./chromium.ts";
import {
  bounded,
  chatLog,
  chatPanel,
  confirmLeave,
  control,
  fillPreJoin,
  join,
  type MediaChoice,
  MeetingWorld,
  openChat,
  type Participant,
  sendChat,
  tileOf,
  until,
  videoRegion,
  waitForPhase,
  waitForRemoteTiles,
  webrtcArgs,
  writeFakeCameraClip,
} from "./meeting_harness.ts";
import {
  choosePersonAction,
  hostPanel,
  joinToLobby,
  OFF,
  openHostControls,
  openParticipants,
  personMenuButton,
} from "./host_harness.ts";
import { type LiveServer, startLiveServer } from "./live_server.ts";

/** A browser window size. */
export interface Viewport {
  width: number;
  height: number;
}

/** A laptop, and a phone held upright (iPhone 12 to 15). */
export const WIDTHS: readonly Viewport[] = [
  { width: 1366, height: 768 },
  { width: 390, height: 844 },
];

/** Where the tour drives pages: wide, so side panels sit beside the tiles, not over the controls. */
const DRIVING_VIEWPORT = WIDTHS[0];

/** A screen on a page: the page, and what is visible exactly while the screen is on. */
export interface Shown {
  page: Page;
  ready: Locator;
}

/** One screen of the app and how to get there. */
export interface Screen {
  /** File-name safe, unique: `prejoin-denied`. */
  name: string;
  /** What the screen shows, for reports. */
  description: string;
  /**
   * The sizes the screen exists at (default: every one of `WIDTHS`); `show` leaves the page at
   * the first of them.
   */
  widths?: readonly Viewport[];
  /** Drives the tour's pages into this screen (after the screens before it). */
  show(tour: Tour): Promise<Shown>;
}

// ---------------------------------------------------------------------------------------------
// The people of the tour

/**
 * The main meeting's host, then two others in it, then someone the lobby holds, then someone
 * who comes after the host ended it.
 */
const HOST = "Ada Lovelace";
const GUEST = "Grace Hopper";
const REMOVED = "Alan Turing";
const KNOCKER = "Katherine Johnson";
const LATECOMER = "Mary Jackson";
/**
 * On the limits server: the host of a room of two, a page with another key, the third (who
 * finds the room full), and the second who fills it for good.
 */
const LIMIT_HOST = "Radia Perlman";
const WRONG_KEY = "Vint Cerf";
const THIRD = "Hedy Lamarr";
const SECOND = "Bob Kahn";

const CAMERA_ONLY: MediaChoice = { mic: false, camera: true };

/** A meeting world whose participants are wide windows. */
class TourWorld extends MeetingWorld {
  /**
   * @param grants Whether pages are granted camera and microphone (Chromium gathers loopback
   * candidates only for a page that was); without, a browser with no fake permission prompt
   * refuses them, as if the person had clicked "Block".
   */
  constructor(name: string, server: LiveServer, browser: Browser, readonly grants = true) {
    super(name, server, browser);
  }

  /** A participant in its own browser context, not joined yet. */
  override async open(name: string): Promise<Participant> {
    const context = await this.browser.newContext({ viewport: DRIVING_VIEWPORT });
    if (this.grants) {
      await context.grantPermissions(["camera", "microphone"], { origin: this.origin });
    }
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const errors = watchErrors(page);
    const lines: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") {
        lines.push(`${new Date().toISOString().slice(11, 23)} ${m.type()}: ${m.text()}`);
        if (lines.length > 200) lines.splice(0, lines.length - 200);
      }
    });
    const participant: Participant = { name, context, page, errors, console: lines, closed: false };
    this.participants.push(participant);
    return participant;
  }
}

/**
 * What the screens share: the worlds and everyone opened so far, by name. `main` and `limits`
 * are the two servers with the meeting browser (fake devices and screen, every request
 * granted); `visitors` is the main server with a browser that refuses camera and microphone
 * (Chromium's fake permission prompt, which the fake screen needs, accepts every request).
 */
export class Tour {
  readonly #people = new Map<string, Participant>();

  constructor(
    readonly main: TourWorld,
    readonly limits: TourWorld,
    readonly visitors: TourWorld,
  ) {}

  /** The participant `name`, opened before by `open`. */
  person(name: string): Participant {
    const p = this.#people.get(name);
    if (!p) throw new Error(`the tour has no page for ${name} yet: a screen before must open it`);
    return p;
  }

  /** Opens `name`'s page in `world` (see `TourWorld.open`). */
  async open(world: TourWorld, name: string): Promise<Participant> {
    return this.adopt(await world.open(name));
  }

  /** Remembers a participant a harness helper opened (e.g. `joinToLobby`) by its name. */
  adopt(p: Participant): Participant {
    this.#people.set(p.name, p);
    return p;
  }

  /** Opens `name`, joins `world`'s room (or `link`) with `media` and waits until joined. */
  async join(
    world: TourWorld,
    name: string,
    media: MediaChoice,
    link = world.link,
  ): Promise<Participant> {
    const p = await this.open(world, name);
    await join(p.page, world.origin, link, name, media);
    world.log(`${name} joined`);
    return p;
  }

  /** Closes `name`'s browser context: its screens are done. */
  async close(name: string): Promise<void> {
    const p = this.#people.get(name);
    if (!p) return;
    this.#people.delete(name);
    // Either world closes a context the same way.
    await this.main.close(p);
  }

  /** Every world's diagnostics (pages, their state, screenshots in /tmp/mooz-e2e/). */
  async diagnostics(): Promise<string> {
    const report = [];
    for (const world of [this.visitors, this.main, this.limits]) {
      report.push(await world.diagnostics().catch((e) => `(diagnostics failed: ${e})`));
    }
    for (const world of [this.main, this.limits]) {
      report.push(
        `--- ${world.origin} server output (last 3000 chars) ---\n` +
          world.server.output().slice(-3000),
      );
    }
    return report.join("\n");
  }
}

// ---------------------------------------------------------------------------------------------
// Steps the screens share

/** Presses "Join meeting" on a filled pre-join screen and waits for `want`. */
async function clickJoin(p: Participant, want: "joined" | "ended", end?: string): Promise<void> {
  await p.page.getByRole("button", { name: "Join meeting" }).click();
  await waitForPhase(p.page, want, { end, who: p.name, timeoutMs: 30_000 });
}

/** The end screen of `p` once it is `end`: its main element, `data-end` set. */
async function endScreen(p: Participant, end: string, timeoutMs = 30_000): Promise<Shown> {
  await waitForPhase(p.page, "ended", { end, who: p.name, timeoutMs });
  return { page: p.page, ready: p.page.locator(`main[data-phase="ended"][data-end="${end}"] h1`) };
}

/** Sets a host switch ("Lock meeting", "Lobby") and waits for the server's state to show. */
async function setSwitch(page: Page, name: string, on: boolean): Promise<void> {
  const toggle = hostPanel(page).getByRole("switch", { name });
  if ((await toggle.getAttribute("aria-checked")) === String(on)) return;
  await toggle.click();
  await until(
    `the ${name} switch to show ${on ? "on" : "off"} (the server's state)`,
    async () => (await toggle.getAttribute("aria-checked")) === String(on),
    { timeoutMs: 15_000 },
  );
}

/** Closes whichever side panel is open, by its button in the control bar. */
async function closePanels(page: Page): Promise<void> {
  for (const name of ["Chat", "Participants", "Host controls"]) {
    const button = control(page, name);
    if (await button.count() > 0 && await button.getAttribute("aria-expanded") === "true") {
      await button.click();
      await until(
        `the ${name} panel to close`,
        async () => await button.getAttribute("aria-expanded") === "false",
      );
    }
  }
}

/** The main heading of a page that is not a meeting page (home, 404). */
function heading(page: Page): Locator {
  return page.getByRole("heading", { level: 1 });
}

// ---------------------------------------------------------------------------------------------
// The screens, in the order the tour reaches them

/** A room of the main server nobody joins, for the screens before joining. */
const SPARE_ROOM = newRoomId();

/** The pre-join screen's room-info requests (`GET /api/rooms/{room}`), not its socket. */
const ROOM_INFO = /\/api\/rooms\/[^/]+$/;

/** The pre-join screen's "Who's here" status region. */
function whoIsHere(page: Page): Locator {
  return page.getByRole("status", { name: "Who's here" });
}

/** Waits until `p`'s pre-join screen lists exactly `names` under "Already here", in order. */
async function waitForAlreadyHere(p: Participant, names: string[]): Promise<Locator> {
  const list = whoIsHere(p.page).getByRole("list", { name: "Already here" });
  await until(
    `${p.name}'s pre-join screen to list ${names.join(" and ")} as already here`,
    async () =>
      JSON.stringify(await list.getByRole("listitem").allTextContents()) ===
        JSON.stringify(names),
    { timeoutMs: 20_000, describe: () => whoIsHere(p.page).textContent() },
  );
  return list;
}

/** How many people hold a place in `world`'s room, as the server tells the pre-join screen. */
async function membersOf(world: TourWorld): Promise<number> {
  const res = await fetch(`${world.origin}/api/rooms/${world.room}`);
  const body = await res.json();
  return body.members;
}

/** The meeting's "Settings" or "Keyboard shortcuts" dialog, by its name. */
function barDialog(page: Page, name: string): Locator {
  return page.getByRole("dialog", { name, exact: true });
}

/** Every screen, in the order one tour reaches them. */
export const SCREENS: readonly Screen[] = [
  {
    name: "home",
    description: "the landing page",
    async show(t) {
      const { page } = await t.open(t.visitors, "Visitor");
      await page.goto(t.main.origin + "/");
      return { page, ready: heading(page) };
    },
  },
  {
    name: "not-found",
    description: "the 404 page for a link that is no meeting",
    async show(t) {
      const { page } = t.person("Visitor");
      const response = await page.goto(t.main.origin + "/no/such/page");
      if (response?.status() !== 404) {
        throw new Error(`/no/such/page answered ${response?.status()}, not 404`);
      }
      return { page, ready: heading(page) };
    },
  },
  {
    name: "link-missing-key",
    description: "a meeting link without its key (nothing after #)",
    async show(t) {
      const { page } = t.person("Visitor");
      await page.goto(`${t.main.origin}/${SPARE_ROOM}`);
      return { page, ready: page.getByText("the part after # is missing") };
    },
  },
  {
    name: "link-damaged-key",
    description: "a meeting link whose key is cut short",
    async show(t) {
      const { page } = t.person("Visitor");
      // Only the fragment differs from the page before: the page starts over by itself.
      await page.goto(`${t.main.origin}/${SPARE_ROOM}#${newMeetingKey().slice(0, 9)}`);
      return { page, ready: page.getByText("cut short or damaged") };
    },
  },
  {
    name: "prejoin-denied",
    description: "the pre-join screen after camera and microphone permission was refused",
    async show(t) {
      const { page } = t.person("Visitor");
      await page.goto(meetingLink(t.main.origin, SPARE_ROOM, newMeetingKey()));
      const notice = page.getByRole("status").filter({
        hasText: /camera.*(denied|blocked|not allowed)/i,
      });
      await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
        .waitFor();
      return { page, ready: notice };
    },
  },
  {
    name: "prejoin",
    description: "the pre-join screen with camera preview, microphone meter and a name typed",
    async show(t) {
      await t.close("Visitor");
      const { page } = await t.open(t.main, HOST);
      await page.goto(t.main.link);
      await fillPreJoin(page, HOST, { mic: true, camera: true });
      await whoIsHere(page).getByText("No one else is here yet").waitFor();
      return { page, ready: page.getByRole("heading", { name: "Ready to join?" }) };
    },
  },
  {
    name: "meeting-alone",
    description: "in the meeting, alone (the host, camera on): the invite prompt",
    async show(t) {
      const ada = t.person(HOST);
      await fillPreJoin(ada.page, HOST, CAMERA_ONLY);
      await clickJoin(ada, "joined");
      t.main.log(`${HOST} joined and hosts the meeting`);
      return {
        page: ada.page,
        ready: videoRegion(ada.page).getByRole("heading", { name: "You're the only one here" }),
      };
    },
  },
  {
    name: "prejoin-others",
    description: "the pre-join screen of a meeting two people are in: who's here, by name",
    async show(t) {
      const ada = t.person(HOST);
      await t.join(t.main, GUEST, OFF);
      await waitForRemoteTiles(ada.page, 1, { names: [GUEST], who: HOST });
      const alan = await t.open(t.main, REMOVED);
      await alan.page.goto(t.main.link);
      await fillPreJoin(alan.page, REMOVED, OFF);
      return { page: alan.page, ready: await waitForAlreadyHere(alan, [HOST, GUEST]) };
    },
  },
  {
    name: "meeting-three",
    description: "in the meeting with two others, seen by the host (grid layout)",
    async show(t) {
      const ada = t.person(HOST);
      await clickJoin(t.person(REMOVED), "joined");
      t.main.log(`${REMOVED} joined`);
      await waitForRemoteTiles(ada.page, 2, { names: [GUEST, REMOVED], who: HOST });
      return { page: ada.page, ready: control(ada.page, "Leave meeting") };
    },
  },
  {
    name: "meeting-speaker",
    description: "the speaker layout: one person on the stage, the others in a strip",
    async show(t) {
      const { page } = t.person(HOST);
      await videoRegion(page).getByRole("button", { name: "Speaker layout" }).click();
      return { page, ready: videoRegion(page).and(page.locator('[data-layout="stage"]')) };
    },
  },
  {
    name: "self-view-hidden",
    description: "our own camera tile hidden (grid layout), with the way to show it again",
    async show(t) {
      const { page } = t.person(HOST);
      const region = videoRegion(page);
      await region.getByRole("button", { name: "Grid layout" }).click();
      await region.and(page.locator('[data-layout="grid"]')).waitFor();
      await region.locator('figure[data-peer="self"][data-kind="camera"]')
        .getByRole("button", { name: "Hide self view" }).click();
      return { page, ready: region.getByRole("button", { name: "Show self view" }) };
    },
  },
  {
    name: "presenting",
    description: "presenting our own screen: the banner with Stop presenting",
    async show(t) {
      const { page } = t.person(HOST);
      const region = videoRegion(page);
      await region.getByRole("button", { name: "Show self view" }).click();
      await region.locator('figure[data-peer="self"][data-kind="camera"]').waitFor();
      await control(page, "Share screen").click();
      const banner = region.getByRole("status").filter({
        hasText: "You are presenting your screen to everyone.",
      });
      await banner.waitFor();
      await until(
        `${HOST}'s own screen tile to show a picture`,
        async () => (await region.getByText("Loading your screen…").count()) === 0,
      );
      return { page, ready: banner };
    },
  },
  {
    name: "settings",
    description: "the Settings dialog (devices, preview, preferences)",
    async show(t) {
      const { page } = t.person(HOST);
      await videoRegion(page).getByRole("button", { name: "Stop presenting" }).click();
      await until(
        `${HOST}'s screen share to stop`,
        async () => (await control(page, "Share screen").getAttribute("aria-pressed")) === "false",
      );
      await control(page, "Settings").click();
      return { page, ready: barDialog(page, "Settings") };
    },
  },
  {
    name: "shortcuts",
    description: "the Keyboard shortcuts dialog",
    async show(t) {
      const { page } = t.person(HOST);
      const settings = barDialog(page, "Settings");
      await settings.getByRole("button", { name: "Close settings" }).click();
      await settings.waitFor({ state: "detached" });
      await control(page, "Keyboard shortcuts").click();
      return { page, ready: barDialog(page, "Keyboard shortcuts") };
    },
  },
  {
    name: "more-options",
    description: "a phone's More options menu, open (the menu exists only under 768 px)",
    widths: [WIDTHS[1]],
    async show(t) {
      const { page } = t.person(HOST);
      const shortcuts = barDialog(page, "Keyboard shortcuts");
      await shortcuts.getByRole("button", { name: "Close", exact: true }).click();
      await shortcuts.waitFor({ state: "detached" });
      await page.setViewportSize(WIDTHS[1]);
      await control(page, "More options").click();
      return { page, ready: page.getByRole("menu", { name: "More options" }) };
    },
  },
  {
    name: "chat",
    description: "the chat panel open with a message from someone else and a reply",
    async show(t) {
      const ada = t.person(HOST);
      const grace = t.person(GUEST);
      await sendChat(grace.page, "Hello everyone! The agenda is at https://example.com/agenda");
      await openChat(ada.page);
      await until(
        `${HOST}'s chat to show ${GUEST}'s message`,
        async () => (await chatLog(ada.page)).length === 1,
      );
      await sendChat(ada.page, "Thanks, Grace. Let's start with item 2.");
      await until(
        `${HOST}'s reply in her chat`,
        async () => (await chatLog(ada.page)).length === 2,
      );
      return { page: ada.page, ready: chatPanel(ada.page) };
    },
  },
  {
    name: "reactions",
    description: "the reactions picker open",
    async show(t) {
      const { page } = t.person(HOST);
      await closePanels(page);
      await control(page, "Reactions").click();
      return { page, ready: page.getByRole("group", { name: "Send a reaction" }) };
    },
  },
  {
    name: "screen-share",
    description: "someone else's shared screen on the stage, the tiles in a strip",
    async show(t) {
      const { page } = t.person(HOST);
      await page.keyboard.press("Escape"); // closes the reactions picker
      await page.getByRole("group", { name: "Send a reaction" }).waitFor({ state: "detached" });
      const grace = t.person(GUEST);
      await control(grace.page, "Share screen").click();
      await waitForRemoteTiles(page, 1, { kind: "screen", names: [GUEST], who: HOST });
      return { page, ready: tileOf(page, GUEST, "screen") };
    },
  },
  {
    name: "participants",
    description: "the participants panel open, as the host sees it",
    async show(t) {
      const { page } = t.person(HOST);
      const sharing = control(t.person(GUEST).page, "Share screen");
      await sharing.click();
      await until(
        "the shared screen to leave the stage",
        async () =>
          (await tileOf(page, GUEST, "screen").count()) === 0 &&
          (await sharing.getAttribute("aria-pressed")) === "false",
      );
      const panel = await openParticipants(page);
      // Connected rows carry the safety code: the panel is complete once both have one.
      await until(
        "both others' safety codes in the participants panel",
        async () => (await panel.getByRole("img", { name: /^Safety code with / }).count()) === 2,
      );
      return { page, ready: panel };
    },
  },
  {
    name: "person-menu",
    description: "the host's actions menu for one person, open",
    async show(t) {
      const { page } = t.person(HOST);
      await (await personMenuButton(page, GUEST)).click();
      return { page, ready: page.getByRole("menu", { name: `Actions for ${GUEST}` }) };
    },
  },
  {
    name: "host-controls",
    description: "the host controls panel, the lobby on and someone waiting in it",
    async show(t) {
      const { page } = t.person(HOST);
      const menu = page.getByRole("menu", { name: `Actions for ${GUEST}` });
      await page.keyboard.press("Escape");
      await menu.waitFor({ state: "detached" });
      const panel = await openHostControls(page);
      await setSwitch(page, "Lobby", true);
      t.main.log("the lobby is on");
      t.adopt(await joinToLobby(t.main, KNOCKER));
      const waiting = panel.getByRole("list", { name: "Waiting to join" });
      await waiting.getByText(KNOCKER, { exact: true }).waitFor({ timeout: 20_000 });
      return { page, ready: waiting };
    },
  },
  {
    name: "lobby-waiting",
    description: "waiting in the lobby for a host to let one in",
    show(t) {
      const { page } = t.person(KNOCKER);
      return Promise.resolve({
        page,
        ready: page.getByRole("heading", { name: "Waiting for a host to let you in" }),
      });
    },
  },
  {
    name: "end-denied",
    description: "the end screen after a host turned one away from the lobby (Try again)",
    async show(t) {
      const { page } = t.person(HOST);
      await hostPanel(page).getByRole("button", { name: `Deny ${KNOCKER}` }).click();
      return await endScreen(t.person(KNOCKER), "denied");
    },
  },
  {
    name: "end-locked",
    description: "the end screen of someone who tried to join a locked meeting",
    async show(t) {
      const { page } = t.person(HOST);
      await setSwitch(page, "Lobby", false);
      await setSwitch(page, "Lock meeting", true);
      t.main.log("the meeting is locked");
      const knocker = t.person(KNOCKER);
      // Never let in: the end screen offers "Try again", not "Rejoin".
      await knocker.page.getByRole("button", { name: "Try again" }).click();
      await fillPreJoin(knocker.page, KNOCKER, OFF);
      await clickJoin(knocker, "ended", "locked");
      return await endScreen(knocker, "locked");
    },
  },
  {
    name: "remove-dialog",
    description: "the host's confirmation before removing someone",
    async show(t) {
      const { page } = t.person(HOST);
      await t.close(KNOCKER);
      await choosePersonAction(page, REMOVED, "Remove from meeting");
      return {
        page,
        ready: page.getByRole("dialog", { name: `Remove ${REMOVED} from the meeting?` }),
      };
    },
  },
  {
    name: "end-removed",
    description: "the end screen of someone a host removed",
    async show(t) {
      const { page } = t.person(HOST);
      const dialog = page.getByRole("dialog", { name: `Remove ${REMOVED} from the meeting?` });
      await dialog.getByRole("button", { name: "Remove", exact: true }).click();
      return await endScreen(t.person(REMOVED), "removed");
    },
  },
  {
    name: "reconnecting",
    description: "the server gone for a while: the call goes on, a banner says so",
    async show(t) {
      await t.close(REMOVED);
      const ada = t.person(HOST);
      const grace = t.person(GUEST);
      await waitForRemoteTiles(ada.page, 1, { names: [GUEST], who: HOST });
      await closePanels(ada.page);
      await t.main.server.kill();
      t.main.log("the main server was killed");
      for (const p of [ada, grace]) await waitForPhase(p.page, "reconnecting", { who: p.name });
      return {
        page: ada.page,
        ready: ada.page.getByRole("status", { name: "Server connection" })
          .getByText("Reconnecting to the meeting server"),
      };
    },
  },
  {
    name: "leave-dialog",
    description: "the confirmation Leave meeting asks for",
    async show(t) {
      await t.main.server.restart();
      t.main.log("the main server is back");
      for (const p of [t.person(HOST), t.person(GUEST)]) {
        await waitForPhase(p.page, "joined", { who: p.name, timeoutMs: 30_000 });
      }
      const { page } = t.person(GUEST);
      await control(page, "Leave meeting").click();
      return { page, ready: page.getByRole("dialog", { name: "Leave the meeting?" }) };
    },
  },
  {
    name: "end-left",
    description: "the end screen after leaving the meeting",
    async show(t) {
      const grace = t.person(GUEST);
      await confirmLeave(grace.page);
      return await endScreen(grace, "left");
    },
  },
  {
    name: "end-dialog",
    description: "the host's confirmation before ending the meeting for everyone",
    async show(t) {
      await t.close(GUEST);
      const { page } = t.person(HOST);
      const panel = await openHostControls(page);
      await panel.getByRole("button", { name: "End meeting for everyone" }).click();
      return { page, ready: page.getByRole("dialog", { name: "End the meeting for everyone?" }) };
    },
  },
  {
    name: "end-ended",
    description: "the end screen after the host ended the meeting for everyone",
    async show(t) {
      const ada = t.person(HOST);
      const dialog = ada.page.getByRole("dialog", { name: "End the meeting for everyone?" });
      await dialog.getByRole("button", { name: "End meeting", exact: true }).click();
      return await endScreen(ada, "ended");
    },
  },
  {
    name: "prejoin-ended",
    description: "the pre-join screen of a meeting a host ended: Join off, Start a new meeting",
    async show(t) {
      await t.close(HOST);
      const { page } = await t.open(t.main, LATECOMER);
      await page.goto(t.main.link);
      const ended = whoIsHere(page).getByText("This meeting has ended");
      await ended.waitFor();
      await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":disabled"))
        .waitFor();
      return { page, ready: ended };
    },
  },
  {
    name: "end-room-full",
    description: "the end screen of someone whose place was taken between the pre-join and Join",
    async show(t) {
      await t.close(LATECOMER);
      const w = t.limits;
      await t.join(w, LIMIT_HOST, OFF);
      const third = await t.open(w, THIRD);
      await third.page.goto(w.link);
      await fillPreJoin(third.page, THIRD, OFF);
      await waitForAlreadyHere(third, [LIMIT_HOST]);
      // From now on the third's view of the room goes stale (its room-info requests fail), as
      // when someone takes the last place just before "Join meeting" is pressed.
      await third.page.route(ROOM_INFO, (route) => route.abort());
      // Another key for the same room: the server lets this page in (it never knows keys), but
      // nothing it seals opens for the host, so their link never forms and the link deadline
      // evicts it (next screen).
      await t.join(w, WRONG_KEY, OFF, meetingLink(w.origin, w.room, newMeetingKey()));
      await clickJoin(third, "ended", "room-full");
      return await endScreen(third, "room-full");
    },
  },
  {
    name: "end-evicted",
    description: "the end screen of someone who could not connect to everyone in time",
    show(t) {
      return endScreen(t.person(WRONG_KEY), "evicted", 60_000);
    },
  },
  {
    name: "prejoin-full",
    description: "the pre-join screen of a full meeting: who's there, Join off, a new meeting",
    async show(t) {
      const w = t.limits;
      await t.close(WRONG_KEY);
      await until(
        "the evicted page's place to be free",
        async () => (await membersOf(w)) === 1,
        { timeoutMs: 30_000 },
      );
      await t.join(w, SECOND, OFF);
      const third = t.person(THIRD);
      await third.page.unroute(ROOM_INFO);
      await third.page.getByRole("button", { name: "Try again" }).click();
      const full = whoIsHere(third.page).getByText("This meeting is full (2 of 2)");
      await full.waitFor();
      await waitForAlreadyHere(third, [LIMIT_HOST, SECOND]);
      await third.page.getByRole("button", { name: "Join meeting" })
        .and(third.page.locator(":disabled")).waitFor();
      return { page: third.page, ready: full };
    },
  },
  {
    name: "end-unreachable",
    description: "the end screen when the server is gone and nobody else is connected",
    async show(t) {
      await t.close(THIRD);
      await t.close(SECOND);
      await t.limits.server.kill();
      t.limits.log("the limits server was killed");
      return await endScreen(t.person(LIMIT_HOST), "unreachable", 60_000);
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Settling a screen before looking at it

/**
 * Makes what a look at the page finds the same on every run: the screen is on, the mouse
 * hovers nothing, transient toasts are gone (they come and go with timers), fonts are loaded,
 * finite animations have finished, videos show a frame, and two frames were painted.
 */
async function settle(shown: Shown): Promise<void> {
  const { page, ready } = shown;
  await ready.waitFor({ state: "visible", timeout: 20_000 });
  await page.mouse.move(0, 0);
  await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any -- the debug hook the contract documents
    const core = (globalThis as any).__mooz?.meeting;
    for (const n of core?.notices?.value ?? []) core.dismissNotice(n.id);
    await document.fonts.ready;
    const finite = document.getAnimations().filter((a) => {
      const timing = a.effect?.getComputedTiming();
      return a.playState === "running" && timing?.iterations !== Infinity;
    });
    await Promise.race([
      Promise.all(finite.map((a) => a.finished.catch(() => {}))),
      new Promise((resolve) => setTimeout(resolve, 3_000)),
    ]);
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  });
  await page.waitForFunction(
    () => [...document.querySelectorAll("video")].every((v) => !v.srcObject || v.readyState >= 2),
    undefined,
    { timeout: 5_000 },
  ).catch(() => {}); // a video without frames is shown as it is
  await ready.waitFor({ state: "visible", timeout: 5_000 });
}

// ---------------------------------------------------------------------------------------------
// The tour

/** A screen the tour reached, to be looked at. */
export interface Reached {
  screen: Screen;
  page: Page;
  /** The sizes to look at it in: the screen's `widths`, else `WIDTHS`. */
  widths: readonly Viewport[];
  /** Resizes the page to `viewport` and waits until the screen is on and settled. */
  resize(viewport: Viewport): Promise<void>;
}

/** Deadlines of a tour. */
export interface TourOptions {
  /** The whole tour's deadline (default 10 minutes). */
  timeoutMs?: number;
  /** Each screen's deadline for reaching it (default 2 minutes). */
  screenTimeoutMs?: number;
}

/** Why the tour cannot run here, or null when it can (a loopback-only network namespace). */
export function cannotTour(): string | null {
  return onlyLoopback() ? null : "the screens are reached with real WebRTC between the pages, " +
    "which must never leave loopback: run inside a private network namespace whose only " +
    "interface is loopback (`unshare -rn sh -c 'ip link set lo up && …'`).";
}

/**
 * Reaches every screen of `SCREENS` in order and calls `look` with each, then puts the page
 * back to the driving size. Starts both servers and one Chromium, and stops them all whatever
 * happens; if reaching a screen fails, prints every page's state and the servers' output.
 */
export async function runTour(
  look: (reached: Reached) => Promise<void>,
  opts: TourOptions = {},
): Promise<void> {
  const why = cannotTour();
  if (why) throw new Error(why);
  const dir = await Deno.makeTempDir({ prefix: "mooz-screens-" });
  let servers: LiveServer[] = [];
  let browsers: Browser[] = [];
  let tour: Tour | undefined;
  try {
    const clip = `${dir}/camera.y4m`;
    await writeFakeCameraClip(clip);
    const base = { MOOZ_STUN_URLS: "", MOOZ_WS_IDLE_TIMEOUT_S: "10" };
    const started = await Promise.all([
      startLiveServer({ parallel: false, env: base }),
      startLiveServer({
        parallel: false,
        env: {
          ...base,
          MOOZ_ROOM_CAPACITY: "2",
          MOOZ_LINK_DEADLINE_MS: "8000",
          MOOZ_RESUME_GRACE_MS: "3000",
        },
      }),
      launchBrowser(webrtcArgs(clip)),
      // Fake devices, so that what the page reports is the refusal, not missing devices.
      launchBrowser(["--use-fake-device-for-media-stream"]),
    ]);
    const [main, limits, browser, refusing] = started;
    servers = [main, limits];
    browsers = [browser, refusing];
    tour = new Tour(
      new TourWorld("screens (main server)", main, browser),
      new TourWorld("screens (limits server)", limits, browser),
      new TourWorld("screens (refusing browser)", main, refusing, false),
    );
    const current = tour;
    const run = (async () => {
      for (const screen of SCREENS) {
        current.main.log(`screen ${screen.name}: ${screen.description}`);
        const shown = await bounded(
          screen.show(current),
          opts.screenTimeoutMs ?? 120_000,
          `reaching the screen ${screen.name}`,
        );
        await look({
          screen,
          page: shown.page,
          widths: screen.widths ?? WIDTHS,
          async resize(viewport) {
            await shown.page.setViewportSize(viewport);
            await settle(shown);
          },
        });
        await shown.page.setViewportSize(DRIVING_VIEWPORT);
      }
    })();
    run.catch(() => {}); // if the deadline wins, closing the browser ends `run` with an error
    await bounded(run, opts.timeoutMs ?? 600_000, "the screens tour");
  } catch (err) {
    if (tour) console.error(`=== screens tour diagnostics ===\n${await tour.diagnostics()}\n===`);
    throw err;
  } finally {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
