/**
 * Meetings end to end in real headless Chromium: each participant is its own browser context
 * with a fake camera, microphone and screen; the real server runs as a process (`deno serve`).
 * WebRTC stays on loopback: these tests run only inside a loopback-only network namespace, which
 * `deno task test` sets up (`unshare -rn`); elsewhere they are skipped with a message.
 * Selectors come from tests/MEETING_UI_CONTRACT.md. See tests/meeting_harness.ts.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  audioFlows,
  chatLog,
  chatPanel,
  confirmLeave,
  control,
  description,
  fillPreJoin,
  framesAdvance,
  join,
  meetingTest,
  type MeetingWorld,
  openChat,
  type Participant,
  remoteTiles,
  sendChat,
  tileOf,
  tiles,
  until,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const ON = { mic: true, camera: true };
const OFF = { mic: false, camera: false };

/** Every participant sees exactly the others, connected. */
async function meshComplete(w: MeetingWorld, people: Participant[], timeoutMs = 45_000) {
  await Promise.all(people.map((p) =>
    waitForRemoteTiles(p.page, people.length - 1, {
      names: people.filter((o) => o !== p).map((o) => o.name),
      timeoutMs,
      who: p.name,
    })
  ));
  w.log(`mesh complete: ${people.map((p) => p.name).join(", ")}`);
}

/** Joins `names` in turn with `media`, then waits until each sees all the others, connected. */
async function joinAll(
  w: MeetingWorld,
  names: string[],
  media: { mic: boolean; camera: boolean },
): Promise<Participant[]> {
  const people: Participant[] = [];
  for (const name of names) people.push(await w.join(name, media));
  await meshComplete(w, people);
  return people;
}

/** On every page, every other participant's camera tile shows new frames. */
async function videoFlowsEverywhere(people: Participant[]) {
  for (const p of people) {
    await Promise.all(
      people.filter((o) => o !== p).map((o) =>
        framesAdvance(p.page, tileOf(p.page, o.name), {
          who: `${o.name}'s tile on ${p.name}'s page`,
        })
      ),
    );
  }
}

async function tileAttr(page: Page, name: string, attr: string): Promise<string | null> {
  return await tileOf(page, name).getAttribute(attr, { timeout: 2_000 });
}

/** Waits until `name`'s camera tile on each page has `attr` = `value`. */
async function tileAttrEverywhere(
  pages: Participant[],
  name: string,
  attr: string,
  value: string,
) {
  await Promise.all(pages.map((p) =>
    until(
      `${name}'s tile on ${p.name}'s page to have ${attr}=${value}`,
      async () => (await tileAttr(p.page, name, attr)) === value,
      { timeoutMs: 15_000, describe: () => tiles(p.page) },
    )
  ));
}

/** Waits until `page`'s chat log holds messages containing `texts`, in this order. */
async function waitForChat(p: Participant, texts: string[]) {
  return await until(
    `${p.name}'s chat log to show ${JSON.stringify(texts)}`,
    async () => {
      const log = await chatLog(p.page);
      let at = 0;
      for (const m of log) if (at < texts.length && m.text.includes(texts[at])) at++;
      return at === texts.length ? log : undefined;
    },
    { timeoutMs: 15_000, describe: () => chatLog(p.page) },
  );
}

/** The peer id `page` knows `name` by (its camera tile's `data-peer`). */
async function peerIdOf(page: Page, name: string): Promise<string> {
  const id = await tileOf(page, name).getAttribute("data-peer", { timeout: 5_000 });
  assert.ok(id && id !== "self", `${name}'s tile has no peer id`);
  return id;
}

meetingTest(
  "4 participants join by the invite link: each sees 3 remote tiles with video and audio flowing",
  { timeoutMs: 150_000 },
  async (w) => {
    // The first one starts a meeting from the home page, as a person would, and shares its link.
    const ada = await w.open("Ada");
    await ada.page.goto(w.origin + "/");
    await ada.page.getByRole("button", { name: "New meeting" }).click();
    await ada.page.getByRole("heading", { name: "Ready to join?" }).waitFor();
    // The server renders no link (it never knows the key); the page fills it in once hydrated.
    const invite = ada.page.getByRole("textbox", { name: "Invite link" });
    await ada.page.waitForFunction(
      (origin) =>
        (document.getElementById("prejoin-link") as HTMLInputElement)?.value.startsWith(origin),
      w.origin,
    );
    const link = await invite.inputValue();
    // The whole link: the room and, after #, the key the page made.
    assert.match(
      link,
      new RegExp(`^${w.origin}/[a-z0-9-]+#[A-Za-z0-9_-]{22}$`),
      `odd invite link ${link}`,
    );
    assert.equal(link, ada.page.url(), "the address bar holds the same whole link");
    await join(ada.page, w.origin, link, "Ada", ON);
    w.log(`Ada started ${link} and joined`);
    const people = [ada];
    for (const name of ["Bob", "Cy", "Dee"]) people.push(await w.join(name, ON, { room: link }));

    await meshComplete(w, people);
    for (const p of people) {
      const self = (await tiles(p.page)).filter((t) => t.peer === "self" && t.kind === "camera");
      assert.deepEqual(self.map((t) => t.label), [`${p.name} (you)`], `${p.name}'s self tile`);
    }
    await videoFlowsEverywhere(people);
    w.log("video frames advance on all 12 remote tiles");
    await Promise.all(people.map((p) => audioFlows(p.page, { peers: 3, who: p.name })));
    w.log("audio packets arrive on all 12 links");
  },
);

meetingTest(
  "chat reaches everyone, as text; a participant who joins later gets the history",
  { devices: "none" },
  async (w) => {
    const [ada, bob, cy] = await joinAll(w, ["Ada", "Bob", "Cy"], OFF);

    const first = "Hello <b>everyone</b> & welcome";
    await sendChat(ada.page, first);
    await waitForChat(ada, [first]);
    // Bob has not opened the chat: the button tells him there is something new.
    await until(
      "Bob's Chat button to announce 1 unread message",
      async () => /\b1 unread\b/.test(await description(control(bob.page, "Chat"))),
      { timeoutMs: 15_000, describe: () => description(control(bob.page, "Chat")) },
    );
    for (const p of [bob, cy]) {
      await openChat(p.page);
      const log = await waitForChat(p, [first]);
      const msg = log.find((m) => m.text.includes(first))!;
      assert.equal(msg.from, await peerIdOf(p.page, "Ada"), `data-from on ${p.name}'s page`);
      // Plain text: the markup shows as typed and no element was made from it.
      assert.equal(
        await chatPanel(p.page).getByRole("log", { name: "Messages" }).locator("b").count(),
        0,
      );
    }
    w.log("Ada's message reached Bob and Cy");

    const second = "Hi Ada, Bob here";
    await sendChat(bob.page, second);
    await Promise.all([ada, cy].map((p) => waitForChat(p, [first, second])));
    w.log("Bob's reply reached Ada and Cy");

    const dee = await w.join("Dee", OFF);
    await meshComplete(w, [ada, bob, cy, dee]);
    await openChat(dee.page);
    const history = await waitForChat(dee, [first, second]);
    assert.equal(history.filter((m) => m.text.includes(first)).length, 1, "no duplicates");
    assert.equal(history.filter((m) => m.text.includes(second)).length, 1, "no duplicates");
    w.log("Dee, who joined later, got the history");
  },
);

meetingTest(
  "a screen share is seen by everyone with frames advancing, and stopping it removes it everywhere",
  { timeoutMs: 150_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const cy = await w.join("Cy", OFF);
    const people = [ada, bob, cy];
    await meshComplete(w, people);

    for (const [sharer, viewers] of [[ada, [bob, cy]], [bob, [ada, cy]]] as const) {
      const button = control(sharer.page, "Share screen");
      await button.click();
      await until(
        `${sharer.name}'s Share screen button to be pressed`,
        async () => (await button.getAttribute("aria-pressed")) === "true",
      );
      await Promise.all(viewers.map(async (v) => {
        await waitForRemoteTiles(v.page, 1, { kind: "screen", names: [sharer.name], who: v.name });
        await framesAdvance(v.page, tileOf(v.page, sharer.name, "screen"), {
          who: `${sharer.name}'s screen on ${v.name}'s page`,
        });
      }));
      w.log(`${sharer.name}'s screen share is seen by ${viewers.map((v) => v.name).join(", ")}`);

      await button.click();
      await until(
        `${sharer.name}'s Share screen button to be released`,
        async () => (await button.getAttribute("aria-pressed")) === "false",
      );
      await Promise.all(people.map((p) =>
        until(
          `${p.name}'s page to show no screen tile`,
          async () => (await tiles(p.page)).every((t) => t.kind !== "screen"),
          { timeoutMs: 15_000, describe: () => tiles(p.page) },
        )
      ));
      // Stopping a share leaves the cameras' links alone.
      await meshComplete(w, people, 10_000);
      w.log(`${sharer.name}'s share stopped: gone everywhere`);
    }
  },
);

meetingTest(
  "muting and turning the camera off show on the others' tiles, and back",
  { timeoutMs: 150_000 },
  async (w) => {
    const ada = await w.join("Ada", ON);
    const bob = await w.join("Bob", ON);
    const cy = await w.join("Cy", ON);
    const people = [ada, bob, cy];
    const viewers = [bob, cy];
    await meshComplete(w, people);
    await tileAttrEverywhere(viewers, "Ada", "data-muted", "false");
    await tileAttrEverywhere(viewers, "Ada", "data-video-off", "false");

    await control(ada.page, "Microphone").click();
    await tileAttrEverywhere(viewers, "Ada", "data-muted", "true");
    assert.equal(await control(ada.page, "Microphone").getAttribute("aria-pressed"), "false");
    w.log("Ada muted: seen by Bob and Cy");

    await control(ada.page, "Camera").click();
    await tileAttrEverywhere(viewers, "Ada", "data-video-off", "true");
    assert.equal(await control(ada.page, "Camera").getAttribute("aria-pressed"), "false");
    for (const v of viewers) {
      assert.equal(await tileOf(v.page, "Ada").locator("video").count(), 0, `${v.name}: no video`);
      // Nothing else changed: Bob and Cy are still unmuted with video for each other.
      const other = v === bob ? "Cy" : "Bob";
      assert.equal(await tileAttr(v.page, other, "data-muted"), "false");
      assert.equal(await tileAttr(v.page, other, "data-video-off"), "false");
    }
    w.log("Ada's camera off: seen by Bob and Cy");

    await control(ada.page, "Microphone").click();
    await tileAttrEverywhere(viewers, "Ada", "data-muted", "false");
    await control(ada.page, "Camera").click();
    await tileAttrEverywhere(viewers, "Ada", "data-video-off", "false");
    await Promise.all(
      viewers.map((v) =>
        framesAdvance(v.page, tileOf(v.page, "Ada"), { who: `Ada's tile on ${v.name}'s page` })
      ),
    );
    await Promise.all(viewers.map((v) => audioFlows(v.page, { peers: 2, who: v.name })));
    w.log("Ada unmuted and camera back on: video and audio flow again");
  },
);

const GRACE_MS = 3_000;

meetingTest(
  "who leaves disappears everywhere; a crashed browser is removed after the grace period and " +
    "the others' media keeps flowing",
  {
    timeoutMs: 150_000,
    env: {
      MOOZ_RESUME_GRACE_MS: String(GRACE_MS),
      MOOZ_HEARTBEAT_MS: "500",
      MOOZ_HEARTBEAT_TIMEOUT_MS: "2000",
      MOOZ_WS_IDLE_TIMEOUT_S: "2",
    },
  },
  async (w) => {
    const [ada, bob, cy, dee] = await joinAll(w, ["Ada", "Bob", "Cy", "Dee"], ON);

    await control(dee.page, "Leave meeting").click();
    await confirmLeave(dee.page);
    await waitForPhase(dee.page, "ended", { end: "left", who: "Dee" });
    await Promise.all([ada, bob, cy].map((p) =>
      waitForRemoteTiles(p.page, 2, {
        names: [ada, bob, cy].filter((o) => o !== p).map((o) => o.name),
        timeoutMs: 10_000,
        who: p.name,
      })
    ));
    w.log("Dee left: gone from every grid");

    const crashed = Date.now();
    await w.crash(cy);
    await Promise.all([[ada, bob], [bob, ada]].map(([p, other]) =>
      waitForRemoteTiles(p.page, 1, {
        names: [other.name],
        // The grace period, the time to notice the dead socket, and slack for a busy machine.
        timeoutMs: GRACE_MS + 15_000,
        who: p.name,
      })
    ));
    w.log(`Cy's browser crashed: removed after ${Date.now() - crashed} ms`);

    await framesAdvance(ada.page, tileOf(ada.page, "Bob"), { who: "Bob's tile on Ada's page" });
    await framesAdvance(bob.page, tileOf(bob.page, "Ada"), { who: "Ada's tile on Bob's page" });
    await audioFlows(ada.page, { peers: 1, who: "Ada" });
    await audioFlows(bob.page, { peers: 1, who: "Bob" });
    assert.equal((await remoteTiles(ada.page)).length, 1);
    w.log("Ada and Bob still see and hear each other");
  },
);

meetingTest(
  "a 9th participant in a room of 8 sees it is full before joining, and gets in once someone leaves",
  { timeoutMs: 240_000, env: { MOOZ_ROOM_CAPACITY: "8" }, devices: "none" },
  async (w) => {
    const names = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal"];
    const people: Participant[] = [];
    for (const name of names) people.push(await w.join(name, OFF, { timeoutMs: 45_000 }));
    await waitForRemoteTiles(people[7].page, 7, { names: names.slice(0, 7), timeoutMs: 60_000 });
    w.log("8 participants in the room; the last one connected to all 7");

    // The pre-join screen knows before Join (tests/end_screen_test.ts has the room-full screen).
    const ivy = await w.open("Ivy");
    await ivy.page.goto(w.link);
    const who = ivy.page.getByRole("status", { name: "Who's here" });
    await who.getByText("This meeting is full (8 of 8)").waitFor({ timeout: 20_000 });
    const joinButton = ivy.page.getByRole("button", { name: "Join meeting" });
    assert.equal(await joinButton.isDisabled(), true, "Join is off in a full meeting");
    for (const p of people) {
      assert.equal((await remoteTiles(p.page)).some((t) => t.label === "Ivy"), false);
    }
    w.log("Ivy saw the meeting is full before joining; nobody saw her");

    await control(people[0].page, "Leave meeting").click();
    await confirmLeave(people[0].page);
    await waitForPhase(people[0].page, "ended", { end: "left", who: "Ada" });
    await fillPreJoin(ivy.page, "Ivy", OFF);
    await ivy.page.getByRole("button", { name: "Join meeting" }).click();
    await waitForPhase(ivy.page, "joined", { who: "Ivy", timeoutMs: 30_000 });
    await waitForRemoteTiles(ivy.page, 7, { names: names.slice(1), timeoutMs: 60_000 });
    w.log("after Ada left, Ivy rejoined and connected to the 7 others");
  },
);

meetingTest(
  "reactions: one reacts and every other page shows it on the sender's tile, then it fades",
  { devices: "none" },
  async (w) => {
    const [ada, bob, cy] = await joinAll(w, ["Ada", "Bob", "Cy"], OFF);

    // Ada opens the picker from the keyboard: focus goes to the first emoji.
    const picker = control(ada.page, "Reactions");
    await picker.focus();
    await ada.page.keyboard.press("Enter");
    assert.equal(await picker.getAttribute("aria-expanded"), "true");
    const group = ada.page.getByRole("group", { name: "Send a reaction" });
    await until(
      "the first emoji to have focus",
      () => group.getByRole("button").first().evaluate((el) => el === document.activeElement),
    );
    await group.getByRole("button", { name: "React with party" }).click();

    const reaction = (p: Participant, name: string) =>
      tileOf(p.page, name).locator('[data-reaction="🎉"]');
    for (const p of [bob, cy]) {
      await until(
        `Ada's 🎉 on her tile on ${p.name}'s page`,
        async () => await reaction(p, "Ada").count() === 1,
        { timeoutMs: 10_000, describe: () => tiles(p.page) },
      );
      const label = await reaction(p, "Ada").getAttribute("aria-label");
      assert.equal(label, "Ada reacted with party");
      // On nobody else's tile.
      const other = p === bob ? "Cy" : "Bob";
      assert.equal(await tileOf(p.page, other).locator("[data-reaction]").count(), 0);
    }
    // Her own tile shows it too.
    assert.equal(await reaction(ada, "Ada (you)").count(), 1);
    w.log("Ada's reaction floats on her tile on every page");

    // Esc closes the picker and gives focus back to its button.
    await group.getByRole("button").first().focus();
    await ada.page.keyboard.press("Escape");
    await until("the picker to close", async () => await group.count() === 0);
    assert.equal(await picker.evaluate((el) => el === document.activeElement), true);

    await Promise.all([bob, cy].map((p) =>
      until(
        `the reaction to fade from ${p.name}'s page`,
        async () => await reaction(p, "Ada").count() === 0,
        { timeoutMs: 15_000 },
      )
    ));
    w.log("and fades a few seconds later");
  },
);

meetingTest(
  "raise hand by its shortcut: the hand shows on the raiser's tile everywhere, and goes down",
  { devices: "none" },
  async (w) => {
    const [ada, bob, cy] = await joinAll(w, ["Ada", "Bob", "Cy"], OFF);
    const hand = (p: Participant, name: string) =>
      tileOf(p.page, name).getByText("Hand raised", { exact: true });
    const handsEverywhere = async (up: boolean) => {
      for (const p of [ada, cy]) {
        await until(
          `Bob's hand to be ${up ? "up" : "down"} on ${p.name}'s page`,
          async () => await hand(p, "Bob").count() === (up ? 1 : 0),
          { timeoutMs: 10_000, describe: () => tiles(p.page) },
        );
        // Nobody else's hand.
        const other = p === ada ? "Cy" : "Ada";
        assert.equal(await hand(p, other).count(), 0);
      }
    };

    await bob.page.locator("body").press("h");
    await until(
      "Bob's Raise hand button to be pressed",
      async () => await control(bob.page, "Raise hand").getAttribute("aria-pressed") === "true",
    );
    assert.equal(await hand(bob, "Bob (you)").count(), 1, "on his own tile too");
    await handsEverywhere(true);
    w.log("Bob raised his hand with H: seen by Ada and Cy");

    // A latecomer learns it when her link opens.
    const dee = await w.join("Dee", OFF);
    await meshComplete(w, [ada, bob, cy, dee]);
    await until("Bob's hand on Dee's page", async () => await hand(dee, "Bob").count() === 1);
    w.log("Dee, who came later, sees it too");

    await control(bob.page, "Raise hand").click();
    await handsEverywhere(false);
    w.log("and lowered it");
  },
);
