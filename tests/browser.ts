/** Real-browser test helpers: the real app on a loopback port and headless Chromium driving it. */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import config from "../fresh.config.ts";
import manifest from "../fresh.gen.ts";
import { createApp } from "../framework/server.ts";
import { launchBrowser } from "./chromium.ts";

export { FAKE_MEDIA, launchBrowser, WEBRTC_LOOPBACK } from "./chromium.ts";

let appPromise: ReturnType<typeof createApp> | undefined;

/** Serves the real app on 127.0.0.1 and a free port; the app is built once per test file. */
export async function startServer(): Promise<{ origin: string; close(): Promise<void> }> {
  appPromise ??= createApp(manifest, config, { buildIfStale: true });
  const app = await appPromise;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler);
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** Collects console errors and uncaught exceptions of a page, so tests can demand none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

const AXE_SOURCE = await Deno.readTextFile(
  new URL("../node_modules/axe-core/axe.min.js", import.meta.url),
);

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * Runs axe-core in the page. It is evaluated over the DevTools protocol rather than injected as a
 * <script>, which the page's Content-Security-Policy rightly refuses.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  const result = await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any -- axe is a global installed by the line above
    (globalThis as any).axe.run(document, { resultTypes: ["violations"] })
  ) as { violations: AxeViolation[] };
  return result.violations;
}

/** Fails with the page's logged errors, if it logged any (`watchErrors`). */
export function assertNoErrors(errors: string[]): void {
  assert.deepEqual(errors, [], `the page logged errors:\n${errors.join("\n")}`);
}

/** Fails with every serious or critical axe-core violation on the page. */
export async function assertAccessible(page: Page): Promise<void> {
  const serious = (await axeViolations(page)).filter((v) =>
    v.impact === "serious" || v.impact === "critical"
  );
  assert.deepEqual(
    serious.map((v) =>
      `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`
    ),
    [],
  );
}

/** Runs `fn` with a fresh server, browser and page, and closes them all whatever happens. */
export async function withPage(
  fn: (page: Page, origin: string, errors: string[]) => Promise<void>,
  viewport = { width: 1280, height: 800 },
  extraArgs: string[] = [],
): Promise<void> {
  const server = await startServer();
  const browser = await launchBrowser(extraArgs);
  try {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await fn(page, server.origin, errors);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
}
