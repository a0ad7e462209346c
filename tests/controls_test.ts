/**
 * The meeting's controls in real headless Chromium (issue 12): focus goes back to what opened a
 * panel, popup, menu or dialog; Leave asks first; the keyboard shortcuts are listed and can be
 * turned off; on a phone the bar is one row with "More options" and panels leave the call in
 * view; raised hands toast, sound and lead the participants list; sounds and the unread count in
 * the tab's title. Data-only meetings (no camera, no microphone): media is not the point.
 * Selectors come from tests/MEETING_UI_CONTRACT.md.
 */
import assert from "node:assert/strict";
import type { Locator, Page } from "playwright-core";
import { axeViolations } from "./browser.ts";
import { openParticipants, participantsPanel } from "./host_harness.ts";
import {
  chatLog,
  chatPanel,
  confirmLeave,
  control,
  controls,
  join,
  meetingTest,
  type MeetingWorld,
  openChat,
  type Participant,
  phase,
  sendChat,
  tileOf,
  until,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/controls_test.ts";
const OFF = { mic: false, camera: false };
const TITLE = "Meeting · Mooz";

/** Whether `locator` is the page's focused element. */
async function hasFocus(locator: Locator): Promise<boolean> {
  return await locator.evaluate((el) => el === document.activeElement, undefined, {
    timeout: 5_000,
  });
}

/** What has focus, for failure messages. */
async function focusedThing(page: Page): Promise<string> {
  return await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return "body";
    return `${el.tagName.toLowerCase()}#${el.id} "${
      el.getAttribute("aria-label") ?? el.textContent
    }"`;
  });
}

/** Waits until `locator` has focus. */
async function waitForFocus(page: Page, locator: Locator, what: string): Promise<void> {
  await until(`focus on ${what}`, () => hasFocus(locator), {
    timeoutMs: 5_000,
    describe: () => focusedThing(page),
  });
}

/** Lets the page handle what it was sent and render (a frame and a task), to assert on absence. */
async function settle(page: Page): Promise<void> {
  await page.evaluate(() =>
    new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))
  );
}

/**
 * axe-core violations of every impact but "minor" (moderate included), but for the page's
 * missing level-one heading: the meeting screen's own (not the controls'), reported to its owner.
 */
async function assertAxeClean(page: Page, where: string): Promise<void> {
  const found = (await axeViolations(page)).filter((v) =>
    v.impact !== "minor" && v.id !== "page-has-heading-one"
  );
  assert.deepEqual(
    found.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target)}`),
    [],
    where,
  );
}

/** The names of the participants panel's rows, in order (the panel must be open). */
async function participantRows(page: Page): Promise<string[]> {
  return await participantsPanel(page).locator("li[data-peer]").evaluateAll((rows) =>
    rows.map((li) => li.querySelector("span span")?.textContent?.trim() ?? "")
  );
}

meetingTest(
  "desktop: closing a panel, popup or dialog gives focus back to its button; Leave asks first; " +
    "the shortcuts dialog lists every key and turns single keys off",
  { devices: "none" },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const page = ada.page;
    const chat = control(page, "Chat");
    const people = control(page, "Participants");

    // Chat: opened by its button, closed with Esc from its message box.
    await chat.click();
    await waitForFocus(page, chatPanel(page).getByRole("textbox", { name: "Message" }), "Message");
    await page.keyboard.press("Escape");
    await chatPanel(page).waitFor({ state: "detached" });
    await waitForFocus(page, chat, "Chat after Esc");
    // ... and with its close button.
    await chat.click();
    await chatPanel(page).getByRole("button", { name: "Close chat" }).click();
    await chatPanel(page).waitFor({ state: "detached" });
    await waitForFocus(page, chat, "Chat after its close button");
    w.log("chat: Esc and Close return focus to the Chat button");

    // Participants: its close button; then opened with P from nowhere and closed with Esc.
    await people.click();
    await participantsPanel(page).getByRole("button", { name: "Close participants" }).click();
    await waitForFocus(page, people, "Participants after its close button");
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press("p");
    await participantsPanel(page).waitFor();
    await page.keyboard.press("Escape");
    await participantsPanel(page).waitFor({ state: "detached" });
    await waitForFocus(page, people, "Participants after P, then Esc");
    w.log("participants: Close and Esc return focus to the Participants button");

    // Reactions: the picker's Esc.
    const reactions = control(page, "Reactions");
    await reactions.click();
    const picker = page.getByRole("group", { name: "Send a reaction" });
    await waitForFocus(page, picker.getByRole("button").first(), "the first reaction");
    await page.keyboard.press("Escape");
    await picker.waitFor({ state: "detached" });
    await waitForFocus(page, reactions, "Reactions after Esc");

    // Leave: Enter on a focused Leave asks first, with focus on the safe choice.
    const leave = control(page, "Leave meeting");
    assert.equal(await leave.getAttribute("aria-haspopup"), "dialog");
    const leaveDialog = page.getByRole("dialog", { name: "Leave the meeting?" });
    await leave.focus();
    await page.keyboard.press("Enter");
    await leaveDialog.waitFor();
    await waitForFocus(page, leaveDialog.getByRole("button", { name: "Cancel" }), "Cancel");
    assert.equal((await phase(page)).phase, "joined", "still in the meeting");
    await assertAxeClean(page, "with the leave dialog open");
    await page.keyboard.press("Escape");
    await leaveDialog.waitFor({ state: "detached" });
    await waitForFocus(page, leave, "Leave meeting after Esc");
    await leave.click();
    await leaveDialog.getByRole("button", { name: "Cancel" }).click();
    await waitForFocus(page, leave, "Leave meeting after Cancel");
    assert.equal((await phase(page)).phase, "joined", "still in the meeting");
    w.log("Leave asks first; Esc and Cancel keep the meeting and return focus to Leave");

    // Settings.
    const settings = control(page, "Settings");
    await settings.click();
    const settingsDialog = page.getByRole("dialog", { name: "Settings" });
    await settingsDialog.getByRole("button", { name: "Close" }).click();
    await settingsDialog.waitFor({ state: "detached" });
    await waitForFocus(page, settings, "Settings after Close");

    // "?" opens the shortcuts: the same keys and names as the bar's buttons, and no S.
    await settings.focus();
    await page.keyboard.press("?");
    const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await help.waitFor();
    const listed = await help.locator("tr[data-shortcut]").evaluateAll((rows) =>
      rows.map((r) =>
        `${r.getAttribute("data-shortcut")} ${
          (r as HTMLTableRowElement).cells[1].textContent?.trim()
        }`
      )
    );
    const fromBar = await controls(page).locator("button[aria-keyshortcuts]").evaluateAll((bs) =>
      bs.map((b) => `${b.getAttribute("aria-keyshortcuts")} ${b.getAttribute("aria-label")}`)
    );
    assert.deepEqual(listed.filter((l) => !l.startsWith("Esc ")), fromBar);
    assert.deepEqual(fromBar.sort(), [
      "? Keyboard shortcuts",
      "B Whiteboard",
      "C Chat",
      "H Raise hand",
      "M Microphone",
      "P Participants",
      "V Camera",
    ]);
    assert.ok(listed.some((l) => l.startsWith("Esc ")), "Esc is listed");
    assert.equal(await control(page, "Share screen").getAttribute("aria-keyshortcuts"), null);
    assert.match(await help.textContent() ?? "", /Share screen has no key/);
    await assertAxeClean(page, "with the shortcuts dialog open");

    // The switch turns single keys off, for good (stored), and the hints go with them.
    const toggle = help.getByRole("switch", { name: "Single-key shortcuts" });
    assert.equal(await toggle.getAttribute("aria-checked"), "true");
    await toggle.click();
    assert.equal(await toggle.getAttribute("aria-checked"), "false");
    assert.equal(await page.evaluate(() => localStorage.getItem("mooz:pref:shortcuts")), "false");
    await page.keyboard.press("Escape");
    await help.waitFor({ state: "detached" });
    await waitForFocus(page, settings, "Settings, which had focus when ? was pressed");
    w.log("? lists the bar's keys; the switch turned them off");

    const hand = control(page, "Raise hand");
    assert.equal(await controls(page).locator("button[aria-keyshortcuts]").count(), 0);
    assert.equal(await hand.getAttribute("title"), "Raise hand");
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    for (const key of ["h", "c", "p", "?"]) await page.keyboard.press(key);
    await settle(page);
    assert.equal(await hand.getAttribute("aria-pressed"), "false", "H did nothing");
    assert.equal(await chatPanel(page).count(), 0, "C did nothing");
    assert.equal(await participantsPanel(page).count(), 0, "P did nothing");
    assert.equal(await help.count(), 0, "? did nothing");
    w.log("with single keys off, H, C, P and ? do nothing");

    // Back on from the bar's button; Close returns focus to it.
    const shortcutsButton = control(page, "Keyboard shortcuts");
    await shortcutsButton.click();
    await help.getByRole("switch", { name: "Single-key shortcuts" }).click();
    await help.getByRole("button", { name: "Close" }).click();
    await waitForFocus(page, shortcutsButton, "Keyboard shortcuts after Close");
    await page.keyboard.press("h");
    await until(
      "H to raise the hand",
      async () => await hand.getAttribute("aria-pressed") === "true",
    );
    assert.equal(await hand.getAttribute("aria-keyshortcuts"), "H");
    assert.equal(await hand.getAttribute("title"), "Raise hand (H)");

    await control(page, "Leave meeting").click();
    await confirmLeave(page);
    await waitForPhase(page, "ended", { end: "left", who: "Ada" });
    w.log("on again; and Leave, confirmed, leaves");
  },
  FILE,
);

meetingTest(
  "phone (390×844): one row of controls with More options, a menu with the rest, panels that " +
    "leave the call in view, focus back on More options",
  { devices: "none" },
  async (w) => {
    const ada = await w.open("Ada");
    const page = ada.page;
    await page.setViewportSize({ width: 390, height: 844 });
    await join(page, w.origin, w.room, "Ada", OFF);
    await until("Ada to be host", () =>
      page.evaluate(() =>
        // deno-lint-ignore no-explicit-any -- the debug hook the contract documents
        (globalThis as any).__mooz.meeting.room.isHost.value === true
      ));

    // One row: every button at the same height, all inside the screen's width.
    const bar = controls(page);
    const boxes = await bar.getByRole("button").evaluateAll((buttons) =>
      buttons.map((b) => {
        const r = b.getBoundingClientRect();
        return { name: b.getAttribute("aria-label"), top: r.top, left: r.left, right: r.right };
      })
    );
    assert.deepEqual(boxes.map((b) => b.name), [
      "Microphone",
      "Camera",
      "More options",
      "Leave meeting",
    ]);
    for (const b of boxes) {
      assert.ok(Math.abs(b.top - boxes[0].top) < 1, `${b.name} on the first row: ${b.top}`);
      assert.ok(b.left >= 0 && b.right <= 390, `${b.name} inside the screen: ${b.left}-${b.right}`);
    }
    const barBox = await bar.evaluate((el) => ({
      width: el.scrollWidth,
      right: el.getBoundingClientRect().right,
    }));
    assert.ok(
      barBox.width <= 390 && barBox.right <= 390,
      `the bar fits: ${JSON.stringify(barBox)}`,
    );
    w.log(`one row: ${boxes.map((b) => `${b.name}@${Math.round(b.left)}`).join(", ")}`);

    // The menu, from the keyboard: Enter opens it on its first item, arrows move, Esc closes.
    const more = control(page, "More options");
    const menu = page.getByRole("menu", { name: "More options" });
    await more.focus();
    await page.keyboard.press("Enter");
    await menu.waitFor();
    const items = menu.locator('[role="menuitem"], [role="menuitemcheckbox"]');
    const names = await items.evaluateAll((els) => els.map((e) => e.textContent?.trim() ?? ""));
    for (
      const want of [
        "Raise hand",
        "Reactions",
        "Chat",
        "Host controls",
        "Participants",
        "Copy invite link",
        "Settings",
        "Keyboard shortcuts",
      ]
    ) {
      assert.ok(names.some((n) => n.startsWith(want)), `"${want}" in the menu: ${names}`);
    }
    assert.equal(
      await menu.getByRole("menuitemcheckbox", { name: /^Raise hand/ }).getAttribute(
        "aria-checked",
      ),
      "false",
    );
    await waitForFocus(page, items.first(), "the first item");
    await page.keyboard.press("ArrowDown");
    await waitForFocus(page, items.nth(1), "the second item");
    await page.keyboard.press("End");
    await waitForFocus(page, items.last(), "the last item");
    await page.keyboard.press("ArrowDown");
    await waitForFocus(page, items.first(), "the first item again (wrapping)");
    const menuBox = await menu.boundingBox();
    assert.ok(menuBox && menuBox.x >= 0 && menuBox.x + menuBox.width <= 390, "menu on screen");
    await assertAxeClean(page, "phone, More options open");
    await page.keyboard.press("Escape");
    await menu.waitFor({ state: "detached" });
    await waitForFocus(page, more, "More options after Esc");
    w.log(`the menu: ${names.join(" | ")}`);

    const choose = async (name: RegExp) => {
      await more.click();
      await menu.getByRole("menuitem", { name }).or(menu.getByRole("menuitemcheckbox", { name }))
        .click();
    };

    // Chat opens as a sheet over the lower part: the call stays in view above it.
    await choose(/^Chat/);
    const sheet = chatPanel(page);
    await sheet.waitFor();
    const sheetBox = (await sheet.boundingBox())!;
    const video = (await page.getByRole("region", { name: "Participants' video" }).boundingBox())!;
    assert.ok(sheetBox.y >= 844 * 0.25, `the chat leaves the top of the screen: ${sheetBox.y}`);
    assert.ok(video.y + 100 < sheetBox.y, `the call shows above the chat: ${video.y}`);
    assert.ok(sheetBox.x >= 0 && sheetBox.x + sheetBox.width <= 390, "the chat fits the width");
    const closeChat = sheet.getByRole("button", { name: "Close chat" });
    const closeBox = (await closeChat.boundingBox())!;
    assert.ok(closeBox.y >= 0 && closeBox.y + closeBox.height <= 844, "its close button shows");
    await assertAxeClean(page, "phone, chat open");
    await page.keyboard.press("Escape");
    await sheet.waitFor({ state: "detached" });
    await waitForFocus(page, more, "More options after closing the chat");

    await choose(/^Participants/);
    await participantsPanel(page).getByRole("button", { name: "Close participants" }).click();
    await waitForFocus(page, more, "More options after closing the participants");

    await choose(/^Reactions/);
    const picker = page.getByRole("group", { name: "Send a reaction" });
    await waitForFocus(page, picker.getByRole("button").first(), "the first reaction");
    const pickerBox = (await picker.boundingBox())!;
    assert.ok(pickerBox.x >= 0 && pickerBox.x + pickerBox.width <= 390, "the picker fits");
    await page.keyboard.press("Escape");
    await waitForFocus(page, more, "More options after closing the reactions");

    await choose(/^Settings/);
    await page.getByRole("dialog", { name: "Settings" }).waitFor();
    await page.keyboard.press("Escape");
    await waitForFocus(page, more, "More options after closing the settings");

    await choose(/^Keyboard shortcuts/);
    const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await help.getByRole("button", { name: "Close" }).click();
    await waitForFocus(page, more, "More options after closing the shortcuts");

    await choose(/^Raise hand/);
    await until(
      "the hand to be up",
      async () => await tileOf(page, "Ada (you)").getByText("Hand raised").count() === 1,
    );
    w.log("chat, participants, reactions, settings, shortcuts and raise hand from the menu");
  },
  FILE,
);

/** What `LISTEN_FOR_TONES` records on the page: each sound's first note (Hz) and when. */
type Heard = { __tones: { f: number; at: number }[] };

/** Records the first note of every sound the page plays (sounds.ts TONES) with its time. */
const LISTEN_FOR_TONES = () => {
  const start = OscillatorNode.prototype.start;
  const tones: Heard["__tones"] = [];
  (globalThis as unknown as Heard).__tones = tones;
  OscillatorNode.prototype.start = function (...args: [number?]) {
    tones.push({ f: this.frequency.value, at: performance.now() });
    return start.apply(this, args);
  };
};

const JOIN_TONE = 587;
const LEAVE_TONE = 880;
const MESSAGE_TONE = 1047;
const HAND_TONE = 784;

async function tonesOf(p: Participant): Promise<number[]> {
  return await p.page.evaluate(() =>
    (globalThis as unknown as Heard).__tones.map((t: { f: number }) => t.f)
  );
}

async function waitForTone(p: Participant, tone: number, what: string): Promise<void> {
  await until(
    `${p.name}'s page to play the ${what} sound`,
    async () => (await tonesOf(p)).includes(tone),
    { timeoutMs: 15_000, describe: () => tonesOf(p) },
  );
}

/** Opens a participant whose page records its sounds, with sounds on or off, and joins. */
async function joinListening(w: MeetingWorld, name: string, sounds = true): Promise<Participant> {
  const p = await w.open(name);
  await p.page.addInitScript(LISTEN_FOR_TONES);
  if (!sounds) {
    await p.page.addInitScript(() => localStorage.setItem("mooz:pref:sounds", "false"));
  }
  await join(p.page, w.origin, w.room, name, OFF);
  w.log(`${name} joined (sounds ${sounds ? "on" : "off"})`);
  return p;
}

meetingTest(
  "raised hands: a toast and a sound for the others, first in the participants list in the " +
    "order raised; sounds for joins, leaves and messages, never our own; unread in the title",
  { devices: "none", timeoutMs: 150_000 },
  async (w) => {
    const ada = await joinListening(w, "Ada");
    const bob = await joinListening(w, "Bob");
    const cy = await joinListening(w, "Cy", false);
    const all = [ada, bob, cy];
    await Promise.all(all.map((p) =>
      waitForRemoteTiles(p.page, 2, {
        names: all.filter((o) => o !== p).map((o) => o.name),
        who: p.name,
        timeoutMs: 45_000,
      })
    ));
    await waitForTone(ada, JOIN_TONE, "join");
    await waitForTone(bob, JOIN_TONE, "join");
    w.log("Ada and Bob heard the others join");

    // Bob raises his hand: Ada and Cy are told, Ada hears it; Bob is not told of his own.
    await control(bob.page, "Raise hand").click();
    for (const p of [ada, cy]) {
      await p.page.getByText("Bob raised their hand").waitFor({ timeout: 15_000 });
    }
    await waitForTone(ada, HAND_TONE, "raised hand");
    assert.equal(await bob.page.getByText("Bob raised their hand").count(), 0);
    assert.ok(!(await tonesOf(bob)).includes(HAND_TONE), "no sound for our own hand");
    w.log("Bob's hand: a toast for Ada and Cy, a sound for Ada only");

    const handUp = (p: Participant, name: string) =>
      until(
        `${name}'s hand on ${p.name}'s page`,
        async () =>
          await tileOf(p.page, name).getByText("Hand raised", { exact: true }).count() === 1,
      );
    await control(cy.page, "Raise hand").click();
    await handUp(ada, "Cy");
    await handUp(bob, "Cy");
    await control(ada.page, "Raise hand").click();
    await handUp(bob, "Ada");

    await openParticipants(ada.page);
    await openParticipants(bob.page);
    const order = (p: Participant, want: string[]) =>
      until(
        `${p.name}'s participants in the order ${want.join(", ")}`,
        async () => JSON.stringify(await participantRows(p.page)) === JSON.stringify(want),
        {
          timeoutMs: 10_000,
          describe: () => participantRows(p.page),
        },
      );
    await order(ada, ["Bob", "Cy", "Ada (you)"]);
    await order(bob, ["Bob (you)", "Cy", "Ada"]);
    // Ourselves said once: "(you)", and no other "You" in our row.
    const ownRow = participantsPanel(ada.page).locator('li[data-peer="self"]');
    assert.doesNotMatch(await ownRow.textContent() ?? "", /\bYou\b/);
    await control(bob.page, "Raise hand").click();
    await order(ada, ["Cy", "Ada (you)", "Bob"]);
    w.log("raised hands lead the list in the order raised; a lowered one goes back");

    // Two messages from Bob: the count in Ada's title and a sound; nothing on Bob's page.
    await sendChat(bob.page, "First");
    await sendChat(bob.page, "Second");
    await until(
      "Ada's title to count 2 unread",
      async () => await ada.page.title() === `(2) ${TITLE}`,
      { describe: () => ada.page.title() },
    );
    await waitForTone(ada, MESSAGE_TONE, "message");
    assert.equal(await bob.page.title(), TITLE);
    assert.ok(!(await tonesOf(bob)).includes(MESSAGE_TONE), "no sound for our own messages");
    await openChat(ada.page);
    await until("Ada's title to drop the count", async () => await ada.page.title() === TITLE);
    w.log("Ada's title said (2) until she opened the chat");

    // With the chat open, a message makes no sound: it is in view. (After the sounds' gap, so
    // that the gap cannot be what kept it quiet.)
    await until("the message sound's gap to pass", () =>
      ada.page.evaluate(() =>
        performance.now() -
            Math.max(...(globalThis as unknown as Heard).__tones.map((t: { at: number }) => t.at)) >
          1_600
      ), { intervalMs: 250 });
    const heard = (await tonesOf(ada)).filter((f) => f === MESSAGE_TONE).length;
    await sendChat(bob.page, "Third");
    await until(
      "Ada to see the third message",
      async () => (await chatLog(ada.page)).some((m) => m.text.includes("Third")),
    );
    await settle(ada.page);
    assert.equal((await tonesOf(ada)).filter((f) => f === MESSAGE_TONE).length, heard);
    assert.equal(await ada.page.title(), TITLE);

    // Cy turned sounds off: she heard nothing at all, though she saw the toasts.
    assert.deepEqual(await tonesOf(cy), []);

    await control(cy.page, "Leave meeting").click();
    await confirmLeave(cy.page);
    await waitForTone(ada, LEAVE_TONE, "leave");
    w.log("Cy, with sounds off, heard nothing; her leaving sounded on Ada's page");
  },
  FILE,
);
