/**
 * Time to full mesh in real Chromium: N-1 participants are in the meeting, the last one clicks
 * "Join", and the clock stops when every page shows every link connected. Median of several
 * runs for 2, 4 and 6 participants.
 *
 * WebRTC between pages must stay on loopback, so this runs inside a private network namespace
 * with only loopback: `deno task bench` starts it as `unshare -rn … deno run bench/mesh.ts`, and
 * it prints its result as JSON on the last line.
 */
import type { Browser, Page } from "playwright-core";
import { meetingLink, newMeetingKey } from "../mesh/meeting_key.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { launchBrowser, WEBRTC_LOOPBACK } from "../tests/chromium.ts";
import { startLiveServer } from "../tests/live_server.ts";

export interface MeshResult {
  participants: number;
  /** Whether cameras were on (every browser encodes one video per peer and decodes as many). */
  video: boolean;
  /** Milliseconds per run; null for a run whose mesh was not complete within TIMEOUT_MS. */
  runs: (number | null)[];
  /** Median with incomplete runs counted as slowest; null when most runs did not complete. */
  medianMs: number | null;
}

const TIMEOUT_MS = 60_000;

async function openPrejoin(
  browser: Browser,
  url: string,
  name: string,
  video: boolean,
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 960, height: 600 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel("Your name").fill(name);
  // The button is enabled once the camera and microphone are open.
  await page.locator("button[type=submit]:not([disabled])").waitFor({ timeout: TIMEOUT_MS });
  if (!video) {
    await page.getByRole("button", { name: "Camera" }).click();
    await page.locator('button[aria-label="Camera"][aria-pressed="false"]').waitFor();
  }
  return page;
}

async function join(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Join meeting" }).click();
}

/** Resolves when the page shows `others` remote camera tiles, all connected. */
function fullyLinked(page: Page, others: number): Promise<unknown> {
  return page.waitForFunction(
    (n) =>
      document.querySelectorAll("figure[data-kind=camera]:not([data-peer=self])").length === n &&
      document.querySelectorAll(
          "figure[data-kind=camera]:not([data-peer=self])[data-link=connected]",
        ).length === n,
    others,
    { timeout: TIMEOUT_MS, polling: 10 },
  );
}

/** One run: ms from the last "Join" to the full mesh; null if some mesh did not complete in time. */
async function once(
  browser: Browser,
  origin: string,
  n: number,
  video: boolean,
): Promise<number | null> {
  // A whole invite link: without its key the page shows the incomplete-link screen.
  const url = meetingLink(origin, newRoomId(), newMeetingKey());
  const pages: Page[] = [];
  try {
    for (let i = 0; i < n - 1; i++) {
      const page = await openPrejoin(browser, url, `P${i + 1}`, video);
      await join(page);
      pages.push(page);
      await Promise.all(pages.map((p) => fullyLinked(p, pages.length - 1)));
    }
    const last = await openPrejoin(browser, url, `P${n}`, video);
    pages.push(last);
    const started = performance.now();
    await join(last);
    await Promise.all(pages.map((p) => fullyLinked(p, n - 1)));
    return performance.now() - started;
  } catch (err) {
    // Too slow on this machine (cameras on, many browsers on few cores): say so, go on.
    if ((err as Error).name !== "TimeoutError") throw err;
    return null;
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
  }
}

export async function measureMesh(sizes = [2, 4, 6], runs = 5): Promise<MeshResult[]> {
  const server = await startLiveServer({ parallel: true, env: { MOOZ_STUN_URLS: "" } });
  const browser = await launchBrowser(WEBRTC_LOOPBACK);
  try {
    const results: MeshResult[] = [];
    for (const video of [true, false]) {
      for (const n of sizes) {
        const times: (number | null)[] = [];
        for (let r = 0; r < runs; r++) times.push(await once(browser, server.origin, n, video));
        const sorted = [...times].sort((a, b) => (a ?? Infinity) - (b ?? Infinity));
        const medianMs = sorted[Math.floor(sorted.length / 2)];
        results.push({ participants: n, video, runs: times, medianMs });
      }
    }
    return results;
  } finally {
    await browser.close();
    await server.stop();
  }
}

if (import.meta.main) {
  const sizes = Deno.args.length ? Deno.args.map(Number) : undefined;
  const results = await measureMesh(sizes);
  console.log(JSON.stringify(results));
}
