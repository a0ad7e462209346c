/**
 * A meeting outlives its server: two real Chromium pages in a call with video, the server
 * process killed (SIGKILL, as a crash) for 40 s, longer than the resume grace period, then
 * started again on the same port and KV file. Meanwhile the call goes on between the browsers
 * (video keeps being decoded, chat goes through the data channel) and the page says so without
 * ending; afterwards both pages take their places back with the same peer ids. A second, data-only
 * test checks when a meeting does end without its server: once nothing of the mesh is left (no
 * link connected) for the grace period.
 *
 * Runs only in a loopback-only network namespace, like the other real-browser tests (see
 * tests/meeting_harness.ts).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { newRoomId } from "../signaling/room_id.ts";
import {
  chatLog,
  delay,
  engineState,
  framesAdvance,
  meetingTest,
  type MeetingWorld,
  openChat,
  type Participant,
  phase,
  selfId,
  sendChat,
  serverStatus,
  tileOf,
  until,
  videoDecodes,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/server_outage_test.ts";
/** The fault injected: how long the server stays dead (the default grace period is 30 s). */
const OUTAGE_MS = 40_000;
const RECONNECTING = "Reconnecting to the meeting server; your call continues";
const RECONNECTED = "Reconnected to the meeting server.";
/** Video only, and the harness's small fake camera clip: the lightest call that has video. */
const VIDEO_ONLY = { mic: false, camera: true };
const NO_MEDIA = { mic: false, camera: false };
/** A grace period short enough that a test can wait it out. */
const SHORT_GRACE_MS = 5_000;

interface MemberView {
  peer: string;
  connected: boolean;
  links: Record<string, string>;
}

/** The page's roster (`__mooz.meeting.members`), as the server last sent it. */
async function members(page: Page): Promise<MemberView[]> {
  const state = await engineState(page) as { members?: MemberView[] };
  return state.members ?? [];
}

/** Remembers in the page whether `text` ever showed in a toast (they last only 4 s). */
async function watchForToast(page: Page, text: string): Promise<void> {
  await page.evaluate((wanted) => {
    const g = globalThis as unknown as { __sawToast?: Record<string, boolean> };
    const seen = g.__sawToast ??= {};
    const check = () => {
      const toasts = document.querySelectorAll('[role="status"][aria-live] > div > span');
      if ([...toasts].some((t) => t.textContent?.includes(wanted))) seen[wanted] = true;
    };
    new MutationObserver(check).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
    });
    check();
  }, text);
}

async function sawToast(page: Page, text: string): Promise<boolean> {
  return await page.evaluate(
    (wanted) =>
      (globalThis as unknown as { __sawToast?: Record<string, boolean> }).__sawToast?.[wanted] ===
        true,
    text,
  );
}

/** Both pages still in the call, saying the server is away: nothing has ended. */
async function assertStillInCall(people: Participant[]): Promise<void> {
  for (const p of people) {
    const now = await phase(p.page);
    assert.notEqual(now.phase, "ended", `${p.name}'s meeting ended (${now.end}) during the outage`);
    assert.equal(now.phase, "reconnecting", `${p.name}'s phase during the outage`);
    assert.match(await serverStatus(p.page), new RegExp(RECONNECTING), `${p.name}'s status`);
  }
}

async function waitForChat(p: Participant, text: string): Promise<void> {
  await openChat(p.page);
  await until(
    `${p.name}'s chat log to show ${JSON.stringify(text)}`,
    async () => (await chatLog(p.page)).some((m) => m.text.includes(text)),
    { timeoutMs: 15_000, describe: () => chatLog(p.page) },
  );
}

meetingTest(
  "the server killed for 40 s: video and chat go on, no end screen, both resume their places",
  { timeoutMs: 240_000 },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", VIDEO_ONLY);
    const bob = await w.join("Bob", VIDEO_ONLY);
    const people = [ada, bob];
    await Promise.all(people.map((p) =>
      waitForRemoteTiles(p.page, 1, {
        names: [p === ada ? "Bob" : "Ada"],
        timeoutMs: 45_000,
        who: p.name,
      })
    ));
    await Promise.all(people.map((p) => videoDecodes(p.page, { peers: 1, who: p.name })));
    const ids = new Map<Participant, string>();
    for (const p of people) {
      const id = await selfId(p.page);
      assert.ok(id, `${p.name} has a peer id`);
      ids.set(p, id);
    }
    // Each knows the other by that id.
    assert.equal(await tileOf(ada.page, "Bob").getAttribute("data-peer"), ids.get(bob));
    assert.equal(await tileOf(bob.page, "Ada").getAttribute("data-peer"), ids.get(ada));
    for (const p of people) assert.equal(await serverStatus(p.page), "", `${p.name}'s status`);
    w.log(`call up: Ada ${ids.get(ada)}, Bob ${ids.get(bob)}`);

    // ---- The server dies.
    await w.server.kill();
    const killedAt = Date.now();
    w.log("server killed");
    await Promise.all(
      people.map((p) => waitForPhase(p.page, "reconnecting", { who: p.name, timeoutMs: 15_000 })),
    );
    await assertStillInCall(people);
    w.log("both pages say they are reconnecting");

    // The call goes on without it: video between the browsers, chat over the data channel.
    await Promise.all(people.map((p) => videoDecodes(p.page, { peers: 1, who: p.name })));
    await sendChat(ada.page, "still here without the server");
    await waitForChat(bob, "still here without the server");
    w.log("video and chat flow without the server");

    // The rest of the outage, past the grace period: the call must still be going at the end.
    let checks = 0;
    while (Date.now() - killedAt < OUTAGE_MS) {
      await delay(Math.min(5_000, OUTAGE_MS - (Date.now() - killedAt)));
      await assertStillInCall(people);
      checks++;
    }
    await Promise.all(people.map((p) => videoDecodes(p.page, { peers: 1, who: p.name })));
    w.log(
      `outage of ${Date.now() - killedAt} ms: still in the call (${checks} checks), video flows`,
    );

    // ---- The server comes back on the same port and KV file.
    await Promise.all(people.map((p) => watchForToast(p.page, RECONNECTED)));
    const restartAt = Date.now();
    await w.server.restart();
    w.log(`server serving again after ${Date.now() - restartAt} ms`);
    await Promise.all(
      people.map((p) => waitForPhase(p.page, "joined", { who: p.name, timeoutMs: 30_000 })),
    );
    w.log(`both pages joined ${Date.now() - restartAt} ms after the restart began`);

    for (const p of people) {
      assert.equal(await selfId(p.page), ids.get(p), `${p.name} resumed with the same peer id`);
      assert.equal(await serverStatus(p.page), "", `${p.name}'s status cleared`);
      assert.ok(await sawToast(p.page, RECONNECTED), `${p.name} was told it reconnected`);
    }
    // Each sees the other, by the same id, connected to the server and to itself: the server's
    // full-mesh check then has nothing to hold against anyone, so nobody gets evicted.
    const [adaId, bobId] = [ids.get(ada)!, ids.get(bob)!];
    await Promise.all(people.map((p) =>
      until(
        `${p.name}'s roster to show Ada and Bob connected, each reporting the other connected`,
        async () => {
          const list = await members(p.page);
          const ada = list.find((m) => m.peer === adaId);
          const bob = list.find((m) => m.peer === bobId);
          return list.length === 2 && ada?.connected && bob?.connected &&
            ada.links[bobId] === "connected" && bob.links[adaId] === "connected";
        },
        { timeoutMs: 30_000, describe: () => members(p.page) },
      )
    ));
    assert.equal(await tileOf(ada.page, "Bob").getAttribute("data-peer"), bobId);
    assert.equal(await tileOf(bob.page, "Ada").getAttribute("data-peer"), adaId);
    await Promise.all(
      people.map((p) =>
        framesAdvance(p.page, p === ada ? "Bob" : "Ada", { who: `the other's tile on ${p.name}'s` })
      ),
    );
    await sendChat(bob.page, "and the server is back");
    await waitForChat(ada, "and the server is back");
    for (const p of people) {
      const now = await phase(p.page);
      assert.equal(now.phase, "joined", `${p.name} is still in the meeting (${now.end ?? ""})`);
    }
    w.log("both resumed their places; video and chat flow");
  },
  FILE,
);

meetingTest(
  "the server gone: a page connected to no one ends after the grace period, a linked pair waits",
  { timeoutMs: 150_000, devices: "none", env: { MOOZ_RESUME_GRACE_MS: String(SHORT_GRACE_MS) } },
  async (w: MeetingWorld) => {
    const ada = await w.join("Ada", NO_MEDIA);
    const bob = await w.join("Bob", NO_MEDIA);
    const cy = await w.join("Cy", NO_MEDIA, { room: newRoomId() });
    await Promise.all([
      waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" }),
      waitForRemoteTiles(bob.page, 1, { names: ["Ada"], who: "Bob" }),
    ]);

    // From before the kill: the pages may notice it before `kill` returns.
    const killedAt = Date.now();
    await w.server.kill();
    w.log("server killed");
    // Cy is alone in its meeting: with the server gone too, nothing of the meeting is left.
    await waitForPhase(cy.page, "ended", { end: "unreachable", who: "Cy", timeoutMs: 30_000 });
    const cyEnded = Date.now() - killedAt;
    w.log(`Cy's meeting ended ${cyEnded} ms after the kill`);
    assert.ok(cyEnded >= SHORT_GRACE_MS, `Cy waited the grace period (${cyEnded} ms)`);
    const heading = await cy.page.getByRole("heading", { level: 1 }).textContent();
    assert.equal(heading, "Can't reach the meeting server");
    await cy.page.getByText(`unreachable for ${SHORT_GRACE_MS / 1000} s`).waitFor();

    // Ada and Bob have each other: past the same grace period, their meeting goes on.
    for (const p of [ada, bob]) {
      assert.equal((await phase(p.page)).phase, "reconnecting", `${p.name}'s phase`);
    }
    await sendChat(bob.page, "we are still talking");
    await waitForChat(ada, "we are still talking");

    // Bob goes: Ada has no one left and no server, so her meeting ends too.
    await w.close(bob);
    const bobGone = Date.now();
    await waitForPhase(ada.page, "ended", { end: "unreachable", who: "Ada", timeoutMs: 60_000 });
    w.log(`Ada's meeting ended ${Date.now() - bobGone} ms after Bob's page closed`);
  },
  FILE,
);
