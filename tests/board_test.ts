/**
 * The whiteboard in real Chromium with real WebRTC data channels (data-only meetings: no
 * cameras). Pages draw with synthetic pointer events — Playwright's mouse (trusted events) and
 * PointerEvents dispatched in the page, with pen pressure and touch — at the same time, and the
 * boards must converge: the same Yjs state vector, the same elements, the same exported SVG.
 *
 * Runs only inside a loopback-only network namespace (see tests/meeting_harness.ts):
 * `CHROME_PATH=/usr/bin/chromium unshare -rn sh -c 'ip link set lo up && deno test -A
 * tests/board_test.ts'`.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { axeViolations } from "./browser.ts";
import {
  control,
  fillPreJoin,
  join,
  meetingTest,
  type MeetingWorld,
  type Participant,
  until,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/board_test.ts";
const OFF = { mic: false, camera: false };

// ---------------------------------------------------------------------------------------------
// Driving the board

/** The open whiteboard's drawing area. */
function drawingArea(page: Page) {
  return page.getByRole("region", { name: "Whiteboard" }).getByRole("application", {
    name: "Drawing area",
  });
}

/** Opens the whiteboard from the control bar and waits for its drawing area. */
async function openBoard(p: Participant): Promise<void> {
  const button = control(p.page, "Whiteboard");
  if (await button.getAttribute("aria-expanded") !== "true") await button.click();
  await drawingArea(p.page).waitFor({ timeout: 20_000 });
}

/** A stroke: points in the drawing area's pixels, and how it is drawn. */
interface Stroke {
  points: [number, number][];
  type?: "mouse" | "pen" | "touch";
}

/**
 * Draws strokes by dispatching PointerEvents on the drawing area (in the page: fast enough for
 * hundreds). Pens report pressure; `yieldEvery` strokes the page gets a task to breathe.
 */
async function dispatchStrokes(page: Page, strokes: Stroke[], yieldEvery = 0): Promise<void> {
  await page.evaluate(async ({ strokes, yieldEvery }) => {
    const area = document.querySelector<HTMLElement>(
      '[role="application"][aria-label="Drawing area"]',
    );
    if (!area) throw new Error("the board is not open");
    const r = area.getBoundingClientRect();
    let id = 100;
    for (const [n, s] of strokes.entries()) {
      const type = s.type ?? "mouse";
      const pointerId = type === "mouse" ? 1 : ++id;
      const at = (i: number, kind: string) => {
        const [x, y] = s.points[i];
        area.dispatchEvent(
          new PointerEvent(kind, {
            bubbles: true,
            cancelable: true,
            pointerId,
            pointerType: type,
            isPrimary: true,
            clientX: r.left + x,
            clientY: r.top + y,
            button: kind === "pointermove" ? -1 : 0,
            buttons: kind === "pointerup" ? 0 : 1,
            pressure: kind === "pointerup" ? 0 : type === "pen" ? 0.3 + (i % 5) / 10 : 0.5,
          }),
        );
      };
      at(0, "pointerdown");
      for (let i = 1; i < s.points.length; i++) at(i, "pointermove");
      at(s.points.length - 1, "pointerup");
      if (yieldEvery && (n + 1) % yieldEvery === 0) await new Promise((r) => setTimeout(r, 0));
    }
  }, { strokes, yieldEvery });
}

/** A wavy stroke `k` of a page's own pattern, within an 700×400 area. */
function wave(k: number, seed: number, n = 8): Stroke {
  const x0 = 20 + ((k * 37 + seed * 101) % 600), y0 = 20 + ((k * 53 + seed * 29) % 330);
  return {
    points: Array.from({ length: n }, (_, i) => [x0 + i * 6, y0 + Math.sin(i + seed) * 8]),
  };
}

/** What must be equal on pages that agree: state vector, elements, SVG. */
interface BoardState {
  state: [number, number][];
  elements: string;
  svg: string;
  count: number;
}

async function boardState(page: Page): Promise<BoardState> {
  return await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
    const debug = (globalThis as any).__moozBoard;
    const engine = debug?.engine;
    if (!engine) throw new Error("the board's engine is not loaded");
    return {
      state: engine.state(),
      elements: JSON.stringify(engine.snapshot()),
      svg: debug.svg ? debug.svg() : "",
      count: engine.size,
    };
  });
}

/** Waits until every page's board is the same (state vector, elements, SVG); returns it. */
async function converged(ps: Participant[], what: string, timeoutMs = 30_000): Promise<BoardState> {
  let last: BoardState[] = [];
  return await until(
    what,
    async () => {
      last = await Promise.all(ps.map((p) => boardState(p.page)));
      const [first, ...rest] = last;
      const same = rest.every((s) =>
        JSON.stringify(s.state) === JSON.stringify(first.state) && s.elements === first.elements &&
        s.svg === first.svg
      );
      return same ? first : undefined;
    },
    {
      timeoutMs,
      describe: () =>
        last.map((s, i) => ({
          who: ps[i].name,
          count: s.count,
          state: s.state,
          svgLength: s.svg.length,
        })),
    },
  );
}

/** The ids on `page`'s board. */
async function ids(page: Page): Promise<string[]> {
  return await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
    ((globalThis as any).__moozBoard.engine.snapshot() as { id: string }[]).map((e) => e.id)
  );
}

// ---------------------------------------------------------------------------------------------

meetingTest(
  "three people drawing at once converge; undo takes back only one's own strokes; a fourth joining after 500 strokes has the same board within 2 s",
  { devices: "none", timeoutMs: 240_000, env: { MOOZ_LINK_DEADLINE_MS: "600000" } },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const cy = await w.join("Cy", OFF);
    await Promise.all([
      waitForRemoteTiles(ada.page, 2, { who: "Ada" }),
      waitForRemoteTiles(bob.page, 2, { who: "Bob" }),
      waitForRemoteTiles(cy.page, 2, { who: "Cy" }),
    ]);
    const three = [ada, bob, cy];
    await Promise.all(three.map(openBoard));
    w.log("three boards open");

    // Trusted mouse strokes on Ada's page while Bob draws with a pen and Cy with a finger.
    const box = (await drawingArea(ada.page).boundingBox())!;
    // One person has one pointer at a time: Ada's mouse strokes, then her dispatched ones.
    const adaDraws = (async () => {
      for (let k = 0; k < 5; k++) {
        await ada.page.mouse.move(box.x + 30 + k * 40, box.y + 40);
        await ada.page.mouse.down();
        for (let i = 1; i <= 6; i++) {
          await ada.page.mouse.move(box.x + 30 + k * 40 + i * 4, box.y + 40 + i * 9, { steps: 2 });
        }
        await ada.page.mouse.up();
      }
      await dispatchStrokes(ada.page, Array.from({ length: 25 }, (_, k) => wave(k, 1)), 1);
    })();
    await Promise.all([
      adaDraws,
      dispatchStrokes(
        bob.page,
        Array.from({ length: 30 }, (_, k) => ({ ...wave(k, 2), type: "pen" as const })),
        1,
      ),
      dispatchStrokes(
        cy.page,
        Array.from({ length: 30 }, (_, k) => ({ ...wave(k, 3), type: "touch" as const })),
        1,
      ),
    ]);
    const first = await converged(three, "the three boards to converge after drawing at once");
    assert.equal(first.count, 90, "5 mouse strokes, 25 + 30 + 30 dispatched");
    assert.match(first.svg, /^<svg /);
    w.log(`converged on ${first.count} strokes, ${first.svg.length} B of SVG`);

    // Undo: Ada's last stroke goes everywhere; nobody else's does.
    const before = new Set(await ids(bob.page));
    await dispatchStrokes(ada.page, [wave(99, 1)]);
    const adaLast = await until("Ada's new stroke on Bob's board", async () => {
      const now = await ids(bob.page);
      return now.find((id) => !before.has(id));
    });
    await drawingArea(ada.page).focus();
    await ada.page.keyboard.press("Control+z");
    await until("Ada's undo to reach Bob and Cy", async () => {
      const [b, c] = await Promise.all([ids(bob.page), ids(cy.page)]);
      return !b.includes(adaLast) && !c.includes(adaLast) && b.length === before.size &&
        c.length === before.size;
    });
    // Bob's Undo button takes back Bob's last stroke, not Ada's or Cy's.
    const beforeBob = await ids(cy.page);
    await bob.page.getByRole("button", { name: "Undo" }).click();
    const gone = await until("Bob's undo to reach Cy", async () => {
      const now = await ids(cy.page);
      return now.length === beforeBob.length - 1
        ? beforeBob.filter((id) => !now.includes(id))
        : undefined;
    });
    const bobsOwn = await bob.page.evaluate((id) =>
      // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
      (globalThis as any).__moozBoard.engine.get(id) === undefined, gone[0]);
    assert.ok(bobsOwn);
    await bob.page.getByRole("button", { name: "Redo" }).click();
    await converged(three, "Bob's redo to reach everyone");

    // Up to 500 strokes, all three at once.
    const now = (await boardState(ada.page)).count;
    const perPage = Math.ceil((500 - now) / 3);
    await Promise.all(
      three.map((p, i) =>
        dispatchStrokes(p.page, Array.from({ length: perPage }, (_, k) => wave(k + 200, 4 + i)), 20)
      ),
    );
    const full = await converged(three, "500 strokes on three boards", 60_000);
    assert.ok(full.count >= 500, `${full.count} strokes`);
    w.log(`${full.count} strokes converged`);

    // Dee joins: her board is complete within 2 s of her first board link opening.
    const dee = await w.join("Dee", OFF);
    await until("Dee's board to match the others", async () => {
      const [a, d] = await Promise.all([boardState(ada.page), boardState(dee.page)]);
      return JSON.stringify(a.state) === JSON.stringify(d.state) && a.elements === d.elements;
    }, { timeoutMs: 30_000 });
    const timeline = await dee.page.evaluate(() =>
      // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
      (globalThis as any).__moozBoard.timeline as {
        firstLink: number;
        loaded: number;
        synced: number;
      }
    );
    const ms = timeline.synced - timeline.firstLink;
    w.log(`Dee had the whole board ${ms.toFixed(0)} ms after her first board link opened`);
    assert.ok(ms < 2_000, `${ms} ms`);
    await openBoard(dee);
    const all = await converged([ada, bob, cy, dee], "Dee's open board to show the same SVG");
    assert.equal(all.count, full.count);
    assert.equal(
      await dee.page.locator("[data-board-count]").getAttribute("data-board-count"),
      String(all.count),
    );
  },
  FILE,
);

/** The elements on `page`'s board, in stacking order. */
async function elements(page: Page): Promise<
  { id: string; kind: string; color: number; size: number; x: number; y: number; text: string }[]
> {
  return await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
    (globalThis as any).__moozBoard.engine.snapshot()
  );
}

/** Drags with the real mouse from (x0, y0) to (x1, y1), drawing-area pixels. */
async function drag(page: Page, x0: number, y0: number, x1: number, y1: number, shift = false) {
  const b = (await drawingArea(page).boundingBox())!;
  if (shift) await page.keyboard.down("Shift");
  await page.mouse.move(b.x + x0, b.y + y0);
  await page.mouse.down();
  await page.mouse.move(b.x + x1, b.y + y1, { steps: 8 });
  await page.mouse.up();
  if (shift) await page.keyboard.up("Shift");
}

/** The toolbar's button `name` (exact). */
function tool(page: Page, name: string) {
  return page.getByRole("toolbar", { name: "Whiteboard tools" }).getByRole("button", {
    name,
    exact: true,
  });
}

/** Waits until `page`'s board satisfies `check` on its elements. */
async function boardShows(
  page: Page,
  what: string,
  check: (els: Awaited<ReturnType<typeof elements>>) => boolean,
) {
  let last: unknown;
  await until(what, async () => check((last = await elements(page)) as never), {
    describe: () => last,
  });
}

/** Axe violations of moderate impact or worse, as lines. */
async function axeProblems(page: Page): Promise<string[]> {
  return (await axeViolations(page))
    .filter((v) => v.impact !== "minor")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target).join(", ")}`);
}

meetingTest(
  "every tool works by mouse, keyboard and touch; clear asks first and undoes; exports; accessible on desktop and phone",
  { devices: "none", timeoutMs: 180_000, env: { MOOZ_LINK_DEADLINE_MS: "600000" } },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    await waitForRemoteTiles(ada.page, 1, { who: "Ada" });
    const page = ada.page;
    await page.setViewportSize({ width: 1366, height: 768 });
    // B opens it (a single-key shortcut of the bar), and focus goes to the drawing area.
    await page.keyboard.press("b");
    await drawingArea(page).waitFor();
    assert.equal(await control(page, "Whiteboard").getAttribute("aria-expanded"), "true");
    assert.equal(await drawingArea(page).evaluate((el) => el === document.activeElement), true);
    await openBoard(bob);

    // Keys pick tools inside the board and go no further: V selects, the camera stays off.
    await page.keyboard.press("r");
    assert.equal(await tool(page, "Rectangle").getAttribute("aria-pressed"), "true");
    await page.keyboard.press("v");
    assert.equal(await tool(page, "Select").getAttribute("aria-pressed"), "true");
    assert.equal(await control(page, "Camera").getAttribute("aria-pressed"), "false");

    await page.keyboard.press("r");
    await tool(page, "Red").click();
    await drag(page, 100, 100, 250, 180);
    await page.keyboard.press("o");
    await drag(page, 300, 100, 400, 160);
    await drawingArea(page).focus();
    await page.keyboard.press("l");
    await tool(page, "Large").click();
    await drag(page, 100, 300, 300, 320, true); // shift: snapped to a horizontal line
    await drawingArea(page).focus();
    await page.keyboard.press("i");
    await tool(page, "Yellow").click();
    await drag(page, 100, 400, 400, 410);
    await tool(page, "Text").click();
    const b = (await drawingArea(page).boundingBox())!;
    await page.mouse.click(b.x + 500, b.y + 300);
    await page.getByRole("textbox", { name: "Text" }).pressSequentially("Hello board");
    await page.keyboard.press("Enter");
    await boardShows(
      bob.page,
      "Bob to see a rectangle, an ellipse, a line, a highlight, a text",
      (els) => {
        const kinds = els.map((e) => e.kind).sort().join();
        return kinds === "ellipse,highlighter,line,rect,text" &&
          els.find((e) => e.kind === "text")?.text === "Hello board" &&
          els.find((e) => e.kind === "rect")?.color === 1 &&
          els.find((e) => e.kind === "highlighter")?.color === 3 &&
          els.find((e) => e.kind === "line")?.size === 8;
      },
    );
    const line = (await elements(bob.page)).find((e) => e.kind === "line")!;
    const lineEl = await bob.page.evaluate((id) =>
      // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
      (globalThis as any).__moozBoard.engine.get(id).points, line.id);
    assert.equal(lineEl[1], lineEl[3], "shift snaps the line to horizontal");

    // Select and move the rectangle by dragging its edge.
    await drawingArea(page).focus();
    await page.keyboard.press("v");
    const rect = (await elements(page)).find((e) => e.kind === "rect")!;
    await drag(page, 100, 140, 160, 190);
    await boardShows(bob.page, "the moved rectangle on Bob's board", (els) => {
      const r = els.find((e) => e.id === rect.id);
      return !!r && Math.abs(r.x - rect.x - 60) < 1 && Math.abs(r.y - rect.y - 50) < 1;
    });
    // Arrow keys nudge the selection; Delete removes it.
    await page.keyboard.press("ArrowRight");
    await boardShows(
      bob.page,
      "the nudged rectangle",
      (els) => Math.abs(els.find((e) => e.id === rect.id)!.x - rect.x - 70) < 1,
    );
    await page.keyboard.press("Delete");
    await boardShows(
      bob.page,
      "the rectangle deleted",
      (els) => !els.some((e) => e.id === rect.id),
    );
    await page.keyboard.press("Control+z");
    await boardShows(bob.page, "the rectangle back", (els) => els.some((e) => e.id === rect.id));

    // The eraser takes what it passes over.
    await page.keyboard.press("e");
    await drag(page, 350, 80, 350, 200);
    await boardShows(
      bob.page,
      "the ellipse erased",
      (els) => !els.some((e) => e.kind === "ellipse"),
    );

    // Touch: one finger draws, two fingers zoom.
    await page.keyboard.press("p");
    const cdp = await page.context().newCDPSession(page);
    const touch = (
      type: "touchStart" | "touchMove" | "touchEnd",
      points: [number, number][],
    ) =>
      cdp.send("Input.dispatchTouchEvent", {
        type,
        touchPoints: points.map(([x, y], id) => ({ x: b.x + x, y: b.y + y, id })),
      });
    const penBefore = (await elements(page)).filter((e) => e.kind === "pen").length;
    await touch("touchStart", [[600, 100]]);
    for (let i = 1; i <= 10; i++) await touch("touchMove", [[600 + i * 5, 100 + i * 3]]);
    await touch("touchEnd", []);
    await boardShows(
      bob.page,
      "a finger's stroke",
      (els) => els.filter((e) => e.kind === "pen").length === penBefore + 1,
    );
    const zoomLabel = () => tool(page, "100%, reset zoom").count();
    assert.equal(await zoomLabel(), 1);
    await touch("touchStart", [[500, 300], [600, 300]]);
    for (let i = 1; i <= 10; i++) {
      await touch("touchMove", [[500 - i * 10, 300], [600 + i * 10, 300]]);
    }
    await touch("touchEnd", []);
    await until("two fingers to zoom in", async () => await zoomLabel() === 0);
    assert.equal((await elements(page)).filter((e) => e.kind === "pen").length, penBefore + 1);
    await drawingArea(page).focus();
    await page.keyboard.press("0");
    assert.equal(await zoomLabel(), 1);

    // Clear asks first; Cancel keeps everything, Clear board removes it for everyone; Undo
    // brings it back.
    const count = (await elements(page)).length;
    await tool(page, "Clear board").click();
    const dialog = page.getByRole("dialog", { name: "Clear the whole board?" });
    await dialog.getByRole("button", { name: "Cancel" }).click();
    assert.equal((await elements(bob.page)).length, count);
    await tool(page, "Clear board").click();
    await dialog.getByRole("button", { name: "Clear board" }).click();
    await boardShows(bob.page, "the board cleared for Bob", (els) => els.length === 0);
    await tool(page, "Undo").click();
    await boardShows(bob.page, "the clear undone", (els) => els.length === count);

    // Exports: an SVG of what is on the board, a PNG.
    const [svgDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export SVG" }).click(),
    ]);
    assert.equal(svgDownload.suggestedFilename(), "whiteboard.svg");
    const svg = await Deno.readTextFile(await svgDownload.path());
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, />Hello board<\/text>/);
    assert.equal(svg, (await boardState(bob.page)).svg, "the same SVG on Bob's page");
    const [pngDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export PNG" }).click(),
    ]);
    assert.equal(pngDownload.suggestedFilename(), "whiteboard.png");
    const png = await Deno.readFile(await pngDownload.path());
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);

    // Accessible with the board open, on a laptop and on a phone.
    assert.deepEqual(await axeProblems(page), []);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("region", { name: "Whiteboard" }).getByRole("button", {
      name: "Close whiteboard",
    }).waitFor();
    assert.deepEqual(await axeProblems(page), []);
    await page.setViewportSize({ width: 1366, height: 768 });

    // Closing gives focus back to the bar's button.
    await page.getByRole("button", { name: "Close whiteboard" }).click();
    await drawingArea(page).waitFor({ state: "detached" });
    assert.equal(await control(page, "Whiteboard").getAttribute("aria-expanded"), "false");
    assert.equal(
      await control(page, "Whiteboard").evaluate((el) => el === document.activeElement),
      true,
    );
  },
  FILE,
);

/** Keeps every RTCPeerConnection the page makes in `globalThis.__pcs` (to cut its links). */
function recordPeerConnections() {
  const Native = globalThis.RTCPeerConnection;
  const all: RTCPeerConnection[] = [];
  (globalThis as unknown as { __pcs: RTCPeerConnection[] }).__pcs = all;
  globalThis.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      all.push(this);
    }
  } as typeof RTCPeerConnection;
}

meetingTest(
  "a page whose links drop draws on; after it comes back every board converges, its strokes included",
  {
    devices: "none",
    timeoutMs: 180_000,
    // The full-mesh guarantee lets the cut-off page go soon; it rejoins from its end screen.
    env: { MOOZ_LINK_DEADLINE_MS: "4000" },
  },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const cy = await w.open("Cy");
    await cy.page.addInitScript(recordPeerConnections);
    await join(cy.page, w.origin, w.room, "Cy", OFF);
    await Promise.all([
      waitForRemoteTiles(ada.page, 2, { who: "Ada" }),
      waitForRemoteTiles(cy.page, 2, { who: "Cy" }),
    ]);
    const three = [ada, bob, cy];
    await Promise.all(three.map(openBoard));
    await Promise.all(
      three.map((p, i) =>
        dispatchStrokes(p.page, Array.from({ length: 10 }, (_, k) => wave(k, i)))
      ),
    );
    const before = await converged(three, "the boards before the cut");
    assert.equal(before.count, 30);

    // Cy's links drop: every connection of the page closes at once.
    await cy.page.evaluate(() =>
      (globalThis as unknown as { __pcs: RTCPeerConnection[] }).__pcs.forEach((pc) => pc.close())
    );
    w.log("Cy's links are cut");
    // Cy draws on while cut off, and so do the others; Cy also erases one of Ada's strokes.
    const adaFirst = (await ids(ada.page))[0];
    await Promise.all([
      dispatchStrokes(cy.page, Array.from({ length: 8 }, (_, k) => wave(k + 50, 7))),
      dispatchStrokes(ada.page, Array.from({ length: 8 }, (_, k) => wave(k + 50, 8))),
      dispatchStrokes(bob.page, Array.from({ length: 8 }, (_, k) => wave(k + 50, 9))),
    ]);
    await cy.page.evaluate((id) =>
      // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
      (globalThis as any).__moozBoard.engine.erase([id]), adaFirst);
    await converged([ada, bob], "Ada's and Bob's boards while Cy is away");
    assert.equal((await boardState(cy.page)).count, 30 + 8 - 1, "Cy sees only its own changes");

    // The mesh lets Cy go (it reaches nobody); Cy rejoins from its end screen.
    await waitForPhase(cy.page, "ended", { who: "Cy", timeoutMs: 60_000 });
    w.log("Cy was let go; rejoining");
    await cy.page.getByRole("button", { name: "Rejoin" }).click();
    await fillPreJoin(cy.page, "Cy", OFF);
    await cy.page.getByRole("button", { name: "Join meeting" }).click();
    await waitForPhase(cy.page, "joined", { who: "Cy", timeoutMs: 30_000 });
    await waitForRemoteTiles(ada.page, 2, { who: "Ada", timeoutMs: 60_000 });
    await openBoard(cy);
    const healed = await converged(three, "every board after Cy came back", 30_000);
    assert.equal(healed.count, 30 + 3 * 8 - 1, "everyone's strokes, Cy's erase included");
    assert.ok(!(await ids(bob.page)).includes(adaFirst));
  },
  FILE,
);

/** Counts long tasks on the page from now on (`globalThis.__longTasks`, durations in ms). */
async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const durations: number[] = [];
    (globalThis as unknown as { __longTasks: number[] }).__longTasks = durations;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) durations.push(e.duration);
    }).observe({ type: "longtask" });
  });
}

meetingTest(
  "a hostile peer's huge, malformed and flooding board frames crash and freeze nobody",
  { devices: "none", timeoutMs: 180_000, env: { MOOZ_LINK_DEADLINE_MS: "600000" } },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const eve = await w.join("Eve", OFF);
    await Promise.all([
      waitForRemoteTiles(ada.page, 2, { who: "Ada" }),
      waitForRemoteTiles(eve.page, 2, { who: "Eve" }),
    ]);
    const all = [ada, bob, eve];
    await Promise.all(all.map(openBoard));
    await dispatchStrokes(ada.page, [wave(1, 1), wave(2, 1)]);
    await converged(all, "the boards before the attack");
    await Promise.all([watchLongTasks(ada.page), watchLongTasks(bob.page)]);

    // Eve writes raw frames on her board channels, as a modified client could.
    const sent = await eve.page.evaluate(async () => {
      // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
      const debug = (globalThis as any).__moozBoard;
      const channels = [...debug.channels.values()] as {
        send(d: unknown): void;
        drained(low?: number): Promise<void>;
        bufferedAmount: number;
      }[];
      let frames = 0;
      const send = async (bytes: Uint8Array | string) => {
        for (const c of channels) {
          if (c.bufferedAmount > 4 * 1024 * 1024) await c.drained(1024 * 1024);
          try {
            c.send(bytes);
            frames++;
          } catch {
            // over the channel's size: what the browser refuses is no attack
          }
        }
      };
      const random = (n: number) => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
        return b;
      };
      // 1. A message announced at 64 MiB, then 12 MiB of its pieces.
      const first = random(65536);
      first[0] = 1;
      new DataView(first.buffer).setUint32(1, 64 * 1024 * 1024);
      first[5] = 2;
      await send(first);
      for (let i = 0; i < 200; i++) {
        const more = random(65536);
        more[0] = 2;
        await send(more);
      }
      // 2. Thousands of frames of random bytes, each kind of first byte.
      for (let i = 0; i < 3000; i++) {
        const junk = random(8 + (i % 300));
        junk[0] = i % 5;
        await send(junk);
      }
      // 3. Whole sync frames whose update is not one.
      for (let i = 0; i < 200; i++) {
        const bad = random(2000);
        bad.set([0, 2, 0xcd, 0x0f]);
        await send(bad);
      }
      // 4. Awareness that is too big, not JSON, nested deep, or the wrong shape; text frames.
      await send(new Uint8Array(40_000).fill(3));
      await send(Uint8Array.of(3, ...new TextEncoder().encode("[".repeat(20_000))));
      await send(Uint8Array.of(3, ...new TextEncoder().encode(JSON.stringify({ c: [1e300, 0] }))));
      await send("text is not a board frame");
      // 5. Valid Yjs, hostile content: values that are not elements, and 4 MB in another map.
      const map = debug.engine.doc.getMap("el");
      map.set("junk1", { k: "p", z: 1, c: 0, s: 4, x: 0, y: 0, d: new Uint8Array([255]) });
      map.set("junk2", { k: "t", z: 1, c: 0, s: 4, x: 0, y: 0, t: "x".repeat(100_000) });
      debug.engine.doc.getMap("other").set("big", "y".repeat(4_000_000));
      return frames;
    });
    w.log(`Eve sent ${sent} raw frames and a 4 MB update`);

    // Ada and Bob are still there and still in step with each other (and with Eve's valid part).
    await dispatchStrokes(ada.page, [wave(3, 1)]);
    await dispatchStrokes(bob.page, [wave(4, 2)]);
    const after = await converged(all, "the boards after the attack", 60_000);
    assert.equal(after.count, 4, "the junk values are never shown");
    for (const p of [ada, bob]) {
      const report = await p.page.evaluate(() => ({
        // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
        dropped: (globalThis as any).__moozBoard.engine.dropped,
        // deno-lint-ignore no-explicit-any -- the debug handle the contract documents
        invalid: (globalThis as any).__moozBoard.engine.invalid,
        longTasks: (globalThis as unknown as { __longTasks: number[] }).__longTasks,
      }));
      const refused = Object.values(report.dropped as Record<string, number>)
        .reduce((a, b) => a + b, 0);
      const longest = Math.max(0, ...report.longTasks);
      w.log(
        `${p.name}: ${refused} frames refused ${JSON.stringify(report.dropped)}, ` +
          `${report.invalid} invalid values, longest task ${longest.toFixed(0)} ms`,
      );
      assert.ok(report.dropped["too-big"] >= 1, "the 64 MiB message refused at its first piece");
      assert.ok(report.dropped.malformed + report.dropped.rate >= 1000, "junk and floods dropped");
      assert.ok(report.dropped["not-binary"] >= 1);
      assert.ok(report.invalid >= 2);
      assert.ok(longest < 2_000, `no task froze ${p.name}'s page for long (${longest} ms)`);
    }
  },
  FILE,
);
