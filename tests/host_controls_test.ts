/**
 * Host controls in real Chromium against the real server: removing someone (their page says so,
 * the others drop them within 2 s, their link no longer gets them in, and the meeting key
 * rotates for those who stay), locking, the lobby, and asking someone to mute. The first to join
 * creates the room and is its host. Data-only meetings (no devices) except the mute test.
 */
import assert from "node:assert/strict";
import { PREVIOUS_KEY_WINDOW_MS } from "../mesh/key_ring.ts";
import {
  control,
  description,
  join,
  meetingTest,
  remoteTiles,
  tileOf,
  until,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";
import {
  choosePersonAction,
  fragment,
  hostPanel,
  joinToLobby,
  linkedPeers,
  micState,
  OFF,
  openHostControls,
  openParticipants,
  personMenuButton,
  removeFromMeeting,
  roomSeen,
  signalsDroppedTotal,
  toastTexts,
} from "./host_harness.ts";
import { assertAccessible } from "./browser.ts";
import { peersSeen } from "./sealed_meeting.ts";
import type { Participant } from "./meeting_harness.ts";

const FILE = "tests/host_controls_test.ts";

/** Waits until every page in `people` shows the others connected. */
async function fullMesh(people: Participant[], timeoutMs = 60_000): Promise<void> {
  await Promise.all(people.map((p) =>
    waitForRemoteTiles(p.page, people.length - 1, {
      names: people.filter((o) => o !== p).map((o) => o.name),
      timeoutMs,
      who: p.name,
    })
  ));
}

/** Waits until the focused element's accessible name (aria-label, else its text) is `name`. */
async function focusOn(page: Participant["page"], name: string, why?: string): Promise<void> {
  const now = () =>
    page.evaluate(() => {
      const el = document.activeElement;
      return el?.getAttribute("aria-label") ?? el?.textContent?.trim() ?? null;
    });
  await until(`focus on "${name}"${why ? ` (${why})` : ""}`, async () => (await now()) === name, {
    timeoutMs: 5_000,
    intervalMs: 50,
    describe: now,
  });
}

/** The peer id `page` gives `name` (from its core's peers). */
async function idOf(page: Participant["page"], name: string): Promise<string> {
  const seen = await peersSeen(page);
  const found = seen.find((s) => s.name === name);
  assert.ok(found, `${name} in ${JSON.stringify(seen)}`);
  return found.peer;
}

meetingTest(
  "a host removes one of three: gone for the others within 2 s, told so, and the link no longer lets them in",
  { devices: "none", timeoutMs: 240_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const cid = await w.join("Cid", OFF);
    await fullMesh([ada, bob, cid]);
    const cidId = await idOf(ada.page, "Cid");
    w.log("full mesh of three; Ada removes Cid");

    await removeFromMeeting(ada.page, "Cid");
    const removedAt = Date.now();
    await Promise.all([ada, bob].map((p) =>
      until(
        `${p.name} to drop Cid's tile and peer connection within 2 s`,
        async () => {
          const tiles = await remoteTiles(p.page);
          const peers = await linkedPeers(p.page);
          return !tiles.some((t) => t.label === "Cid" || t.peer === cidId) &&
            !peers.includes(cidId);
        },
        {
          timeoutMs: Math.max(0, 2_000 - (Date.now() - removedAt)),
          intervalMs: 100,
          describe: async () => ({
            tiles: await remoteTiles(p.page),
            peers: await linkedPeers(p.page),
          }),
        },
      )
    ));
    w.log(`Ada and Bob dropped Cid after ${Date.now() - removedAt} ms`);

    await waitForPhase(cid.page, "ended", { end: "removed", who: "Cid" });
    await cid.page.getByRole("heading", { name: /removed by the host/i }).waitFor();
    assert.equal(
      await cid.page.getByRole("button", { name: "Rejoin" }).count(),
      0,
      "no Rejoin button: rejoining cannot work",
    );
    await cid.page.getByText("Ada removed you from this meeting.").waitFor();
    await assertAccessible(cid.page);
    // Ada and Bob stay together.
    await waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" });
    await waitForRemoteTiles(bob.page, 1, { names: ["Ada"], who: "Bob" });

    // The same browser opens the meeting's link again: refused as removed.
    const again = await cid.context.newPage();
    try {
      const reached = await join(again, w.origin, w.link, "Cid", OFF, { expect: "ended" });
      assert.equal(reached.end, "removed");
      await again.getByRole("heading", { name: /removed by the host/i }).waitFor();
      assert.equal(await again.getByRole("button", { name: "Rejoin" }).count(), 0);
    } finally {
      await again.close();
    }
    assert.deepEqual(
      (await remoteTiles(ada.page)).map((t) => t.label),
      ["Bob"],
      "Ada never saw Cid come back",
    );
  },
  FILE,
);

meetingTest(
  "after a removal the key rotates: the others' links carry the new key, stay connected, and the old key opens nothing",
  {
    devices: "none",
    timeoutMs: 360_000,
    // The old-key page is not evicted for the links it cannot form: this test looks at them.
    env: { MOOZ_LINK_DEADLINE_MS: "600000" },
  },
  async (w) => {
    const oldKey = w.key;
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const cid = await w.join("Cid", OFF);
    await fullMesh([ada, bob, cid]);
    for (const p of [ada, bob, cid]) assert.equal(await fragment(p.page), oldKey);

    await removeFromMeeting(ada.page, "Cid");
    await waitForPhase(cid.page, "ended", { end: "removed", who: "Cid" });
    const newKey = await until(
      "Ada's and Bob's address bars to carry the same new key",
      async () => {
        const [a, b] = await Promise.all([fragment(ada.page), fragment(bob.page)]);
        return a !== oldKey && a === b ? a : undefined;
      },
      {
        timeoutMs: 20_000,
        describe: async () => ({
          ada: await fragment(ada.page),
          bob: await fragment(bob.page),
          adaRoom: await roomSeen(ada.page),
          bobRoom: await roomSeen(bob.page),
        }),
      },
    );
    const rotatedAt = Date.now();
    assert.match(newKey, /^[A-Za-z0-9_-]{22}$/);
    for (const p of [ada, bob]) {
      const room = await roomSeen(p.page);
      assert.equal(room?.key, newKey, `${p.name}'s core uses the key of its address bar`);
      assert.equal(room?.keyEpoch, 1);
    }
    assert.equal(await fragment(cid.page), oldKey, "the removed page never learnt the new key");
    w.log("the key rotated; Ada and Bob carry it");

    // Still connected and verified, both ways.
    for (const [p, other] of [[ada, "Bob"], [bob, "Ada"]] as const) {
      await until(
        `${p.name} to see ${other} connected and verified after the rotation`,
        async () => {
          const them = (await peersSeen(p.page)).find((s) => s.name === other);
          return them?.link === "connected" && them.verified;
        },
        { timeoutMs: 20_000, describe: () => peersSeen(p.page) },
      );
    }

    // Bob reloads: the address bar's (new) key brings him back to Ada.
    await bob.page.reload();
    await bob.page.getByRole("heading", { name: "Ready to join?" }).waitFor();
    assert.equal(await fragment(bob.page), newKey);
    await bob.page.getByRole("button", { name: "Join meeting" }).and(bob.page.locator(":enabled"))
      .waitFor();
    await bob.page.getByRole("textbox", { name: "Your name" }).fill("Bob");
    await bob.page.getByRole("button", { name: "Join meeting" }).click();
    await waitForPhase(bob.page, "joined", { who: "Bob (reloaded)" });
    await fullMesh([ada, bob]);
    w.log("Bob reloaded with the new key and reconnected to Ada");

    // The old link in a browser the server does not know: the server lets it in (it never knows
    // keys), but nothing it seals opens for the others. Envelopes sealed with the previous key
    // still open for PREVIOUS_KEY_WINDOW_MS after the switch, but only from members verified with
    // it before (members catching up): Eve comes, usually within that window, and opens nothing.
    const inWindow = Date.now() < rotatedAt + PREVIOUS_KEY_WINDOW_MS;
    w.log(`Eve joins ${inWindow ? "within" : "after"} the previous key's window`);
    const droppedBefore = await signalsDroppedTotal(ada.page);
    const eve = await w.join("Eve", OFF, { room: w.link });
    await until(
      "Ada's dropped signals to grow, Eve unverified and never connected",
      async () => {
        const dropped = await signalsDroppedTotal(ada.page);
        const seen = await peersSeen(ada.page);
        const unverified = seen.filter((s) => !s.verified);
        return dropped > droppedBefore && unverified.length === 1 &&
          unverified[0].link !== "connected";
      },
      {
        timeoutMs: 45_000,
        describe: async () => ({
          dropped: await signalsDroppedTotal(ada.page),
          seen: await peersSeen(ada.page),
        }),
      },
    );
    await until(
      "Eve to see both others unverified, never connected",
      async () => {
        const seen = await peersSeen(eve.page);
        return seen.length === 2 && seen.every((s) => !s.verified && s.link !== "connected");
      },
      { timeoutMs: 45_000, describe: () => peersSeen(eve.page) },
    );
    for (const s of await peersSeen(eve.page)) assert.ok(!["Ada", "Bob"].includes(s.name));
    // Bob marks Eve unverified once enough of her envelopes failed to open (her hellos repeat).
    await until(
      "Bob to see Ada verified and Eve unverified",
      async () => {
        const seen = await peersSeen(bob.page);
        const verified = seen.filter((s) => s.verified).map((s) => s.name);
        return verified.length === 1 && verified[0] === "Ada" &&
          seen.filter((s) => !s.verified).length === 1;
      },
      { timeoutMs: 45_000, describe: () => peersSeen(bob.page) },
    );
    w.log("the old link's page opens nothing and connects to nobody");
  },
  FILE,
);

meetingTest(
  "a locked meeting refuses a fourth person; host controls are for hosts only, and keyboard-usable",
  { devices: "none", timeoutMs: 240_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const cid = await w.join("Cid", OFF);
    await fullMesh([ada, bob, cid]);

    // Bob is no host: no host panel, no menus; Ada is marked "Host" in his list.
    assert.equal(await control(bob.page, "Host controls").count(), 0);
    const bobsList = await openParticipants(bob.page);
    await bobsList.locator("li", { hasText: "Ada" }).getByText("Host", { exact: true }).waitFor();
    assert.equal(await bobsList.getByRole("button", { name: /^Actions for / }).count(), 0);

    // The menu by keyboard: Enter opens on the first item, arrows move, Esc closes and returns
    // focus; the removal's dialog starts on Cancel, and Esc leaves everything as it was.
    const menuButton = await personMenuButton(ada.page, "Bob");
    await menuButton.focus();
    await ada.page.keyboard.press("Enter");
    const menu = ada.page.getByRole("menu", { name: "Actions for Bob" });
    await menu.waitFor();
    assert.equal(await menuButton.getAttribute("aria-expanded"), "true");
    await focusOn(ada.page, "Make co-host");
    await assertAccessible(ada.page);
    await ada.page.keyboard.press("ArrowDown");
    await focusOn(ada.page, "Make host and leave the role");
    await ada.page.keyboard.press("ArrowUp");
    await focusOn(ada.page, "Make co-host");
    await ada.page.keyboard.press("ArrowUp");
    await focusOn(ada.page, "Remove from meeting", "ArrowUp wraps to the last item");
    await ada.page.keyboard.press("Escape");
    await menu.waitFor({ state: "detached" });
    await focusOn(ada.page, "Actions for Bob");
    assert.equal(await control(ada.page, "Participants").getAttribute("aria-expanded"), "true");
    await ada.page.keyboard.press("ArrowUp");
    await focusOn(ada.page, "Remove from meeting", "ArrowUp on the button opens on the last item");
    await ada.page.keyboard.press("Enter");
    const dialog = ada.page.getByRole("dialog", { name: "Remove Bob from the meeting?" });
    await dialog.waitFor();
    assert.match(await dialog.textContent() ?? "", /can't be undone/);
    await focusOn(ada.page, "Cancel");
    await ada.page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await focusOn(ada.page, "Actions for Bob", "the dialog gave focus back to the menu button");
    assert.equal(await control(ada.page, "Participants").getAttribute("aria-expanded"), "true");
    await waitForRemoteTiles(ada.page, 2, { names: ["Bob", "Cid"], who: "Ada" });

    // Lock.
    const panel = await openHostControls(ada.page);
    const lock = panel.getByRole("switch", { name: "Lock meeting" });
    assert.equal(await lock.getAttribute("aria-checked"), "false");
    await lock.click();
    await until(
      "the lock switch to show the server's locked room",
      async () => (await lock.getAttribute("aria-checked")) === "true",
      { timeoutMs: 10_000, describe: () => roomSeen(ada.page) },
    );
    await until(
      "Bob's core to see the room locked",
      async () => (await roomSeen(bob.page))?.locked,
    );
    w.log("Ada locked the meeting");

    const dan = await w.join("Dan", OFF, { expect: "ended" });
    await waitForPhase(dan.page, "ended", { end: "locked", who: "Dan" });
    await dan.page.getByRole("heading", { name: "This meeting is locked" }).waitFor();
    for (const p of [ada, bob, cid]) {
      assert.equal((await remoteTiles(p.page)).some((t) => t.label === "Dan"), false);
    }
    w.log("Dan got the locked screen; nobody saw him");
  },
  FILE,
);

meetingTest(
  "with the lobby on, a newcomer waits, the host sees their name and admits them into the full mesh",
  { devices: "none", timeoutMs: 240_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    await fullMesh([ada, bob]);
    const panel = await openHostControls(ada.page);
    const lobby = panel.getByRole("switch", { name: "Lobby" });
    await lobby.click();
    await until(
      "the lobby switch to show the server's lobby on",
      async () => (await lobby.getAttribute("aria-checked")) === "true",
      { timeoutMs: 10_000, describe: () => roomSeen(ada.page) },
    );

    const cid = await joinToLobby(w, "Cid");
    await cid.page.getByRole("heading", { name: "Waiting for a host to let you in" }).waitFor();
    await cid.page.getByText("Cid", { exact: true }).waitFor();
    await cid.page.getByRole("button", { name: "Leave" }).waitFor();

    const waiting = panel.getByRole("list", { name: "Waiting to join" });
    await waiting.getByText("Cid", { exact: true }).waitFor({ timeout: 20_000 });
    await until(
      'the Host controls button to say "1 waiting"',
      async () => /1 waiting/.test(await description(control(ada.page, "Host controls"))),
      { timeoutMs: 10_000 },
    );
    // Bob is no host: he neither sees the knock nor has the panel.
    assert.equal(await control(bob.page, "Host controls").count(), 0);
    assert.equal(await remoteTiles(bob.page).then((t) => t.length), 1);
    w.log("Ada sees Cid knocking");

    await assertAccessible(cid.page);
    await assertAccessible(ada.page);

    await waiting.getByRole("button", { name: "Admit Cid" }).click();
    await waitForPhase(cid.page, "joined", { who: "Cid", timeoutMs: 30_000 });
    await fullMesh([ada, bob, cid]);
    await until(
      "the waiting list to empty",
      async () => (await waiting.count()) === 0,
      { timeoutMs: 10_000 },
    );
    w.log("Cid was admitted and connected to everyone");

    // Someone turned away sees so, and nobody ever saw them.
    const dan = await joinToLobby(w, "Dan");
    await waiting.getByRole("button", { name: "Deny Dan" }).click();
    await waitForPhase(dan.page, "ended", { end: "denied", who: "Dan" });
    await dan.page.getByRole("heading", { name: "You weren't let in" }).waitFor();
    for (const p of [ada, bob, cid]) {
      assert.equal((await remoteTiles(p.page)).some((t) => t.label === "Dan"), false);
    }
    w.log("Dan was turned away");
  },
  FILE,
);

meetingTest(
  "a host's mute request turns the target's microphone off, and the target sees who did it",
  { devices: "fake", timeoutMs: 240_000 },
  async (w) => {
    const ada = await w.join("Ada", { mic: false, camera: false });
    const bob = await w.join("Bob", { mic: true, camera: false });
    await fullMesh([ada, bob]);
    assert.deepEqual(await micState(bob.page), { track: true, enabled: true, micOn: true });
    await until(
      "Ada to see Bob's microphone on",
      async () => (await tileOf(ada.page, "Bob").getAttribute("data-muted")) === "false",
    );

    await choosePersonAction(ada.page, "Bob", "Ask to mute");
    await until(
      "Bob's microphone track to be disabled, and his toolbar to show it off",
      async () => {
        const mic = await micState(bob.page);
        return mic.enabled === false && !mic.micOn &&
          (await control(bob.page, "Microphone").getAttribute("aria-pressed")) === "false";
      },
      { timeoutMs: 15_000, describe: () => micState(bob.page) },
    );
    await until(
      "Bob to be told Ada muted him",
      async () => (await toastTexts(bob.page)).some((t) => /Ada/.test(t) && /mute/i.test(t)),
      { timeoutMs: 10_000, intervalMs: 100, describe: () => toastTexts(bob.page) },
    );
    await until(
      "Ada to see Bob muted",
      async () => (await tileOf(ada.page, "Bob").getAttribute("data-muted")) === "true",
      { timeoutMs: 15_000 },
    );
    // Unmuting stays Bob's own choice.
    await control(bob.page, "Microphone").click();
    await until("Bob to unmute himself", async () => (await micState(bob.page)).micOn);
    assert.equal(await hostPanel(bob.page).count(), 0);
  },
  FILE,
);

meetingTest(
  "a host ends the meeting for everyone: all see who ended it, and the link no longer opens",
  { devices: "none", timeoutMs: 180_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    await fullMesh([ada, bob]);
    const panel = await openHostControls(ada.page);
    await panel.getByRole("button", { name: "End meeting for everyone" }).click();
    const dialog = ada.page.getByRole("dialog", { name: "End the meeting for everyone?" });
    await dialog.waitFor();
    assert.match(await dialog.textContent() ?? "", /can't be undone/);
    await assertAccessible(ada.page);
    await dialog.getByRole("button", { name: "End meeting", exact: true }).click();

    for (const p of [ada, bob]) {
      await waitForPhase(p.page, "ended", { end: "ended", who: p.name });
      await p.page.getByRole("heading", { name: "The host ended the meeting" }).waitFor();
      assert.equal(await p.page.getByRole("button", { name: "Rejoin" }).count(), 0);
      await p.page.getByRole("button", { name: "Start a new meeting" }).waitFor();
    }
    await bob.page.getByText("Ada ended the meeting for everyone.").waitFor();
    w.log("both pages show the meeting ended by Ada");

    // The pre-join screen knows before Join (the end screen is for a join that finds it ended).
    const cid = await w.open("Cid");
    await cid.page.goto(w.link);
    await cid.page.getByRole("status", { name: "Who's here" }).getByText("This meeting has ended")
      .waitFor({ timeout: 20_000 });
    assert.equal(await cid.page.getByRole("button", { name: "Join meeting" }).isDisabled(), true);
  },
  FILE,
);
