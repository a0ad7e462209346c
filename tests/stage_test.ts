/**
 * The meeting's stage in real headless Chromium: the grid's geometry at desktop and phone sizes,
 * small tiles without video, the speaker layout, the speaking highlight, a shared screen (its
 * loading state, its fit on a phone, full screen), the "alone" invitation, hiding the self view
 * and picture-in-picture. Boxes are measured with getBoundingClientRect. Selectors come from
 * tests/MEETING_UI_CONTRACT.md; see tests/meeting_harness.ts.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { axeViolations } from "./browser.ts";
import {
  control,
  framesAdvance,
  meetingTest,
  type MeetingWorld,
  tileOf,
  tiles,
  until,
  videoRegion,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/stage_test.ts";
const OFF = { mic: false, camera: false };
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
  width: number;
  height: number;
}

interface Measured {
  region: Rect;
  /** The region's `data-layout`, and the box its tiles are laid out in (its last child). */
  layout: string | null;
  area: Rect;
  tiles: {
    label: string;
    box: Rect;
    caption: Rect;
    /** The initials circle and the "Camera off" text of a tile without video. */
    circle: Rect | null;
    text: Rect | null;
  }[];
}

/** Every tile's box in the "Participants' video" region, with its caption and placeholder. */
async function measure(page: Page): Promise<Measured> {
  return await videoRegion(page).evaluate((region) => {
    const rect = (el: Element) => {
      const r = el.getBoundingClientRect();
      return {
        left: r.left,
        top: r.top,
        right: r.right,
        bottom: r.bottom,
        width: r.width,
        height: r.height,
      };
    };
    return {
      region: rect(region),
      layout: region.getAttribute("data-layout"),
      area: rect(region.lastElementChild!),
      tiles: [...region.querySelectorAll("figure")].map((f) => {
        const text = [...f.querySelectorAll("span")].find((s) => s.textContent === "Camera off");
        const circle = text?.previousElementSibling;
        return {
          label: f.getAttribute("aria-label") ?? "",
          box: rect(f),
          caption: rect(f.querySelector("figcaption")!),
          circle: circle ? rect(circle) : null,
          text: text ? rect(text) : null,
        };
      }),
    };
  });
}

const inside = (inner: Rect, outer: Rect) =>
  inner.left >= outer.left - 0.5 && inner.right <= outer.right + 0.5 &&
  inner.top >= outer.top - 0.5 && inner.bottom <= outer.bottom + 0.5;

/**
 * Problems with the tiles' placeholders: the initials and "Camera off" of every tile without
 * video must be inside the tile and above its name bar (defect 4), whatever the tile's size.
 */
function placeholderProblems(m: Measured): string[] {
  const problems: string[] = [];
  for (const t of m.tiles) {
    for (const [what, r] of [["initials", t.circle], ["Camera off", t.text]] as const) {
      if (!r) continue;
      if (!inside(r, t.box)) problems.push(`${t.label}: ${what} overflows the tile`);
      if (r.bottom > t.caption.top + 0.5) problems.push(`${t.label}: ${what} under the name bar`);
      if (r.height === 0) problems.push(`${t.label}: ${what} has no size`);
    }
  }
  return problems;
}

/**
 * Problems with a grid of `n` equal tiles in a page `width` px wide: each tile inside the region,
 * none overlapping, the tiles as large as the area allows (they reach its edges one way or the
 * other), and the last row centred (defect 10: no empty cell at the end of a left-aligned row).
 */
function gridProblems(m: Measured, n: number, width: number): string[] {
  const problems: string[] = [];
  if (m.layout !== "grid") return [`data-layout is ${m.layout}`];
  if (m.tiles.length !== n) return [`${m.tiles.length} tiles, not ${n}`];
  // The page's side padding is 12 or 16 px: the region spans the rest.
  if (m.region.width < width - 40) return [`the region is ${m.region.width} px wide`];
  const boxes = m.tiles.map((t) => t.box);
  const blockWidth = Math.max(...boxes.map((b) => b.right)) - Math.min(...boxes.map((b) => b.left));
  const blockHeight = Math.max(...boxes.map((b) => b.bottom)) -
    Math.min(...boxes.map((b) => b.top));
  if (blockWidth < m.area.width * 0.97 && blockHeight < m.area.height * 0.97) {
    problems.push(`the tiles use ${blockWidth}×${blockHeight} of ${m.area.width}×${m.area.height}`);
  }
  if (boxes.some((b) => b.width < 40 || b.height < 40)) problems.push("a tile is tiny");
  for (const [i, b] of boxes.entries()) {
    if (!inside(b, m.region)) problems.push(`tile ${i} leaves the region`);
    for (const c of boxes.slice(i + 1)) {
      const overlap = Math.min(b.right, c.right) - Math.max(b.left, c.left) > 1 &&
        Math.min(b.bottom, c.bottom) - Math.max(b.top, c.top) > 1;
      if (overlap) problems.push(`tiles overlap`);
    }
  }
  const rows = new Map<number, Rect[]>();
  for (const b of boxes) {
    const top = Math.round(b.top);
    rows.set(top, [...rows.get(top) ?? [], b]);
  }
  const lines = [...rows.entries()].sort(([a], [b]) => a - b).map(([, r]) => r);
  const first = lines[0], last = lines.at(-1)!;
  if (lines.some((r) => r.length > first.length)) problems.push("a row longer than the first");
  for (const [which, row] of [["first", first], ["last", last]] as const) {
    const left = Math.min(...row.map((b) => b.left)) - m.region.left;
    const right = m.region.right - Math.max(...row.map((b) => b.right));
    if (Math.abs(left - right) > 2) {
      problems.push(
        `the ${which} row is not centred: ${left.toFixed(1)} px left, ${right.toFixed(1)} px right`,
      );
    }
  }
  return problems;
}

/** Waits until `problems` of the page's measured tiles is empty (the layout follows resizes). */
async function settles(
  page: Page,
  what: string,
  problems: (m: Measured) => string[],
): Promise<Measured> {
  let last: { problems: string[]; m: Measured } | undefined;
  return await until(what, async () => {
    const m = await measure(page);
    last = { problems: problems(m), m };
    return last.problems.length === 0 ? m : undefined;
  }, { timeoutMs: 15_000, describe: () => last });
}

/** Fails with every axe-core violation on the page but minor ones (moderate ones included). */
async function assertAxeClean(page: Page): Promise<void> {
  const violations = (await axeViolations(page)).filter((v) => v.impact !== "minor");
  assert.deepEqual(
    violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(", ")}`),
    [],
  );
}

/** The figure's computed style of what shows that someone is speaking. */
async function speakingLook(page: Page, name: string) {
  return await tileOf(page, name).evaluate((f) => {
    const outline = f.querySelector("[data-speaking-outline]");
    const style = outline ? getComputedStyle(outline) : null;
    return {
      speaking: f.getAttribute("data-speaking"),
      border: style
        ? `${style.borderTopWidth} ${style.borderTopStyle} ${style.borderTopColor}`
        : null,
      opacity: style?.opacity ?? null,
      icon: f.querySelector('figcaption [title="Speaking"]') !== null,
    };
  });
}

meetingTest(
  "the grid: 3 and 5 tiles in centred rows at desktop and phone sizes; small tiles keep the " +
    "initials above the name bar; the speaker layout by keyboard",
  { devices: "none", timeoutMs: 180_000 },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    for (const name of ["Bob", "Cy"]) await w.join(name, OFF);
    await waitForRemoteTiles(ada.page, 2, { names: ["Bob", "Cy"], who: "Ada" });
    for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
      await ada.page.setViewportSize(size);
      const m = await settles(
        ada.page,
        `3 tiles in centred rows (${label})`,
        (m) => [...gridProblems(m, 3, size.width), ...placeholderProblems(m)],
      );
      w.log(`3 tiles, ${label}: ${m.tiles.map((t) => `${t.box.width}×${t.box.height}`)}`);
    }

    for (const name of ["Dee", "Eve"]) await w.join(name, OFF);
    await waitForRemoteTiles(ada.page, 4, { names: ["Bob", "Cy", "Dee", "Eve"], who: "Ada" });
    for (const [label, size] of [["phone", PHONE], ["desktop", DESKTOP]] as const) {
      await ada.page.setViewportSize(size);
      const m = await settles(
        ada.page,
        `5 tiles in rows with the last one centred (${label})`,
        (m) => [...gridProblems(m, 5, size.width), ...placeholderProblems(m)],
      );
      const rows = new Set(m.tiles.map((t) => Math.round(t.box.top))).size;
      assert.ok(rows >= 2, `5 tiles in ${rows} row(s) on the ${label}`);
      w.log(`5 tiles, ${label}: ${m.tiles.map((t) => `${t.box.width}×${t.box.height}`)}`);
    }

    // Pinned: Bob on the stage, the others in the strip as small tiles, camera off (defect 4).
    await tileOf(ada.page, "Bob").getByRole("button", { name: "Pin Bob" }).click();
    for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
      await ada.page.setViewportSize(size);
      const m = await settles(ada.page, `the strip under pinned Bob (${label})`, (m) => {
        const strip = m.tiles.filter((t) => t.label !== "Bob");
        const bob = m.tiles.find((t) => t.label === "Bob");
        return [
          ...(m.layout === "stage" ? [] : [`data-layout is ${m.layout}`]),
          ...placeholderProblems(m),
          ...strip.filter((t) => t.box.height > 100 || t.box.height < 60)
            .map((t) => `${t.label} is ${t.box.height} px tall, not a strip tile`),
          ...(bob && bob.box.height > 150 ? [] : ["Bob is not large on the stage"]),
          ...strip.filter((t) => !t.circle || !t.text).map((t) => `${t.label}: no placeholder`),
        ];
      });
      w.log(`strip, ${label}: ${m.tiles.map((t) => `${t.label} ${t.box.width}×${t.box.height}`)}`);
    }
    await assertAxeClean(ada.page);
    await tileOf(ada.page, "Bob").getByRole("button", { name: "Unpin Bob" }).click();
    await settles(ada.page, "the grid again", (m) => gridProblems(m, 5, PHONE.width));

    // The layout switch, by keyboard: Speaker puts one person on the stage with a strip of the
    // others, and is remembered.
    const layout = videoRegion(ada.page).getByRole("group", { name: "Layout" });
    const speaker = layout.getByRole("button", { name: "Speaker layout" });
    const grid = layout.getByRole("button", { name: "Grid layout" });
    assert.equal(await grid.getAttribute("aria-pressed"), "true");
    await speaker.focus();
    await ada.page.keyboard.press("Enter");
    await until(
      "Speaker layout to be pressed",
      async () =>
        await speaker.getAttribute("aria-pressed") === "true" &&
        await grid.getAttribute("aria-pressed") === "false",
    );
    await settles(ada.page, "one large tile and a strip of four", (m) => {
      const large = m.tiles.filter((t) => t.box.height > 150);
      const small = m.tiles.filter((t) => t.box.height <= 100);
      return m.layout === "stage" && large.length === 1 && small.length === 4 &&
          !large[0].label.includes("(you)")
        ? placeholderProblems(m)
        : [`large ${large.map((t) => t.label)}, small ${small.map((t) => t.label)}`];
    });
    assert.equal(
      await ada.page.evaluate(() => localStorage.getItem("mooz:pref:layout")),
      '"speaker"',
    );
    await grid.focus();
    await ada.page.keyboard.press("Space");
    await settles(
      ada.page,
      "the grid after Space on Grid layout",
      (m) => gridProblems(m, 5, PHONE.width),
    );
    w.log("the layout switch works from the keyboard, and is remembered");
  },
  FILE,
);

meetingTest(
  "the speaking highlight: a solid border and an icon on the speaker's tile, gone when muted",
  { timeoutMs: 120_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", { mic: true, camera: false });
    await waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" });
    // The fake microphone beeps: Bob's tile lights up on Ada's page when the link's audio level,
    // sampled from getStats every few seconds, catches a beep.
    const on = await until("Bob's tile to show him speaking on Ada's page", async () => {
      const look = await speakingLook(ada.page, "Bob");
      return look.speaking === "true" ? look : undefined;
    }, { timeoutMs: 60_000, describe: () => speakingLook(ada.page, "Bob") });
    // twind's ring colours are half transparent; this is a 4 px border in solid emerald-400.
    assert.equal(on.border, "4px solid rgb(52, 211, 153)");
    assert.equal(on.opacity, "1");
    assert.equal(on.icon, true, "the speaking icon is in the name bar, not only a colour");
    w.log(`Bob speaking on Ada's page: ${Deno.inspect(on)}`);

    await control(bob.page, "Microphone").click();
    const off = await until("Bob's tile to stop showing him speaking", async () => {
      const look = await speakingLook(ada.page, "Bob");
      return look.speaking === "false" ? look : undefined;
    }, { timeoutMs: 15_000, describe: () => speakingLook(ada.page, "Bob") });
    assert.deepEqual(off, { speaking: "false", border: null, opacity: null, icon: false });
    assert.equal(await tileOf(ada.page, "Bob").getAttribute("data-muted"), "true");
  },
  FILE,
);

meetingTest(
  "a shared screen: loading until frames come, fitted to a phone's stage, full screen; the " +
    "sharer sees You are presenting and stops from there",
  { timeoutMs: 120_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    await bob.page.setViewportSize(PHONE);
    await waitForRemoteTiles(bob.page, 1, { names: ["Ada"], who: "Bob" });

    // What Bob's page shows at the very moment the screen tile appears (a mutation observer
    // runs before the video can have had a frame).
    await bob.page.evaluate(() => {
      const seen: unknown[] = [];
      Object.assign(globalThis, { __screenSeen: seen });
      new MutationObserver(() => {
        for (const f of document.querySelectorAll('figure[data-kind="screen"]')) {
          if (f.hasAttribute("data-test-seen")) continue;
          f.setAttribute("data-test-seen", "");
          seen.push({
            status: f.querySelector('[role="status"]')?.textContent ?? null,
            videoWidth: f.querySelector("video")?.videoWidth ?? null,
          });
        }
      }).observe(document.body, { subtree: true, childList: true });
    });

    await control(ada.page, "Share screen").click();
    const banner = ada.page.getByRole("status").filter({ hasText: "You are presenting" });
    await banner.waitFor();
    const screen = tileOf(bob.page, "Ada", "screen");
    await screen.waitFor();
    const seen = await bob.page.evaluate(() =>
      (globalThis as unknown as { __screenSeen: unknown[] }).__screenSeen
    );
    assert.deepEqual(seen[0], { status: "Loading Ada's screen…", videoWidth: 0 });
    await framesAdvance(bob.page, screen, { who: "Ada's screen on Bob's page" });
    await until(
      "the loading notice to go once frames came",
      async () => await screen.getByRole("status").count() === 0,
    );
    w.log("Bob's page said it was loading Ada's screen until frames came");

    // On the phone the screen fills the stage's width (or height), at its own shape: no dark
    // bars around it, and a good part of the screen, not a quarter.
    const fitted = await until("Ada's screen to fit Bob's stage", async () => {
      const m = await screen.evaluate((f) => {
        const box = f.parentElement!.parentElement!.getBoundingClientRect();
        const r = f.getBoundingClientRect();
        const v = f.querySelector("video")!;
        return {
          tile: [r.width, r.height],
          stage: [box.width, box.height],
          shape: v.videoWidth / v.videoHeight,
        };
      });
      const [tw, th] = m.tile, [sw, sh] = m.stage;
      const fills = tw >= sw - 2 || th >= sh - 2;
      const shaped = Math.abs(tw / th - m.shape) < 0.03;
      return fills && shaped && tw >= PHONE.width - 40 ? m : undefined;
    });
    w.log(`fitted on the phone: ${Deno.inspect(fitted)}`);

    // Full screen for the screen alone, and for the meeting; Esc leaves it.
    const fullscreenElement = () =>
      bob.page.evaluate(() => {
        const el = document.fullscreenElement;
        return el ? `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}` : null;
      });
    for (
      const [button, want] of [
        [screen.getByRole("button", { name: "Full screen Ada (screen)" }), "figure"],
        [
          videoRegion(bob.page).getByRole("button", { name: "Full screen", exact: true }),
          "main#meeting",
        ],
      ] as const
    ) {
      await button.click();
      await until(`${want} to be full screen`, async () => await fullscreenElement() === want);
      await until(
        "the button to show it pressed",
        async () => await button.getAttribute("aria-pressed") === "true",
      );
      await bob.page.keyboard.press("Escape");
      await until(
        `Esc to leave full screen (${want})`,
        async () => await fullscreenElement() === null,
      );
      await until(
        "the button to follow",
        async () => await button.getAttribute("aria-pressed") === "false",
      );
    }
    w.log("full screen for the shared screen and for the meeting, left with Esc");

    await banner.getByRole("button", { name: "Stop presenting" }).click();
    await until(
      "Ada's Share screen button to be released",
      async () => await control(ada.page, "Share screen").getAttribute("aria-pressed") === "false",
    );
    await banner.waitFor({ state: "detached" });
    await until(
      "Ada's screen to leave Bob's page",
      async () => (await tiles(bob.page)).every((t) => t.kind !== "screen"),
    );
  },
  FILE,
);

meetingTest(
  "alone: the invite link with Copy link and a small self view; hide self view and back; " +
    "picture-in-picture; the prompt goes when someone comes",
  { timeoutMs: 120_000 },
  async (w) => {
    const ada = await w.join("Ada", { mic: false, camera: true });
    const page = ada.page;
    await page.setViewportSize(DESKTOP);
    const region = videoRegion(page);
    await page.getByRole("heading", { level: 1, name: "Meeting" }).waitFor({ state: "attached" });
    await region.getByRole("heading", { level: 2, name: "You're the only one here" }).waitFor();
    const link = region.getByRole("textbox", { name: "Invite link" });
    assert.equal(await link.inputValue(), w.link, "the whole link, with its key");
    // Granting replaces the page's permissions: camera and microphone stay granted (Chromium
    // gathers loopback candidates only with them).
    await ada.context.grantPermissions(
      ["camera", "microphone", "clipboard-read", "clipboard-write"],
      { origin: w.origin },
    );
    await region.getByRole("button", { name: "Copy link" }).click();
    await until(
      "the clipboard to hold the link",
      async () => await page.evaluate(() => navigator.clipboard.readText()) === w.link,
    );
    const self = tileOf(page, "Ada (you)");
    const small = await until("the self view to be small", async () => {
      const m = await measure(page);
      const box = m.tiles.find((t) => t.label === "Ada (you)")?.box;
      return m.layout === "alone" && box && box.width <= m.region.width / 4 ? box : undefined;
    });
    w.log(`alone: the invite prompt, and the self view ${small.width}×${small.height}`);

    await assertAxeClean(page);

    // Hide the self view: the tile goes, a pill says so and brings it back; remembered.
    await self.getByRole("button", { name: "Hide self view" }).click();
    await self.waitFor({ state: "detached" });
    const show = region.getByRole("button", { name: "Show self view" });
    await show.waitFor();
    assert.match(await show.locator("..").textContent() ?? "", /Self view hidden/);
    const stored = () => page.evaluate(() => localStorage.getItem("mooz:pref:hideSelfView"));
    assert.equal(await stored(), "true");
    await show.click();
    await self.waitFor();
    assert.equal(await stored(), "false");
    w.log("hid the self view and brought it back");

    // Picture-in-picture where the browser has it; no button where it has not.
    const pip = self.getByRole("button", { name: "Picture-in-picture Ada (you)" });
    if (await page.evaluate(() => document.pictureInPictureEnabled)) {
      await pip.click();
      await until(
        "the self view's video to be picture-in-picture",
        () => self.evaluate((f) => document.pictureInPictureElement === f.querySelector("video")),
      );
      await until(
        "the button to show it pressed",
        async () => await pip.getAttribute("aria-pressed") === "true",
      );
      await pip.click();
      await until(
        "picture-in-picture to end",
        () => page.evaluate(() => document.pictureInPictureElement === null),
      );
      await until(
        "the button to follow",
        async () => await pip.getAttribute("aria-pressed") === "false",
      );
      w.log("picture-in-picture on and off");
    } else {
      assert.equal(await pip.count(), 0, "no picture-in-picture button without the API");
      w.log("this Chromium has no picture-in-picture: no button");
    }

    await w.join("Bob", OFF);
    await waitForRemoteTiles(page, 1, { names: ["Bob"], who: "Ada" });
    await until(
      "the invite prompt to go",
      async () =>
        await region.getByRole("heading", { name: "You're the only one here" }).count() === 0 &&
        (await measure(page)).layout === "grid",
    );
  },
  FILE,
);
