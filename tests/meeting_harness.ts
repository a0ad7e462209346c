/**
 * Real-browser meeting harness: the real server (`deno serve main.ts`, tests/live_server.ts) with
 * test settings, one headless Chromium with fake camera, microphone and screen, and one browser
 * context per participant, driven through the selectors of tests/MEETING_UI_CONTRACT.md.
 *
 * WebRTC between the pages must stay on loopback, so these tests run only inside a private
 * network namespace whose one interface is loopback (`deno task test` arranges that with
 * `unshare -rn`); anywhere else they are skipped with a message saying how to run them.
 *
 * Everything waits on a condition with a deadline (never a fixed sleep), and everything a test
 * starts is stopped whatever happens. When a test fails, each open page's state (phase, tiles,
 * link stats, console errors) is printed, a screenshot goes to /tmp/mooz-e2e/, and the server's
 * last output is printed.
 */
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { meetingLink, newMeetingKey } from "../mesh/meeting_key.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { watchErrors } from "./browser.ts";
import {
  launchBrowser,
  onlyLoopback,
  WEBRTC_LOOPBACK,
  WEBRTC_LOOPBACK_NO_DEVICES,
} from "./chromium.ts";
import { type LiveServer, startLiveServer } from "./live_server.ts";

// ---------------------------------------------------------------------------------------------
// Where these tests may run

export const ISOLATED = onlyLoopback();

const warned = new Set<string>();
/** Prints once per file why its WebRTC tests are skipped; returns whether to skip. */
export function skipUnlessIsolated(file: string): boolean {
  if (!ISOLATED && !warned.has(file)) {
    warned.add(file);
    console.warn(
      `${file}: SKIPPING the real-browser WebRTC tests: they must run in a private network ` +
        "namespace whose only interface is loopback, so that WebRTC never reaches another " +
        "address. `deno task test` does this by itself where `unshare -rn` works; by hand: " +
        `unshare -rn sh -c 'ip link set lo up && deno test -A ${file}'`,
    );
  }
  return !ISOLATED;
}

// ---------------------------------------------------------------------------------------------
// Waiting

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false` and returns it; throws
 * after `timeoutMs` naming what was awaited and the last state `describe` (or `check`'s last
 * exception) gives.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => unknown } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      let state = "";
      if (opts.describe) {
        try {
          state = `\nlast state: ${Deno.inspect(await opts.describe(), { depth: 6 })}`;
        } catch (err) {
          state = `\n(describing the state failed: ${(err as Error).message})`;
        }
      }
      const error = lastError ? `\nlast error: ${(lastError as Error).message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}${error}`);
    }
    await delay(opts.intervalMs ?? 150);
  }
}

/** `promise`, or a rejection after `ms` (for calls into a page that might hang). */
export function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// Browser

/**
 * A small looping Y4M clip (160×120, 15 fps, a moving bar) for the fake camera: the app asks for
 * 720p, and a full mesh encodes once per link, which a 2-core machine cannot do for 720p.
 */
export async function writeFakeCameraClip(path: string): Promise<void> {
  const w = 160, h = 120, frames = 30;
  const enc = new TextEncoder();
  const header = enc.encode(`YUV4MPEG2 W${w} H${h} F15:1 Ip A1:1 C420jpeg\n`);
  const frameHeader = enc.encode("FRAME\n");
  const frameSize = frameHeader.length + w * h * 3 / 2;
  const out = new Uint8Array(header.length + frames * frameSize);
  out.set(header);
  for (let f = 0; f < frames; f++) {
    let at = header.length + f * frameSize;
    out.set(frameHeader, at);
    at += frameHeader.length;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const bar = (x - f * 5 + w) % w < 16;
        out[at + y * w + x] = bar ? 235 : 40 + ((x + 2 * y) & 127);
      }
    }
    at += w * h;
    out.fill(90 + 4 * f, at, at + w * h / 4); // U
    out.fill(160, at + w * h / 4, at + w * h / 2); // V
  }
  await Deno.writeFile(path, out);
}

/** Every participant's window must keep rendering and running timers at full speed. */
const FOREGROUND = [
  "--disable-renderer-backgrounding",
  "--disable-background-timer-throttling",
  "--disable-backgrounding-occluded-windows",
];

/** Chromium flags for WebRTC between pages on loopback with fake devices. */
export function webrtcArgs(cameraClip: string): string[] {
  return [...WEBRTC_LOOPBACK, `--use-file-for-fake-video-capture=${cameraClip}`, ...FOREGROUND];
}

/**
 * Chromium flags for meetings where media is not the point: no camera and no microphone at all,
 * so a page costs what its data channels and UI cost (about a fifth of a page with a muted fake
 * microphone, which still captures, encodes and plays silence on every link). No screen can be
 * shared either: Chromium's fake screen comes with its fake devices.
 */
export const DATA_ONLY_ARGS = [...WEBRTC_LOOPBACK_NO_DEVICES, ...FOREGROUND];

// ---------------------------------------------------------------------------------------------
// The meeting page, through the contract's selectors

export interface MediaChoice {
  mic: boolean;
  camera: boolean;
}

export interface Tile {
  peer: string | null;
  kind: string | null;
  label: string | null;
  link: string | null;
  muted: string | null;
  videoOff: string | null;
  hasVideo: boolean;
  /** `getVideoPlaybackQuality().totalVideoFrames` of its video, or null without one. */
  frames: number | null;
  videoWidth: number | null;
}

export function videoRegion(page: Page): Locator {
  return page.getByRole("region", { name: "Participants' video" });
}

export function controls(page: Page): Locator {
  return page.getByRole("toolbar", { name: "Meeting controls" });
}

export function control(page: Page, name: string): Locator {
  return controls(page).getByRole("button", { name, exact: true });
}

/** Says yes to "Leave the meeting?", the dialog "Leave meeting" opens. */
export async function confirmLeave(page: Page): Promise<void> {
  await page.getByRole("dialog", { name: "Leave the meeting?" })
    .getByRole("button", { name: "Leave", exact: true }).click();
}

/** Every tile the page shows, with its data attributes and its video's frame count. */
export async function tiles(page: Page): Promise<Tile[]> {
  return await videoRegion(page).locator("figure").evaluateAll((figures) =>
    figures.map((f) => {
      const video = f.querySelector("video");
      return {
        peer: f.getAttribute("data-peer"),
        kind: f.getAttribute("data-kind"),
        label: f.getAttribute("aria-label"),
        link: f.getAttribute("data-link"),
        muted: f.getAttribute("data-muted"),
        videoOff: f.getAttribute("data-video-off"),
        hasVideo: video !== null,
        frames: video ? video.getVideoPlaybackQuality().totalVideoFrames : null,
        videoWidth: video ? video.videoWidth : null,
      };
    })
  );
}

/** The other participants' tiles of `kind`. */
export async function remoteTiles(page: Page, kind = "camera"): Promise<Tile[]> {
  return (await tiles(page)).filter((t) => t.kind === kind && t.peer !== "self");
}

/** The tile of participant `name` (its camera, or its screen share) as `page` shows it. */
export function tileOf(page: Page, name: string, kind: "camera" | "screen" = "camera"): Locator {
  const label = kind === "screen" ? `${name} (screen)` : name;
  return videoRegion(page).locator(
    `figure[data-kind="${kind}"][aria-label=${JSON.stringify(label)}]`,
  );
}

/** `main[data-phase]` and `data-end` of the page ("prejoin" before joining). */
export async function phase(page: Page): Promise<{ phase: string | null; end: string | null }> {
  const main = page.locator("main[data-phase]");
  if (await main.count() === 0) return { phase: null, end: null };
  return await main.first().evaluate((m) => ({
    phase: m.getAttribute("data-phase"),
    end: m.getAttribute("data-end"),
  }));
}

/** Waits until `main[data-phase]` is `want` (and, for `ended`, `data-end` is `end`). */
export async function waitForPhase(
  page: Page,
  want: string,
  opts: { end?: string; timeoutMs?: number; who?: string } = {},
): Promise<void> {
  await until(
    `${opts.who ?? "the page"} to reach phase ${want}${opts.end ? ` (${opts.end})` : ""}`,
    async () => {
      const p = await phase(page);
      return p.phase === want && (opts.end === undefined || p.end === opts.end);
    },
    { timeoutMs: opts.timeoutMs ?? 20_000, describe: () => phase(page) },
  );
}

/** One key per room for the whole test run, so every page of one meeting shares its key. */
const KEYS = new Map<string, string>();

/** The meeting key of `room` in these tests (made on first use). */
export function keyOf(room: string): string {
  let key = KEYS.get(room);
  if (key === undefined) KEYS.set(room, key = newMeetingKey());
  return key;
}

/** The whole invite link of `room` on `origin`, with its key (`keyOf`). */
export function linkOf(origin: string, room: string): string {
  return meetingLink(origin, room, keyOf(room));
}

/**
 * Opens `room` (an id, opened with its test key `keyOf(room)`, or a full invite link), fills the
 * pre-join screen (name, microphone and camera toggles) and joins. Waits for
 * `main[data-phase=joined]` — or, with `expect: "ended"`, for the end screen — and checks the
 * toolbar carried the media choice over.
 */
export async function join(
  page: Page,
  origin: string,
  room: string,
  name: string,
  media: MediaChoice,
  opts: { expect?: "joined" | "ended"; timeoutMs?: number } = {},
): Promise<{ phase: string | null; end: string | null }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const url = /^https?:\/\//.test(room) ? room : linkOf(origin, room);
  await page.goto(url);
  await fillPreJoin(page, name, media, timeoutMs);
  await page.getByRole("button", { name: "Join meeting" }).click({ timeout: timeoutMs });
  return await afterJoinClick(page, name, media, opts.expect ?? "joined", timeoutMs);
}

/**
 * Fills the pre-join screen already on `page` (after `goto`, or after "Rejoin"): waits until the
 * page has opened what devices there are (the Join button is enabled), types the name and sets
 * each toggle to the wanted state. With fake devices both toggles come on by themselves; in a
 * data-only meeting there is nothing to turn off.
 */
export async function fillPreJoin(
  page: Page,
  name: string,
  media: MediaChoice,
  timeoutMs = 30_000,
): Promise<void> {
  await page.getByRole("heading", { name: "Ready to join?" }).waitFor({ timeout: timeoutMs });
  await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
    .waitFor({ timeout: timeoutMs });
  await page.getByRole("textbox", { name: "Your name" }).fill(name);
  for (const [label, want] of [["Microphone", media.mic], ["Camera", media.camera]] as const) {
    const toggle = page.getByRole("button", { name: label, exact: true });
    const pressed = () => toggle.getAttribute("aria-pressed", { timeout: 5_000 });
    if ((await pressed()) === String(want)) continue;
    await toggle.click();
    await until(
      `${name}'s pre-join ${label} toggle to turn ${want ? "on" : "off"}`,
      async () => (await pressed()) === String(want),
      { timeoutMs: 10_000, describe: pressed },
    );
  }
}

async function afterJoinClick(
  page: Page,
  name: string,
  media: MediaChoice,
  expect: "joined" | "ended",
  timeoutMs: number,
): Promise<{ phase: string | null; end: string | null }> {
  const reached = await until(
    `${name} to reach the meeting (main[data-phase=joined]) or its end screen`,
    async () => {
      const p = await phase(page);
      return p.phase === "joined" || p.phase === "ended" ? p : undefined;
    },
    { timeoutMs, describe: () => phase(page) },
  );
  if (reached.phase !== expect) {
    const heading = await page.getByRole("heading").first().textContent({ timeout: 2_000 })
      .catch(() => null);
    throw new Error(
      `${name} expected phase ${expect} after "Join meeting" but got ${reached.phase}` +
        (reached.end ? ` (data-end=${reached.end}, heading "${heading}")` : ""),
    );
  }
  if (expect === "joined") {
    for (const [label, want] of [["Microphone", media.mic], ["Camera", media.camera]] as const) {
      const pressed = await control(page, label).getAttribute("aria-pressed", { timeout: 10_000 });
      if (pressed !== String(want)) {
        throw new Error(
          `${name} chose ${label} ${want ? "on" : "off"} before joining, but the meeting ` +
            `toolbar's ${label} button has aria-pressed=${pressed}`,
        );
      }
    }
  }
  return reached;
}

/**
 * Waits until `page` shows exactly `n` remote tiles of `kind` (camera by default), each
 * `data-link=connected`; with `names`, exactly those participants. Returns the tiles.
 */
export async function waitForRemoteTiles(
  page: Page,
  n: number,
  opts: { kind?: "camera" | "screen"; names?: string[]; timeoutMs?: number; who?: string } = {},
): Promise<Tile[]> {
  const kind = opts.kind ?? "camera";
  const want = opts.names?.map((name) => kind === "screen" ? `${name} (screen)` : name).sort();
  return await until(
    `${opts.who ?? "the page"} to show ${n} connected remote ${kind} tiles` +
      (want ? ` (${want.join(", ")})` : ""),
    async () => {
      const found = await remoteTiles(page, kind);
      if (found.length !== n || !found.every((t) => t.link === "connected")) return undefined;
      if (want && JSON.stringify(found.map((t) => t.label).sort()) !== JSON.stringify(want)) {
        return undefined;
      }
      return found;
    },
    { timeoutMs: opts.timeoutMs ?? 30_000, describe: () => remoteTiles(page, kind) },
  );
}

/**
 * Waits until the `video` in `peerTile` (a tile, or a participant's name for its camera tile) has
 * shown `minFrames` more frames than when called
 * (`getVideoPlaybackQuality().totalVideoFrames`), and has a size. Returns the frames seen.
 */
export async function framesAdvance(
  page: Page,
  peerTile: Locator | string,
  opts: { minFrames?: number; timeoutMs?: number; who?: string } = {},
): Promise<number> {
  const minFrames = opts.minFrames ?? 5;
  const tile = typeof peerTile === "string" ? tileOf(page, peerTile) : peerTile;
  const read = () =>
    tile.locator("video").first().evaluate(
      (el) => {
        const v = el as HTMLVideoElement;
        return {
          frames: v.getVideoPlaybackQuality().totalVideoFrames,
          width: v.videoWidth,
          readyState: v.readyState,
          paused: v.paused,
          hasStream: v.srcObject !== null,
        };
      },
      undefined,
      { timeout: 2_000 },
    );
  let first: number | undefined;
  let last: unknown;
  return await until(
    `${opts.who ?? "a tile"}'s video frames to advance by ${minFrames}`,
    async () => {
      const now = await read();
      last = now;
      first ??= now.frames;
      const advanced = now.frames - first;
      return advanced >= minFrames && now.width > 0 ? advanced : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 200, describe: () => ({ first, last }) },
  );
}

export interface LinkStats {
  audioPacketsReceived: number;
  videoFramesDecoded: number;
  connectionState: string;
  localCandidateType: string | null;
}

/** `await __mooz.meeting.stats()` of the page: counters per remote peer id. */
export async function linkStats(page: Page): Promise<Record<string, LinkStats>> {
  return await bounded(
    page.evaluate(async () => {
      // deno-lint-ignore no-explicit-any -- the debug hook the contract documents
      const meeting = (globalThis as any).__mooz?.meeting;
      if (!meeting) throw new Error("globalThis.__mooz.meeting is not set");
      return await meeting.stats();
    }),
    5_000,
    "__mooz.meeting.stats()",
  ) as Record<string, LinkStats>;
}

/**
 * Waits until `peers` links are connected and each one's `audioPacketsReceived` grew by at
 * least `minPackets` since the first sample (Opus sends 50 packets a second).
 */
export async function audioFlows(
  page: Page,
  opts: { peers: number; minPackets?: number; timeoutMs?: number; who?: string },
): Promise<Record<string, number>> {
  const minPackets = opts.minPackets ?? 25;
  let first: Record<string, number> | undefined;
  let last: Record<string, LinkStats> | undefined;
  return await until(
    `${opts.who ?? "the page"} to receive audio from ${opts.peers} peers`,
    async () => {
      last = await linkStats(page);
      const peers = Object.entries(last);
      if (peers.length !== opts.peers) return undefined;
      first ??= Object.fromEntries(peers.map(([p, s]) => [p, s.audioPacketsReceived]));
      const grown: Record<string, number> = {};
      for (const [peer, s] of peers) {
        if (s.connectionState !== "connected") return undefined;
        if (!(peer in first)) first[peer] = s.audioPacketsReceived;
        grown[peer] = s.audioPacketsReceived - first[peer];
        if (grown[peer] < minPackets) return undefined;
      }
      return grown;
    },
    { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 250, describe: () => ({ first, last }) },
  );
}

/**
 * Waits until `peers` links are connected and each one's `videoFramesDecoded` (getStats
 * inbound-rtp) grew by at least `minFrames` since the first sample (the fake camera sends 15 a
 * second). Returns the growth per peer.
 */
export async function videoDecodes(
  page: Page,
  opts: { peers: number; minFrames?: number; timeoutMs?: number; who?: string },
): Promise<Record<string, number>> {
  const minFrames = opts.minFrames ?? 15;
  let first: Record<string, number> | undefined;
  let last: Record<string, LinkStats> | undefined;
  return await until(
    `${opts.who ?? "the page"} to decode ${minFrames} more video frames from ${opts.peers} peers`,
    async () => {
      last = await linkStats(page);
      const peers = Object.entries(last);
      if (peers.length !== opts.peers) return undefined;
      first ??= Object.fromEntries(peers.map(([p, s]) => [p, s.videoFramesDecoded]));
      const grown: Record<string, number> = {};
      for (const [peer, s] of peers) {
        if (s.connectionState !== "connected") return undefined;
        if (!(peer in first)) first[peer] = s.videoFramesDecoded;
        grown[peer] = s.videoFramesDecoded - first[peer];
        if (grown[peer] < minFrames) return undefined;
      }
      return grown;
    },
    { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 250, describe: () => ({ first, last }) },
  );
}

/** The page's own peer id (`__mooz.meeting.self`), or null before it has one. */
export async function selfId(page: Page): Promise<string | null> {
  return await bounded(
    page.evaluate(() =>
      // deno-lint-ignore no-explicit-any -- the debug hook the contract documents
      ((globalThis as any).__mooz?.meeting?.self?.value as string | null | undefined) ?? null
    ),
    5_000,
    "reading __mooz.meeting.self",
  );
}

/**
 * The text of the "Server connection" status region (tests/MEETING_UI_CONTRACT.md): what the
 * page says about its signaling connection; empty while it is fine.
 */
export async function serverStatus(page: Page): Promise<string> {
  const text = await page.getByRole("status", { name: "Server connection" })
    .textContent({ timeout: 5_000 });
  return (text ?? "").replace(/\s+/g, " ").trim();
}

/**
 * The engine's own view (`__mooz.meeting`; not part of the UI contract, for diagnostics only):
 * self, members, and each remote peer's link, status and streams.
 */
export async function engineState(page: Page): Promise<unknown> {
  return await bounded(
    page.evaluate(() => {
      // deno-lint-ignore no-explicit-any -- diagnostics read whatever the engine exposes
      const m = (globalThis as any).__mooz?.meeting;
      if (!m) return "no __mooz.meeting";
      return {
        self: m.self?.value,
        phase: m.phase?.value,
        end: m.end?.value,
        members: m.members?.value,
        local: m.local?.value,
        peers: (m.peers?.value ?? []).map((p: Record<string, unknown>) => ({
          peer: p.peer,
          name: p.name,
          link: p.link,
          online: p.online,
          audioMuted: p.audioMuted,
          videoOff: p.videoOff,
          camera: (p.camera as MediaStream | null)?.id ?? null,
          screen: (p.screen as MediaStream | null)?.id ?? null,
        })),
        notices: m.notices?.value,
        dropped: m.dropped,
      };
    }),
    5_000,
    "reading __mooz.meeting",
  );
}

/** The chat side panel (open it with `openChat`). */
export function chatPanel(page: Page): Locator {
  return page.getByRole("complementary", { name: "Chat" });
}

/** Opens the chat panel if it is closed. */
export async function openChat(page: Page): Promise<void> {
  const button = control(page, "Chat");
  if (await button.getAttribute("aria-expanded") !== "true") await button.click();
  await chatPanel(page).waitFor();
}

/** Types `text` into the chat and sends it. */
export async function sendChat(page: Page, text: string): Promise<void> {
  await openChat(page);
  const panel = chatPanel(page);
  await panel.getByRole("textbox", { name: "Message" }).fill(text);
  await panel.getByRole("button", { name: "Send" }).click();
}

export interface ChatEntry {
  /** `data-from`: the sender's peer id. */
  from: string | null;
  /** The sender's name as shown ("You" for our own). */
  name: string;
  /** The message text as shown. */
  text: string;
}

/** The chat log's messages, oldest first (the panel must be open). */
export async function chatLog(page: Page): Promise<ChatEntry[]> {
  return await chatPanel(page).getByRole("log", { name: "Messages" }).locator("li[data-from]")
    .evaluateAll((items) =>
      items.map((li) => ({
        from: li.getAttribute("data-from"),
        name: li.querySelector("p span")?.textContent ?? "",
        text: li.querySelectorAll("p")[1]?.textContent ?? "",
      }))
    );
}

/** The accessible description of `locator` (aria-describedby, aria-description or title). */
export async function description(locator: Locator): Promise<string> {
  return await locator.evaluate(
    (el) => {
      const ids = (el.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean);
      const fromIds = ids.map((id) => document.getElementById(id)?.textContent ?? "").join(" ");
      return (fromIds || el.getAttribute("aria-description") || el.getAttribute("title") || "")
        .replace(/\s+/g, " ").trim();
    },
    undefined,
    { timeout: 5_000 },
  );
}

// ---------------------------------------------------------------------------------------------
// One test's world: server, browser, participants

export interface Participant {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught exceptions of the page. */
  readonly errors: string[];
  /** The page's console warnings and errors with their time, for diagnostics (the last 200). */
  readonly console: string[];
  closed: boolean;
}

export interface MeetingOptions {
  /** Server environment (`MOOZ_*`) on top of the harness's defaults. */
  env?: Record<string, string>;
  /** The whole test's deadline. */
  timeoutMs?: number;
  /** Appended to the diagnostics when the test fails (e.g. coturn's log). */
  diagnose?: () => Promise<string>;
  /**
   * `"fake"` (default): every participant has a fake camera (a small clip) and microphone.
   * `"none"`: no devices at all (and no screen), for tests where media is not the point.
   */
  devices?: "fake" | "none";
}

/** Settings every meeting test gets: no public STUN (there is no network), quick timeouts. */
export const BASE_ENV: Record<string, string> = {
  MOOZ_STUN_URLS: "",
  MOOZ_WS_IDLE_TIMEOUT_S: "10",
};

export class MeetingWorld {
  readonly participants: Participant[] = [];
  readonly room = newRoomId();
  readonly #started = Date.now();

  constructor(
    readonly testName: string,
    readonly server: LiveServer,
    readonly browser: Browser,
    readonly devices: "fake" | "none" = "fake",
  ) {}

  get origin(): string {
    return this.server.origin;
  }

  /** The key of this world's room, shared by all its pages. */
  get key(): string {
    return keyOf(this.room);
  }

  /** The invite link of this world's room, with its key. */
  get link(): string {
    return linkOf(this.origin, this.room);
  }

  /** Prints a progress line with the time since the test started. */
  log(message: string): void {
    console.log(`[${((Date.now() - this.#started) / 1000).toFixed(1)} s] ${message}`);
  }

  /** A new participant: its own browser context and page, not joined yet. */
  async open(name: string): Promise<Participant> {
    const context = await this.browser.newContext({ viewport: { width: 800, height: 600 } });
    // Without it Chromium gathers no loopback candidates (see WEBRTC_LOOPBACK_NO_DEVICES).
    if (this.devices === "none") {
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

  /** Opens a participant and joins `room` (an id or an invite link; this world's room). */
  async join(
    name: string,
    media: MediaChoice,
    opts: { room?: string; expect?: "joined" | "ended"; timeoutMs?: number } = {},
  ): Promise<Participant> {
    const p = await this.open(name);
    await join(p.page, this.origin, opts.room ?? this.room, name, media, opts);
    this.log(`${name} ${opts.expect === "ended" ? "reached the end screen" : "joined"}`);
    return p;
  }

  /** The participants still open, but `except`. */
  others(...except: Participant[]): Participant[] {
    return this.participants.filter((p) => !p.closed && !except.includes(p));
  }

  /** Closes a participant's browser context (the page's unload handlers may run). */
  async close(p: Participant): Promise<void> {
    if (p.closed) return;
    p.closed = true;
    await p.context.close().catch(() => {});
  }

  /**
   * The abrupt end of a participant: its renderer is crashed (no pagehide, no unload, no leave
   * message, its peer connections die with it), then its browser context is closed.
   */
  async crash(p: Participant): Promise<void> {
    if (p.closed) return;
    p.closed = true;
    const cdp = await p.context.newCDPSession(p.page);
    await bounded(cdp.send("Page.crash").catch(() => {}), 5_000, "Page.crash").catch(() => {});
    await p.context.close().catch(() => {});
  }

  /** Throws if a page had an uncaught exception. */
  assertNoUncaughtErrors(): void {
    const uncaught = this.participants.flatMap((p) =>
      p.errors.filter((e) => e.startsWith("uncaught:")).map((e) => `${p.name}: ${e}`)
    );
    if (uncaught.length > 0) {
      throw new Error(`pages threw uncaught exceptions:\n${uncaught.join("\n")}`);
    }
  }

  /** Everything worth knowing about the open pages, with screenshots in /tmp/mooz-e2e/. */
  async diagnostics(): Promise<string> {
    const dir = `/tmp/mooz-e2e/${this.testName.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`;
    await Deno.mkdir(dir, { recursive: true }).catch(() => {});
    const lines: string[] = [`room ${this.room} on ${this.origin}`];
    for (const p of this.participants) {
      lines.push(`--- ${p.name}${p.closed ? " (closed)" : ""} ---`);
      if (!p.closed) {
        const safe = async <T>(what: string, f: () => Promise<T>) => {
          try {
            return await bounded(f(), 5_000, what);
          } catch (err) {
            return `(${what} failed: ${(err as Error).message.split("\n")[0]})`;
          }
        };
        lines.push(`url: ${p.page.url()}`);
        lines.push(`phase: ${Deno.inspect(await safe("phase", () => phase(p.page)))}`);
        lines.push(
          `tiles: ${Deno.inspect(await safe("tiles", () => tiles(p.page)), { depth: 4 })}`,
        );
        lines.push(
          `stats: ${Deno.inspect(await safe("stats", () => linkStats(p.page)), { depth: 4 })}`,
        );
        const engine = await safe("engine", () => engineState(p.page));
        lines.push(`engine: ${Deno.inspect(engine, { depth: 5 })}`);
        const toasts = await safe("toasts", () => p.page.getByRole("status").allTextContents());
        lines.push(`status regions: ${Deno.inspect(toasts)}`);
        const shot = `${dir}/${p.name.replace(/[^a-z0-9]+/gi, "_")}.png`;
        const taken = await safe("screenshot", () => p.page.screenshot({ path: shot }));
        lines.push(typeof taken === "string" ? taken : `screenshot: ${shot}`);
      }
      const uncaught = p.errors.filter((e) => e.startsWith("uncaught:"));
      if (uncaught.length > 0) lines.push(`uncaught:\n  ${uncaught.slice(-20).join("\n  ")}`);
      if (p.console.length > 0) {
        lines.push(`console warnings and errors:\n  ${p.console.slice(-40).join("\n  ")}`);
      }
    }
    return lines.join("\n");
  }
}

/**
 * Runs `fn` in a fresh world (server with `BASE_ENV` + `opts.env`, Chromium with fake devices),
 * with a deadline; prints diagnostics if it fails; always closes everything.
 */
export async function withMeeting(
  testName: string,
  opts: MeetingOptions,
  fn: (world: MeetingWorld) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mooz-e2e-" });
  let server: LiveServer | undefined;
  let browser: Browser | undefined;
  try {
    const devices = opts.devices ?? "fake";
    const clip = `${dir}/camera.y4m`;
    if (devices === "fake") await writeFakeCameraClip(clip);
    [server, browser] = await Promise.all([
      startLiveServer({ parallel: false, env: { ...BASE_ENV, ...opts.env } }),
      launchBrowser(devices === "fake" ? webrtcArgs(clip) : DATA_ONLY_ARGS),
    ]);
    const world = new MeetingWorld(testName, server, browser, devices);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const run = fn(world);
    run.catch(() => {}); // if the deadline wins, closing the browser ends `run` with an error
    try {
      await bounded(run, timeoutMs, `the test "${testName}"`);
      world.assertNoUncaughtErrors();
    } catch (err) {
      let report = await world.diagnostics().catch((e) => `(diagnostics failed: ${e})`);
      if (opts.diagnose) report += `\n${await opts.diagnose().catch((e) => `(${e})`)}`;
      console.error(
        `=== diagnostics for "${testName}" ===\n${report}\n` +
          `--- server output (last 4000 chars) ---\n${server.output().slice(-4000)}\n=== end ===`,
      );
      throw err;
    }
  } finally {
    await browser?.close().catch(() => {});
    await server?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A `Deno.test` running `fn` in a fresh world; skipped outside a loopback-only namespace. */
export function meetingTest(
  name: string,
  opts: MeetingOptions,
  fn: (world: MeetingWorld) => Promise<void>,
  file = "tests/meeting_test.ts",
): void {
  Deno.test({
    name,
    ignore: skipUnlessIsolated(file),
    fn: () => withMeeting(name, opts, fn),
  });
}
