/**
 * The whiteboard in real Chromium (data-only pages): how big an update is per stroke, and how
 * long a late joiner takes to receive a board of 500 and 5,000 strokes.
 *
 * Ada draws the board (strokes of 40 points, like a second of handwriting, committed through the
 * engine in batches), Bob keeps a copy, then Dee joins. For Dee the clock runs from the moment
 * her first board link opens to the moment the whole board is applied (the page's own
 * `__moozBoard.timeline`), and, as a person sees it, from her "Join meeting" to the whole board;
 * then how long opening the board takes (first paint of every stroke).
 *
 * Runs inside a private network namespace with only loopback (`deno task bench --board` starts
 * it as `unshare -rn … deno run bench/board.ts`) and prints its result as JSON on the last line.
 */
import type { Browser, Page } from "playwright-core";
import { launchBrowser } from "../tests/chromium.ts";
import { startLiveServer } from "../tests/live_server.ts";
import {
  DATA_ONLY_ARGS,
  join,
  keyOf,
  linkOf,
  waitForRemoteTiles,
} from "../tests/meeting_harness.ts";
import { newRoomId } from "../signaling/room_id.ts";

export interface UpdateSize {
  points: number;
  /** Bytes of the Yjs update of one stroke, median. */
  updateBytes: number;
  /** Bytes on the wire per peer: the update in a y-protocols message in a board frame. */
  frameBytes: number;
}

export interface LateJoin {
  strokes: number;
  /** Bytes of the whole board (one Yjs update). */
  boardBytes: number;
  /** First board link open → whole board applied, ms, per run. */
  syncMs: number[];
  /** "Join meeting" → whole board applied, ms, per run. */
  joinMs: number[];
  /** "Whiteboard" pressed → every stroke painted, ms, per run. */
  openMs: number[];
}

export interface BoardBenchResult {
  updates: UpdateSize[];
  lateJoins: LateJoin[];
}

const OFF = { mic: false, camera: false };

async function participant(browser: Browser, origin: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Data-only pages gather loopback candidates only once camera and microphone are granted.
  await context.grantPermissions(["camera", "microphone"], { origin });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  return page;
}

/** Adds `count` strokes of `points` points through Ada's engine, in batches that go out. */
async function draw(page: Page, count: number, points: number): Promise<void> {
  await page.evaluate(async ({ count, points }) => {
    // deno-lint-ignore no-explicit-any -- the debug handle tests/MEETING_UI_CONTRACT.md documents
    const engine = (globalThis as any).__moozBoard.engine;
    let seed = 1;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < count; i++) {
      let x = random() * 1600, y = random() * 1000;
      const flat: number[] = [];
      for (let p = 0; p < points; p++) {
        x += 2 + random() * 5;
        y += (random() - 0.5) * 8;
        flat.push(x, y);
      }
      engine.add({ kind: "pen", color: i % 8, size: 4, points: flat, pressure: null });
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
    }
  }, { count, points });
}

/** The Yjs update of one stroke of `points` points, median of 21. */
async function updateSize(page: Page, points: number): Promise<UpdateSize> {
  const sizes = await page.evaluate(async (points) => {
    // deno-lint-ignore no-explicit-any -- the debug handle tests/MEETING_UI_CONTRACT.md documents
    const engine = (globalThis as any).__moozBoard.engine;
    const sizes: number[] = [];
    const onUpdate = (u: Uint8Array) => sizes.push(u.length);
    engine.doc.on("update", onUpdate);
    for (let i = 0; i < 21; i++) {
      const flat: number[] = [];
      let x = 100 + i * 10, y = 100;
      for (let p = 0; p < points; p++) flat.push(x += 3 + (p % 4), y += (p % 5) - 2);
      engine.add({ kind: "pen", color: 0, size: 4, points: flat, pressure: null });
      await new Promise((r) => setTimeout(r, 0));
    }
    engine.doc.off("update", onUpdate);
    return sizes;
  }, points);
  const updateBytes = sizes.sort((a, b) => a - b)[Math.floor(sizes.length / 2)];
  // y-protocols message: type (1 byte) + length varint; the frame adds its kind byte.
  const frameBytes = updateBytes + 1 + (updateBytes < 128 ? 1 : 2) + 1;
  return { points, updateBytes, frameBytes };
}

async function boardSize(page: Page): Promise<number> {
  return await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any -- the debug handle tests/MEETING_UI_CONTRACT.md documents
    (globalThis as any).__moozBoard.engine.encodeState().length
  );
}

/** Waits until `page`'s board has `n` elements. */
async function boardHas(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    // deno-lint-ignore no-explicit-any -- the debug handle tests/MEETING_UI_CONTRACT.md documents
    (n) => (globalThis as any).__moozBoard?.engine?.size === n,
    n,
    { timeout: 120_000, polling: 5 },
  );
}

async function lateJoin(browser: Browser, origin: string, strokes: number, runs: number) {
  const result: LateJoin = { strokes, boardBytes: 0, syncMs: [], joinMs: [], openMs: [] };
  for (let r = 0; r < runs; r++) {
    const room = newRoomId();
    keyOf(room);
    const pages: Page[] = [];
    try {
      const ada = await participant(browser, origin);
      pages.push(ada);
      await join(ada, origin, room, "Ada", OFF, { timeoutMs: 60_000 });
      const bob = await participant(browser, origin);
      pages.push(bob);
      await join(bob, origin, room, "Bob", OFF, { timeoutMs: 60_000 });
      await waitForRemoteTiles(ada, 1, { timeoutMs: 60_000 });
      await ada.getByRole("button", { name: "Whiteboard", exact: true }).click();
      await ada.getByRole("application", { name: "Drawing area" }).waitFor();
      await draw(ada, strokes, 40);
      await boardHas(ada, strokes);
      await boardHas(bob, strokes);
      result.boardBytes = await boardSize(ada);

      const dee = await participant(browser, origin);
      pages.push(dee);
      await dee.goto(linkOf(origin, room));
      await dee.getByLabel("Your name").fill("Dee");
      const button = dee.getByRole("button", { name: "Join meeting" });
      await dee.locator("button[type=submit]:not([disabled])").waitFor();
      const clicked = await dee.evaluate(() => performance.now());
      await button.click();
      await boardHas(dee, strokes);
      const timeline = await dee.evaluate(() => ({
        now: performance.now(),
        // deno-lint-ignore no-explicit-any -- the debug handle tests/MEETING_UI_CONTRACT.md documents
        ...(globalThis as any).__moozBoard.timeline,
      })) as { now: number; firstLink: number; synced: number | null };
      result.joinMs.push(timeline.now - clicked);
      result.syncMs.push((timeline.synced ?? timeline.now) - timeline.firstLink);

      // Opening the board: from the press to the end of the paint that drew every stroke.
      const opened = await dee.evaluate(async (n) => {
        const start = performance.now();
        const button = [...document.querySelectorAll<HTMLButtonElement>("button")]
          .find((b) => b.getAttribute("aria-label") === "Whiteboard");
        button!.click();
        // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
        const debug = (globalThis as any).__moozBoard;
        while (!(debug.painted?.at > start && debug.painted.elements === n)) {
          await new Promise((r) => setTimeout(r, 2));
        }
        return debug.painted.at - start;
      }, strokes);
      result.openMs.push(opened);
    } finally {
      await Promise.all(pages.map((p) => p.context().close().catch(() => {})));
    }
  }
  return result;
}

export async function measureBoard(
  sizes = [500, 5_000],
  runs = 3,
): Promise<BoardBenchResult> {
  const server = await startLiveServer({
    parallel: false,
    env: { MOOZ_STUN_URLS: "", MOOZ_LINK_DEADLINE_MS: "600000" },
  });
  const browser = await launchBrowser(DATA_ONLY_ARGS);
  try {
    const updates: UpdateSize[] = [];
    {
      const room = newRoomId();
      const page = await participant(browser, server.origin);
      await join(page, server.origin, room, "Ada", OFF, { timeoutMs: 60_000 });
      await page.getByRole("button", { name: "Whiteboard", exact: true }).click();
      await page.getByRole("application", { name: "Drawing area" }).waitFor();
      for (const points of [10, 40, 150]) updates.push(await updateSize(page, points));
      await page.context().close();
    }
    const lateJoins: LateJoin[] = [];
    for (const n of sizes) lateJoins.push(await lateJoin(browser, server.origin, n, runs));
    return { updates, lateJoins };
  } finally {
    await browser.close();
    await server.stop();
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const result = await measureBoard(quick ? [500] : [500, 5_000], quick ? 1 : 3);
  console.log(JSON.stringify(result));
}
