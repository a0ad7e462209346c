/**
 * The end screens, and what the others are told when someone goes, in real headless Chromium
 * against the real server: a meeting filled between the pre-join check and "Join" (said once,
 * "Try again" not "Rejoin"), an eviction because a browser cannot connect directly (human copy
 * for the evicted, a reason for the others), a lost connection, the server out of reach before
 * and after joining (one instruction matching the buttons), and leaving the lobby. Selectors from
 * tests/MEETING_UI_CONTRACT.md; see tests/meeting_harness.ts.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { axeViolations } from "./browser.ts";
import { launchBrowser } from "./chromium.ts";
import {
  control,
  fillPreJoin,
  join,
  meetingTest,
  type MeetingWorld,
  until,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/end_screen_test.ts";
const OFF = { mic: false, camera: false };

/** The end screen's text, spaces tidied. */
async function screenText(page: Page): Promise<string> {
  return ((await page.locator("main").textContent({ timeout: 5_000 })) ?? "").replace(/\s+/g, " ");
}

/** How often `needle` occurs in `text`, ignoring case. */
function occurrences(text: string, needle: string): number {
  return text.toLowerCase().split(needle.toLowerCase()).length - 1;
}

/** Axe violations of moderate impact or worse, as lines. */
async function axeProblems(page: Page): Promise<string[]> {
  return (await axeViolations(page))
    .filter((v) => v.impact !== "minor")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target).join(", ")}`);
}

/** Waits until `text` is shown anywhere on `page` (a toast comes and goes within seconds). */
async function waitForText(page: Page, text: string, who: string, timeoutMs = 30_000) {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: timeoutMs }).catch(
    async (err) => {
      throw new Error(`${who} never showed "${text}"; the page says: ${await screenText(page)}`, {
        cause: err,
      });
    },
  );
}

meetingTest(
  "a place taken between the pre-join check and Join: the room-full screen says it once and offers Try again, not Rejoin",
  { devices: "none", timeoutMs: 120_000, env: { MOOZ_ROOM_CAPACITY: "2" } },
  async (w: MeetingWorld) => {
    await w.join("Ada", OFF);
    const cy = await w.open("Cy");
    const page = cy.page;
    await page.goto(w.link);
    await until("Cy's pre-join to count Ada", async () => {
      const who = await page.getByRole("status", { name: "Who's here" }).textContent();
      return who?.includes("1 person is here") ?? false;
    });
    // From now on Cy's view goes stale (its room-info requests fail), as when Bob takes the last
    // place just before Cy presses Join.
    await page.route(/\/api\/rooms\/[^/]+$/, (route) => route.abort());
    await w.join("Bob", OFF);
    await fillPreJoin(page, "Cy", OFF);
    await page.getByRole("button", { name: "Join meeting" }).click();
    await waitForPhase(page, "ended", { end: "room-full", who: "Cy" });

    await page.getByRole("heading", { name: "This meeting is full" }).waitFor();
    const text = await screenText(page);
    assert.equal(await page.getByRole("button", { name: "Rejoin" }).count(), 0, "Cy never got in");
    await page.getByRole("button", { name: "Try again" }).waitFor();
    await page.getByRole("button", { name: "Start a new meeting" }).waitFor();
    await page.getByRole("link", { name: "Home" }).waitFor();
    // One piece of advice, once: not the server's sentence and the screen's own besides.
    assert.equal(occurrences(text, "someone"), 1, text);
    assert.equal(occurrences(text, "share its link"), 1, text);
    assert.doesNotMatch(text, /Ask someone to leave|\(2 people\)/, text);
    assert.deepEqual(await axeProblems(page), []);
    w.log(`Cy's room-full screen: ${text.trim()}`);

    // Try again: back to the pre-join screen, which now knows the meeting is full.
    await page.unroute(/\/api\/rooms\/[^/]+$/);
    await page.getByRole("button", { name: "Try again" }).click();
    await until("Cy's pre-join to say the meeting is full", async () => {
      const who = await page.getByRole("status", { name: "Who's here" }).textContent();
      return who?.includes("This meeting is full (2 of 2)") ?? false;
    });
    assert.equal(await page.getByRole("button", { name: "Join meeting" }).isDisabled(), true);
  },
  FILE,
);

meetingTest(
  "a browser that cannot connect directly is told what happened, why and what to do; the others see why it went",
  // A short deadline, so the full-mesh guarantee acts within the test.
  { devices: "none", timeoutMs: 150_000, env: { MOOZ_LINK_DEADLINE_MS: "8000" } },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    await waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" });
    await waitForRemoteTiles(bob.page, 1, { names: ["Ada"], who: "Bob" });

    // Eve's browser gathers no address to connect from (no loopback candidates in this
    // loopback-only namespace): what a network that blocks direct connections does.
    let eveBrowser: Browser | undefined;
    try {
      eveBrowser = await launchBrowser(["--autoplay-policy=no-user-gesture-required"]);
      const context = await eveBrowser.newContext();
      await context.grantPermissions(["camera", "microphone"], { origin: w.origin });
      const eve = await context.newPage();
      await join(eve, w.origin, w.room, "Eve", OFF);
      w.log("Eve joined from a browser that cannot connect directly");
      await waitForPhase(eve, "ended", { end: "evicted", who: "Eve", timeoutMs: 60_000 });
      await eve.getByRole("heading", { name: "Your connection couldn't reach everyone" })
        .waitFor();
      const text = await screenText(eve);
      w.log(`Eve's end screen: ${text.trim()}`);
      // What happened (with the names), the likely cause, what to do: no server jargon. Whom
      // the server names is whom it had seen fail at the deadline: on a busy machine a link
      // may not have been reported yet, so one name or both.
      assert.match(
        text,
        /couldn't connect directly to (Ada and Bob|Bob and Ada|Ada|Bob) in time/,
        text,
      );
      assert.match(text, /firewall, VPN or network/, text);
      assert.match(text, /Rejoin to try again/, text);
      assert.doesNotMatch(text, /could not connect to \d+ of \d+|may be needed/, text);
      await eve.getByRole("button", { name: "Rejoin" }).waitFor();
      assert.deepEqual(await axeProblems(eve), []);
    } finally {
      await eveBrowser?.close().catch(() => {});
    }

    // The others are told why she went, not just that she left.
    await Promise.all([
      waitForText(ada.page, "Eve was disconnected: their connection couldn't reach", "Ada"),
      waitForText(bob.page, "Eve was disconnected: their connection couldn't reach", "Bob"),
    ]);
    assert.match(
      await screenText(ada.page),
      /Eve was disconnected: their connection couldn't reach (you and Bob|Bob and you|you|Bob)\b/,
    );
    // Ada and Bob go on together.
    await waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" });
    assert.equal(await ada.page.locator("main").getAttribute("data-phase"), "joined");
  },
  FILE,
);

meetingTest(
  "a lost connection is named for the others; the server out of reach ends a lonely meeting with one instruction (Rejoin)",
  {
    devices: "none",
    timeoutMs: 120_000,
    env: {
      MOOZ_RESUME_GRACE_MS: "3000",
      MOOZ_HEARTBEAT_MS: "500",
      MOOZ_HEARTBEAT_TIMEOUT_MS: "2000",
      MOOZ_WS_IDLE_TIMEOUT_S: "2",
    },
  },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    await waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" });
    await w.crash(bob);
    await waitForText(ada.page, "Bob lost their connection", "Ada", 30_000);
    w.log("Bob's browser crashed: Ada was told he lost his connection");

    await w.server.kill();
    await waitForPhase(ada.page, "ended", { end: "unreachable", who: "Ada", timeoutMs: 30_000 });
    const text = await screenText(ada.page);
    w.log(`Ada's end screen: ${text.trim()}`);
    await ada.page.getByRole("heading", { name: "Can't reach the meeting server" }).waitFor();
    await ada.page.getByRole("button", { name: "Rejoin" }).waitFor();
    assert.equal(await ada.page.getByRole("button", { name: "Try again" }).count(), 0);
    // One instruction, matching the one button: no "reload", no second way to say it.
    assert.match(text, /Check your internet connection, then rejoin\./);
    assert.equal(occurrences(text, "rejoin"), 2, `the advice and the button only: ${text}`);
    assert.doesNotMatch(text, /reload/i);
  },
  FILE,
);

meetingTest(
  "the server out of reach before getting in: one instruction (Try again), no Rejoin, no reload",
  { devices: "none", timeoutMs: 90_000 },
  async (w: MeetingWorld) => {
    const cy = await w.open("Cy");
    // Every signaling socket is closed at once: the server can be reached for the page, not
    // for the meeting (a proxy or firewall in between).
    await cy.page.routeWebSocket(/\/api\/rooms\/[^/]+\/ws$/, (ws) => ws.close({ code: 1001 }));
    await join(cy.page, w.origin, w.room, "Cy", OFF, { expect: "ended", timeoutMs: 60_000 });
    await waitForPhase(cy.page, "ended", { end: "unreachable", who: "Cy" });
    const text = await screenText(cy.page);
    w.log(`Cy's end screen: ${text.trim()}`);
    await cy.page.getByRole("heading", { name: "Can't reach the meeting server" }).waitFor();
    await cy.page.getByRole("button", { name: "Try again" }).waitFor();
    assert.equal(await cy.page.getByRole("button", { name: "Rejoin" }).count(), 0);
    assert.match(text, /Check your internet connection, then try again\./);
    assert.doesNotMatch(text, /reload|rejoin/i);
    assert.deepEqual(await axeProblems(cy.page), []);
  },
  FILE,
);

meetingTest(
  "leaving the lobby before being let in: You left the lobby, Try again",
  { devices: "none", timeoutMs: 90_000 },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    await ada.page.evaluate(() =>
      // deno-lint-ignore no-explicit-any -- the debug hook the contract documents
      (globalThis as any).__mooz.meeting.room.act({ type: "lobby", on: true })
    );
    const dan = await w.open("Dan");
    await dan.page.goto(w.link);
    await until("Dan's pre-join to say a host lets people in", async () => {
      const who = await dan.page.getByRole("status", { name: "Who's here" }).textContent();
      return who?.includes("A host lets people in") ?? false;
    });
    await fillPreJoin(dan.page, "Dan", OFF);
    await dan.page.getByRole("button", { name: "Join meeting" }).click();
    await waitForPhase(dan.page, "waiting", { who: "Dan" });
    await dan.page.getByRole("button", { name: "Leave" }).click();
    await waitForPhase(dan.page, "ended", { end: "left", who: "Dan" });
    await dan.page.getByRole("heading", { name: "You left the lobby" }).waitFor();
    await dan.page.getByRole("button", { name: "Try again" }).click();
    await dan.page.getByRole("heading", { name: "Ready to join?" }).waitFor();
    assert.equal(await control(ada.page, "Leave meeting").count(), 1, "Ada is still in");
  },
  FILE,
);
