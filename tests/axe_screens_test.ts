/**
 * axe-core on every screen of the app (tests/screens.ts) at a laptop's and a phone's width, in
 * real Chromium against the real server. Every violation fails, whatever its impact (minor and
 * moderate too), and is reported with its rule, impact, elements, screen and width. One test
 * step per screen, so the output says which screens are clean.
 *
 * The mouse hovers nothing while axe looks, so at the laptop's width each text control is also
 * hovered once (once per look: same tag and classes, same colours) and its colour contrast
 * checked then: a hover colour lighter than the button's own (`hover:bg-indigo-500` behind white
 * text) is a failure axe never sees otherwise. Phones have no hover.
 *
 * Runs only in a loopback-only network namespace, like the other WebRTC tests (`deno task test`
 * arranges it); elsewhere it is skipped with a message saying how to run it.
 */
import type { Page } from "playwright-core";
import { axeViolations } from "./browser.ts";
import { skipUnlessIsolated } from "./meeting_harness.ts";
import { runTour, type Viewport, WIDTHS } from "./screens.ts";

const FILE = "tests/axe_screens_test.ts";

/** What axe-core reports per violation, beyond browser.ts's `AxeViolation`. */
interface Violation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl?: string;
  nodes: { target: string[]; html?: string; failureSummary?: string }[];
}

/** One violation on one screen at one width (while hovering a control, for `hovered`). */
interface Finding {
  screen: string;
  viewport: Viewport;
  violation: Violation;
  hovered?: string;
}

const size = (v: Viewport) => `${v.width}×${v.height}`;

/** Controls whose text a hover can recolour (those a modal dialog makes inert are skipped). */
const TEXT_CONTROLS = 'button, a[href], [role="menuitem"], [role="switch"], [role="tab"]';

/**
 * The colour-contrast violations of each visible text control of `page` while the mouse is on
 * it, for controls whose look (tag and classes) `seen` does not have yet. axe must be in the
 * page already (`axeViolations` puts it there).
 */
async function hoverViolations(
  page: Page,
  seen: Set<string>,
): Promise<{ control: string; violation: Violation }[]> {
  const found: { control: string; violation: Violation }[] = [];
  const controls = page.locator(TEXT_CONTROLS);
  const infos = await controls.evaluateAll((els) => {
    const modal = document.querySelector("dialog:modal");
    return els.map((el) => {
      const box = el.getBoundingClientRect();
      return {
        look: `${el.tagName} ${el.getAttribute("class") ?? ""}`,
        name: (el.getAttribute("aria-label") ?? el.textContent ?? "").replace(/\s+/g, " ").trim(),
        text: (el.textContent ?? "").trim() !== "",
        usable: box.width > 0 && box.height > 0 && !(el as HTMLButtonElement).disabled &&
          (!modal || modal.contains(el)),
      };
    });
  });
  for (const [i, info] of infos.entries()) {
    if (!info.text || !info.usable || seen.has(info.look)) continue;
    const control = controls.nth(i);
    try {
      await control.hover({ timeout: 2_000 });
    } catch {
      continue; // covered by something else: not hoverable here
    }
    seen.add(info.look);
    const violations = await control.evaluate(async (el) => {
      // Colour transitions end first (`transition-colors`): once the hover style applies (a
      // frame later), and then once they have run.
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      await Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished.catch(() => {})));
      // deno-lint-ignore no-explicit-any -- axe is the global axeViolations installed
      const result = await (globalThis as any).axe.run(el, {
        runOnly: { type: "rule", values: ["color-contrast"] },
        resultTypes: ["violations"],
      });
      return result.violations;
    }) as Violation[];
    for (const violation of violations) found.push({ control: info.name, violation });
  }
  await page.mouse.move(0, 0);
  return found;
}

/**
 * What axe could not decide on `page` (its "incomplete": a person must look, e.g. text over a
 * picture). Reported, not failed: most are right, and each is worth a look. axe must be in the
 * page already.
 */
async function needsReview(page: Page): Promise<Violation[]> {
  return await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any -- axe is the global axeViolations installed
    const result = await (globalThis as any).axe.run(document, { resultTypes: ["incomplete"] });
    return result.incomplete;
  }) as Violation[];
}

/** Squeezes whitespace and cuts long text, for one-line reports. */
function short(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

/** The findings of one screen, readable: rule, impact, help, then each element and why. */
function describe(findings: Finding[]): string {
  const lines: string[] = [];
  for (const { screen, viewport, violation: v, hovered } of findings) {
    const where = `${screen} at ${size(viewport)}${hovered ? ` hovering "${hovered}"` : ""}`;
    lines.push(`${where}: ${v.id} (${v.impact ?? "no impact"}) ${v.help}`);
    for (const node of v.nodes) {
      lines.push(`    at ${node.target.join(" ")}`);
      if (node.html) lines.push(`       ${short(node.html, 160)}`);
      if (node.failureSummary) lines.push(`       ${short(node.failureSummary, 240)}`);
    }
    if (v.helpUrl) lines.push(`    see ${v.helpUrl}`);
  }
  return lines.join("\n");
}

/**
 * One line per rule and element (and hovered control), with every screen and width it is on;
 * with `why`, also axe's reason (for what it could not decide).
 */
function summary(findings: Finding[], why = false): string {
  const groups = new Map<string, string[]>();
  for (const { screen, viewport, violation: v, hovered } of findings) {
    for (const node of v.nodes) {
      const reason = why && node.failureSummary
        ? ` (${short(node.failureSummary.replace(/^Fix (any|all) of the following:/, ""), 120)})`
        : "";
      const key = `${v.id} (${v.impact ?? "no impact"})${hovered ? ` hovering "${hovered}"` : ""}` +
        ` at ${node.target.join(" ")}${reason}`;
      const where = `${screen} ${viewport.width}`;
      const list = groups.get(key) ?? [];
      if (!list.includes(where)) list.push(where);
      groups.set(key, list);
    }
  }
  return [...groups].map(([key, where]) => `  ${key}: ${where.join(", ")}`).join("\n");
}

Deno.test({
  name: "axe finds no violations, of any impact, on any screen at 1366×768 and 390×844, " +
    "nor low contrast under the mouse",
  ignore: skipUnlessIsolated(FILE),
  async fn(t) {
    const all: Finding[] = [];
    const review: Finding[] = [];
    const screens: string[] = [];
    const hovered = new Set<string>();
    await runTour(async (reached) => {
      screens.push(reached.screen.name);
      await t.step(`${reached.screen.name}: ${reached.screen.description}`, async () => {
        const here: Finding[] = [];
        for (const viewport of reached.widths) {
          await reached.resize(viewport);
          const violations = await axeViolations(reached.page) as Violation[];
          for (const violation of violations) {
            here.push({ screen: reached.screen.name, viewport, violation });
          }
          for (const violation of await needsReview(reached.page)) {
            review.push({ screen: reached.screen.name, viewport, violation });
          }
          if (viewport === WIDTHS[0]) {
            for (const { control, violation } of await hoverViolations(reached.page, hovered)) {
              here.push({ screen: reached.screen.name, viewport, violation, hovered: control });
            }
          }
        }
        all.push(...here);
        if (here.length > 0) {
          throw new Error(`${here.length} axe violations:\n${describe(here)}`);
        }
      });
    });
    if (review.length > 0) {
      console.log(
        `axe could not decide these (not failures; worth a look):\n${summary(review, true)}`,
      );
    }
    if (all.length > 0) {
      const failing = [...new Set(all.map((f) => f.screen))];
      throw new Error(
        `axe found ${all.length} violations on ${failing.length} of ${screens.length} screens; ` +
          `each failing step above has the details. By rule and element:\n${summary(all)}`,
      );
    }
  },
});
