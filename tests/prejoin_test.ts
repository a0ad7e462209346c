/**
 * The pre-join screen in real headless Chromium against the real server: focus, the invite
 * link's "copied" note, who is already in the meeting (count and names, opened from sealed cards
 * with the meeting key; "Someone" for another key), a full meeting known before "Join", and
 * "Rejoin" keeping the microphone and camera as they were. Selectors from
 * tests/MEETING_UI_CONTRACT.md; see tests/meeting_harness.ts.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import config from "../fresh.config.ts";
import manifest from "../fresh.gen.ts";
import { createApp } from "../framework/server.ts";
import { meetingLink, newMeetingKey } from "../mesh/meeting_key.ts";
import { stopHub } from "../signaling/hub_singleton.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { assertNoErrors, axeViolations, withPage } from "./browser.ts";
import {
  confirmLeave,
  control,
  fillPreJoin,
  meetingTest,
  type MeetingWorld,
  tileOf,
  until,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/prejoin_test.ts";
const OFF = { mic: false, camera: false };

/** The "Who's here" status of the pre-join screen, as text with its spaces tidied. */
async function whoIsHere(page: Page): Promise<string> {
  const text = await page.getByRole("status", { name: "Who's here" }).textContent({
    timeout: 5_000,
  });
  return (text ?? "").replace(/\s+/g, " ").trim();
}

/** The names listed as already here, in order. */
async function namesHere(page: Page): Promise<string[]> {
  const list = page.getByRole("list", { name: "Already here" });
  if (await list.count() === 0) return [];
  return await list.getByRole("listitem").allTextContents();
}

/** Waits until "Who's here" says `text` (and, with `names`, lists exactly them). */
async function waitForWho(
  page: Page,
  text: string,
  opts: { names?: string[]; who?: string; timeoutMs?: number } = {},
): Promise<void> {
  await until(
    `${opts.who ?? "the pre-join screen"} to say "${text}"` +
      (opts.names ? ` with ${opts.names.join(", ")}` : ""),
    async () => {
      if (!(await whoIsHere(page)).includes(text)) return false;
      return !opts.names || JSON.stringify(await namesHere(page)) === JSON.stringify(opts.names);
    },
    {
      // The screen asks every 5 s: two rounds, and slack for a busy machine.
      timeoutMs: opts.timeoutMs ?? 20_000,
      describe: async () => ({ text: await whoIsHere(page), names: await namesHere(page) }),
    },
  );
}

/** Whether the name field has the keyboard focus. */
function nameFocused(page: Page): Promise<boolean> {
  return page.evaluate(() => document.activeElement?.id === "prejoin-name");
}

/** Axe violations of moderate impact or worse, as lines. */
async function axeProblems(page: Page): Promise<string[]> {
  return (await axeViolations(page))
    .filter((v) => v.impact !== "minor")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target).join(", ")}`);
}

meetingTest(
  "pre-join: the name field has focus, Link copied clears by itself, and who's here is counted and named (Someone for another key), kept fresh",
  {
    devices: "none",
    timeoutMs: 150_000,
    // Eve's link has another key: nobody is evicted for the links that cannot form.
    env: { MOOZ_LINK_DEADLINE_MS: "600000" },
  },
  async (w: MeetingWorld) => {
    const ada = await w.open("Ada");
    const page = ada.page;
    await ada.context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: w.origin,
    });
    await page.goto(w.link);
    await page.getByRole("heading", { name: "Ready to join?" }).waitFor();
    await until("the name field to have focus on load", () => nameFocused(page));
    await waitForWho(page, "No one else is here yet");
    assert.deepEqual(await namesHere(page), []);

    // Copying the link says so in a status region, and the note goes again by itself.
    await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
      .waitFor();
    await page.getByRole("button", { name: "Copy link" }).click();
    const note = page.getByRole("status").filter({ hasText: "Link copied." });
    await note.waitFor({ timeout: 5_000 });
    const shownAt = Date.now();
    assert.equal(
      await page.evaluate(() => navigator.clipboard.readText()),
      await page.getByRole("textbox", { name: "Invite link" }).inputValue(),
    );
    await page.getByText("Link copied.").waitFor({ state: "detached", timeout: 15_000 });
    const shownMs = Date.now() - shownAt;
    assert.ok(shownMs >= 2_500, `the note stayed long enough to read (${shownMs} ms)`);
    w.log(`"Link copied" showed for about ${shownMs} ms`);

    // Others arrive while Ada is still on the pre-join screen: she sees them without reloading.
    await w.join("Bob", OFF);
    await waitForWho(page, "1 person is here", { names: ["Bob"], who: "Ada" });
    await w.join("Eve", OFF, { room: meetingLink(w.origin, w.room, newMeetingKey()) });
    await waitForWho(page, "2 people are here", { names: ["Bob", "Someone"], who: "Ada" });
    w.log("Ada's pre-join screen lists Bob, and Eve (another key) as Someone");

    // The server relays names it cannot read: its answer holds no name.
    const answer = await page.evaluate(
      async (room) => await (await fetch(`/api/rooms/${room}`)).text(),
      w.room,
    );
    assert.doesNotMatch(answer, /Bob|Eve/);
    assert.equal(JSON.parse(answer).members, 2);
    assert.deepEqual(await axeProblems(page), []);

    // Joining still works as ever, and the name field is where the name was typed.
    await fillPreJoin(page, "Ada", OFF);
    await page.getByRole("button", { name: "Join meeting" }).click();
    await waitForPhase(page, "joined", { who: "Ada" });
    // Eve, with another key, shows as unverified beside him: only Bob is connected.
    await tileOf(page, "Bob").and(page.locator('[data-link="connected"]')).waitFor({
      timeout: 45_000,
    });
  },
  FILE,
);

meetingTest(
  "a full meeting is known before Join: 2 of 2, Join disabled with what to do, and Join turns on once someone leaves",
  { devices: "none", timeoutMs: 150_000, env: { MOOZ_ROOM_CAPACITY: "2" } },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const cy = await w.open("Cy");
    const page = cy.page;
    await page.goto(w.link);
    await waitForWho(page, "This meeting is full (2 of 2)", { names: ["Ada", "Bob"], who: "Cy" });
    const joinButton = page.getByRole("button", { name: "Join meeting" });
    // The media are ready, so only the full meeting keeps Join off, and it says why.
    await page.getByRole("button", { name: "Microphone" }).waitFor();
    await until("Cy's devices to be ready", async () => {
      const notices = await page.getByRole("status").allTextContents();
      return notices.some((n) => /microphone|camera/i.test(n));
    });
    assert.equal(await joinButton.isDisabled(), true, "Join is disabled in a full meeting");
    const who = await whoIsHere(page);
    assert.match(who, /Join turns on by itself as soon as someone leaves/);
    assert.equal(
      await joinButton.getAttribute("aria-describedby"),
      "prejoin-occupancy",
      "the disabled button points at why",
    );
    await page.getByRole("button", { name: "Start a new meeting" }).waitFor();
    assert.deepEqual(await axeProblems(page), []);
    w.log("Cy sees the meeting is full before joining; Join is off");

    await control(bob.page, "Leave meeting").click();
    await confirmLeave(bob.page);
    await waitForPhase(bob.page, "ended", { end: "left", who: "Bob" });
    await waitForWho(page, "1 person is here", { names: ["Ada"], who: "Cy" });
    await joinButton.and(page.locator(":enabled")).waitFor({ timeout: 5_000 });
    assert.equal(await page.getByRole("button", { name: "Start a new meeting" }).count(), 0);
    await fillPreJoin(page, "Cy", OFF);
    await joinButton.click();
    await waitForPhase(page, "joined", { who: "Cy" });
    await waitForRemoteTiles(page, 1, { names: ["Ada"], who: "Cy", timeoutMs: 45_000 });
    await waitForRemoteTiles(ada.page, 1, { names: ["Cy"], who: "Ada", timeoutMs: 45_000 });
    w.log("Bob left: Cy's Join turned on by itself, and Cy joined");
  },
  FILE,
);

meetingTest(
  "Rejoin keeps the microphone and camera as they were when leaving, and focuses the name field",
  { timeoutMs: 120_000 },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", { mic: false, camera: true });
    const page = ada.page;
    const pressed = (name: string) =>
      page.getByRole("button", { name, exact: true }).getAttribute("aria-pressed");
    for (
      const want of [{ mic: false, camera: true }, { mic: true, camera: false }, {
        mic: false,
        camera: false,
      }]
    ) {
      // Set the toolbar as wanted, leave, rejoin: the pre-join toggles come back the same.
      for (const [label, on] of [["Microphone", want.mic], ["Camera", want.camera]] as const) {
        if ((await control(page, label).getAttribute("aria-pressed")) !== String(on)) {
          await control(page, label).click();
        }
        await until(
          `Ada's toolbar ${label} ${on ? "on" : "off"}`,
          async () => (await control(page, label).getAttribute("aria-pressed")) === String(on),
        );
      }
      await control(page, "Leave meeting").click();
      await confirmLeave(page);
      await waitForPhase(page, "ended", { end: "left", who: "Ada" });
      assert.equal(await page.getByRole("button", { name: "Try again" }).count(), 0);
      await page.getByRole("button", { name: "Rejoin" }).click();
      await page.getByRole("heading", { name: "Ready to join?" }).waitFor();
      await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
        .waitFor();
      await until(
        `the pre-join toggles to come back as mic ${want.mic}, camera ${want.camera}`,
        async () =>
          (await pressed("Microphone")) === String(want.mic) &&
          (await pressed("Camera")) === String(want.camera),
        {
          timeoutMs: 10_000,
          describe: async () => [await pressed("Microphone"), await pressed("Camera")],
        },
      );
      assert.ok(await nameFocused(page), "the name field has focus after Rejoin");
      // A camera left off stays off: no preview video, so its light stays off too.
      assert.equal(await page.locator("video").count(), want.camera ? 1 : 0);
      await page.getByRole("button", { name: "Join meeting" }).click();
      await waitForPhase(page, "joined", { who: "Ada" });
      for (const [label, on] of [["Microphone", want.mic], ["Camera", want.camera]] as const) {
        assert.equal(await control(page, label).getAttribute("aria-pressed"), String(on), label);
      }
      w.log(`left and rejoined with mic ${want.mic}, camera ${want.camera}: kept`);
    }
  },
  FILE,
);

Deno.test("the 404 page for a bad meeting link starts a new meeting with a real button", async () => {
  await withPage(async (page, origin, errors) => {
    const res = await page.goto(origin + "/not-a-room");
    assert.equal(res?.status(), 404);
    const text = await page.locator("main").textContent() ?? "";
    assert.match(text, /xxxx-xxxx-xxxx-xxxx-xxxx/, "an obviously made-up example");
    await page.getByRole("button", { name: "Start a new meeting" }).click();
    await page.waitForURL((url) =>
      /^\/[a-z0-9-]{24}$/.test(url.pathname) && url.hash.length === 23
    );
    await page.getByRole("heading", { name: "Ready to join?" }).waitFor();
    assertNoErrors(errors.filter((e) => !e.includes("404")));
  });
});

Deno.test("GET /api/rooms/{room} through the real app: JSON, never cached; 400 for a bad id", async () => {
  // Before the first request creates the hub: a throwaway store, not the developer's default file.
  Deno.env.set("MOOZ_KV", ":memory:");
  const app = await createApp(manifest, config, { buildIfStale: true });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  try {
    const room = newRoomId();
    const res = await fetch(`${origin}/api/rooms/${room}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), {
      members: 0,
      capacity: 8,
      full: false,
      locked: false,
      lobby: false,
      ended: false,
      cards: [],
    });
    for (const bad of ["not-a-room", room.toUpperCase(), "%3Cscript%3E"]) {
      const refused = await fetch(`${origin}/api/rooms/${bad}`);
      assert.equal(refused.status, 400, bad);
      assert.equal((await refused.json()).error, "bad-room");
    }
    const post = await fetch(`${origin}/api/rooms/${room}`, { method: "POST" });
    await post.body?.cancel();
    assert.equal(post.status, 405, "read-only");
  } finally {
    await stopHub();
    await server.shutdown();
  }
});
