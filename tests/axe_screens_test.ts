/**
 * axe-core on every screen of the app (tests/screens.ts) at a laptop's and a phone's width, in
 * real Chromium against the real server. Every violation fails, whatever its impact (minor and
 * moderate too), and is reported with its rule, impact, elements, screen and width. One test
 * step per screen, so the output says which screens are clean.
 *
 * Runs only in a loopback-only network namespace, like the other WebRTC tests (`deno task test`
 * arranges it); elsewhere it is skipped with a message saying how to run it.
 */
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

/** One violation on one screen at one width. */
interface Finding {
  screen: string;
  viewport: Viewport;
  violation: Violation;
}

const size = (v: Viewport) => `${v.width}×${v.height}`;

/** Squeezes whitespace and cuts long text, for one-line reports. */
function short(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

/** The findings of one screen, readable: rule, impact, help, then each element and why. */
function describe(findings: Finding[]): string {
  const lines: string[] = [];
  for (const { screen, viewport, violation: v } of findings) {
    lines.push(`${screen} at ${size(viewport)}: ${v.id} (${v.impact ?? "no impact"}) ${v.help}`);
    for (const node of v.nodes) {
      lines.push(`    at ${node.target.join(" ")}`);
      if (node.html) lines.push(`       ${short(node.html, 160)}`);
      if (node.failureSummary) lines.push(`       ${short(node.failureSummary, 240)}`);
    }
    if (v.helpUrl) lines.push(`    see ${v.helpUrl}`);
  }
  return lines.join("\n");
}

Deno.test({
  name: "axe finds no violations, of any impact, on any screen at 1366×768 and 390×844",
  ignore: skipUnlessIsolated(FILE),
  async fn(t) {
    const all: Finding[] = [];
    const screens: string[] = [];
    await runTour(async (reached) => {
      screens.push(reached.screen.name);
      await t.step(`${reached.screen.name}: ${reached.screen.description}`, async () => {
        const here: Finding[] = [];
        for (const viewport of WIDTHS) {
          await reached.resize(viewport);
          const violations = await axeViolations(reached.page) as Violation[];
          for (const violation of violations) {
            here.push({ screen: reached.screen.name, viewport, violation });
          }
        }
        all.push(...here);
        if (here.length > 0) {
          throw new Error(`${here.length} axe violations:\n${describe(here)}`);
        }
      });
    });
    if (all.length > 0) {
      const failing = [...new Set(all.map((f) => f.screen))];
      throw new Error(
        `axe found ${all.length} violations on ${failing.length} of ${screens.length} screens ` +
          `(${failing.join(", ")}); each failing step above lists them`,
      );
    }
  },
});
