/**
 * The settings dialog and the device pickers in real headless Chromium with fake devices: the
 * pre-join pickers with the camera off, with permission refused and without devices; the dialog's
 * keyboard use, accessibility and preferences; and, in a 2-person call, switching the microphone
 * and noise suppression on the live link (RTCRtpSender.replaceTrack, no renegotiation) while the
 * other side keeps receiving audio. Selectors come from tests/MEETING_UI_CONTRACT.md.
 */
import assert from "node:assert/strict";
import type { Locator, Page } from "playwright-core";
import { meetingLink, newMeetingKey } from "../mesh/meeting_key.ts";
import { newRoomId } from "../signaling/room_id.ts";
import {
  assertAccessible,
  assertNoErrors,
  type AxeViolation,
  axeViolations,
  withPage,
} from "./browser.ts";
import {
  audioFlows,
  control,
  fillPreJoin,
  join,
  meetingTest,
  type Participant,
  tileOf,
  until,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

/** Fake devices granted without a prompt, with two cameras (microphones are three already). */
const TWO_CAMERAS = [
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream=device-count=2",
];

interface TrackState {
  id: string;
  deviceId: string | undefined;
  label: string;
  enabled: boolean;
  noiseSuppression: boolean | undefined;
}

/** The page's local tracks as the meeting core holds them (`__mooz.meeting.media`). */
async function localTracks(
  page: Page,
): Promise<{ audio: TrackState | null; video: TrackState | null; micOn: boolean }> {
  return await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any -- the debug hook the contract documents
    const media = (globalThis as any).__mooz.meeting.media;
    const state = (t: MediaStreamTrack | null) =>
      t && {
        id: t.id,
        deviceId: t.getSettings().deviceId,
        label: t.label,
        enabled: t.enabled,
        noiseSuppression: t.getSettings().noiseSuppression,
      };
    return {
      audio: state(media.audio.value),
      video: state(media.video.value),
      micOn: media.micOn.value,
    };
  });
}

/** The options of a select: value and text, and which is selected. */
async function options(
  select: Locator,
): Promise<{ value: string; text: string; selected: boolean }[]> {
  return await select.evaluate((el) =>
    [...(el as HTMLSelectElement).options].map((o) => ({
      value: o.value,
      text: o.text,
      selected: o.selected,
    }))
  );
}

/** The text of the option a select shows. */
async function shown(select: Locator): Promise<string> {
  return await select.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.text ?? "");
}

/** Chooses the option whose text is `text`; returns its value (the device id). */
async function choose(select: Locator, text: string): Promise<string> {
  const option = (await options(select)).find((o) => o.text === text);
  assert.ok(option, `no option "${text}" in ${JSON.stringify(await options(select))}`);
  await select.selectOption(option.value);
  return option.value;
}

function settingsDialog(page: Page): Locator {
  return page.getByRole("dialog", { name: "Settings" });
}

/** Opens the settings from the toolbar and waits until the dialog has focus inside it. */
async function openSettings(page: Page): Promise<Locator> {
  await control(page, "Settings").click();
  const dialog = settingsDialog(page);
  await dialog.waitFor();
  await until(
    "focus inside the settings dialog",
    () => page.evaluate(() => !!document.activeElement?.closest("dialog")),
  );
  return dialog;
}

/** What has focus: its role-ish description, for assertions and messages. */
async function focused(page: Page): Promise<{ inDialog: boolean; label: string }> {
  return await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    const labelledBy = el?.getAttribute("aria-labelledby");
    const label = el?.getAttribute("aria-label") ??
      (labelledBy ? document.getElementById(labelledBy)?.textContent : null) ??
      (el && "labels" in el ? (el as HTMLInputElement).labels?.[0]?.textContent : null) ??
      el?.textContent ?? "";
    return { inDialog: !!el?.closest("dialog"), label: label.trim() };
  });
}

/** Every axe violation of any impact (moderate and minor too) in the elements `selectors` name. */
async function violationsIn(page: Page, ...selectors: string[]): Promise<string[]> {
  await axeViolations(page); // loads axe-core into the page
  const { violations } = await page.evaluate(
    (include) =>
      // deno-lint-ignore no-explicit-any -- axe is a global the call above installed
      (globalThis as any).axe.run({ include }, { resultTypes: ["violations"] }),
    selectors.map((s) => [s]),
  ) as {
    violations: AxeViolation[];
  };
  return violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}): ${v.help} at ${n.target.join(" ")}`)
  );
}

Deno.test("pre-join: the pickers list devices with the camera off, and what is chosen there is used in the meeting", async () => {
  await withPage(
    async (page, origin, errors) => {
      await page.goto(meetingLink(origin, newRoomId(), newMeetingKey()));
      await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
        .waitFor();
      const mic = page.getByRole("combobox", { name: "Microphone device" });
      const camera = page.getByRole("combobox", { name: "Camera device" });
      assert.deepEqual(
        (await options(camera)).map((o) => o.text),
        ["fake_device_0", "fake_device_1"],
      );
      assert.equal(await shown(camera), "fake_device_0");

      // Camera off: the picker still lists the cameras and shows the one it was using.
      await page.getByRole("button", { name: "Camera", exact: true }).click();
      await until("the camera to turn off", async () => (await localTracks(page)).video === null);
      assert.equal(await shown(camera), "fake_device_0");
      assert.equal(await camera.isEnabled(), true);
      // Choosing another camera while it is off keeps it off, and it comes back on with that one.
      const second = await choose(camera, "fake_device_1");
      assert.equal(
        await page.getByRole("button", { name: "Camera", exact: true }).getAttribute(
          "aria-pressed",
        ),
        "false",
      );
      assert.equal((await localTracks(page)).video, null, "choosing a camera turned it on");
      assert.equal(await shown(camera), "fake_device_1");
      await page.getByRole("button", { name: "Camera", exact: true }).click();
      await until(
        "the second camera to come on",
        async () => (await localTracks(page)).video?.deviceId === second,
      );

      // Another microphone, chosen before joining, is the one in the meeting.
      const input2 = await choose(mic, "Fake Audio Input 2");
      await until(
        "the microphone to switch before joining",
        async () => (await localTracks(page)).audio?.deviceId === input2,
      );
      await page.getByLabel("Your name").fill("Ada");
      await page.getByRole("button", { name: "Join meeting" }).click();
      await page.locator("main[data-phase=joined]").waitFor();
      const inMeeting = await localTracks(page);
      assert.equal(inMeeting.audio?.deviceId, input2);
      assert.equal(inMeeting.video?.deviceId, second);
      const dialog = await openSettings(page);
      assert.equal(
        await shown(dialog.getByRole("combobox", { name: "Microphone" })),
        "Fake Audio Input 2",
      );
      assert.equal(await shown(dialog.getByRole("combobox", { name: "Camera" })), "fake_device_1");
      assertNoErrors(errors);
    },
    undefined,
    TWO_CAMERAS,
  );
});

Deno.test("pre-join: with camera and microphone blocked, the pickers say so instead of going blank", async () => {
  // Fake devices exist, but without the fake prompt headless Chromium refuses the permission.
  await withPage(
    async (page, origin) => {
      await page.goto(meetingLink(origin, newRoomId(), newMeetingKey()));
      await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
        .waitFor();
      for (
        const [name, noun] of [["Microphone device", "Microphone"], ["Camera device", "Camera"]]
      ) {
        const select = page.getByRole("combobox", { name });
        assert.equal(await shown(select), "Blocked");
        assert.equal(await select.isDisabled(), true);
        const message = `${noun} blocked — allow it in the browser's site settings`;
        await page.getByText(message, { exact: true }).waitFor();
        assert.match(
          await select.evaluate((el) =>
            document.getElementById(el.getAttribute("aria-describedby") ?? "")?.textContent ?? ""
          ),
          new RegExp(`^${noun} blocked`),
          `the ${noun} picker is described by its message`,
        );
      }
      await assertAccessible(page);
      const pickers = ["#prejoin-audio-device", "#prejoin-video-device"];
      assert.deepEqual(
        await violationsIn(page, ...pickers, ...pickers.map((id) => `${id}-problem`)),
        [],
      );
    },
    undefined,
    ["--use-fake-device-for-media-stream"],
  );
});

Deno.test("pre-join: the microphone allowed and the camera blocked: one lists, the other says why", async () => {
  await withPage(
    async (page, origin) => {
      await page.context().grantPermissions(["microphone"], { origin });
      await page.goto(meetingLink(origin, newRoomId(), newMeetingKey()));
      await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
        .waitFor();
      const mic = page.getByRole("combobox", { name: "Microphone device" });
      assert.deepEqual((await options(mic)).map((o) => o.text), [
        "Fake Default Audio Input",
        "Fake Audio Input 1",
        "Fake Audio Input 2",
      ]);
      assert.equal(await mic.isEnabled(), true);
      const camera = page.getByRole("combobox", { name: "Camera device" });
      assert.equal(await shown(camera), "Blocked");
      await page.getByText("Camera blocked — allow it in the browser's site settings").waitFor();
    },
    undefined,
    ["--use-fake-device-for-media-stream"],
  );
});

Deno.test("pre-join: without any camera or microphone the pickers say none was found", async () => {
  await withPage(async (page, origin) => {
    await page.context().grantPermissions(["camera", "microphone"], { origin });
    await page.goto(meetingLink(origin, newRoomId(), newMeetingKey()));
    await page.getByRole("button", { name: "Join meeting" }).and(page.locator(":enabled"))
      .waitFor();
    for (
      const [name, message] of [
        ["Microphone device", "No microphone found"],
        ["Camera device", "No camera found"],
      ]
    ) {
      const select = page.getByRole("combobox", { name });
      assert.equal(await shown(select), "None found");
      await page.getByText(message, { exact: true }).waitFor();
    }
  });
});

Deno.test("settings dialog: modal, keyboard usable, axe clean; its switches and layout are kept as preferences", async () => {
  await withPage(
    async (page, origin, errors) => {
      await page.goto(meetingLink(origin, newRoomId(), newMeetingKey()));
      await fillPreJoin(page, "Ada", { mic: true, camera: true });
      await page.getByRole("button", { name: "Join meeting" }).click();
      await page.locator("main[data-phase=joined]").waitFor();

      const opener = control(page, "Settings");
      await opener.focus();
      await page.keyboard.press("Enter");
      const dialog = settingsDialog(page);
      await dialog.waitFor();
      assert.equal(await dialog.getAttribute("aria-modal"), "true");
      // Focus starts on the first setting, the microphone.
      await until(
        "focus on the Microphone picker",
        async () => (await focused(page)).label === "Microphone",
      );
      for (const name of ["Audio", "Video", "General"]) {
        await dialog.getByRole("heading", { name, exact: true }).waitFor();
      }
      for (
        const [role, name] of [
          ["combobox", "Microphone"],
          ["meter", "Microphone level"],
          ["combobox", "Speaker"],
          ["button", "Play test sound"],
          ["switch", "Noise suppression"],
          ["combobox", "Camera"],
          ["switch", "Hide self view"],
          ["switch", "Sounds"],
          ["switch", "Single-key shortcuts"],
          ["radiogroup", "Layout"],
          ["radio", "Grid"],
          ["radio", "Speaker"],
          ["button", "Close settings"],
        ] as const
      ) {
        assert.equal(
          await dialog.getByRole(role, { name, exact: true }).count(),
          1,
          `${role} ${name}`,
        );
      }
      // The level moves with the fake microphone's beeps.
      await until("the microphone level to move", async () =>
        Number(
          await dialog.getByRole("meter", { name: "Microphone level" }).getAttribute(
            "aria-valuenow",
          ),
        ) > 0, { timeoutMs: 10_000 });

      assert.deepEqual(await violationsIn(page, "dialog"), []);
      await assertAccessible(page);

      // Tab and Shift+Tab stay inside: a full round comes back to the start.
      const start = await focused(page);
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press("Tab");
        const now = await focused(page);
        assert.ok(now.inDialog, `Tab left the dialog for "${now.label}"`);
        seen.add(now.label);
        if (now.label === start.label) break;
      }
      assert.equal((await focused(page)).label, start.label, "Tab went round the dialog");
      for (const name of ["Close settings", "Noise suppression", "Grid", "Camera"]) {
        assert.ok(seen.has(name), `Tab never reached ${name}: ${[...seen].join(", ")}`);
      }
      await page.keyboard.press("Shift+Tab");
      assert.ok((await focused(page)).inDialog, "Shift+Tab left the dialog");

      // Switches and the layout, by keyboard; each is stored as the person's preference.
      const stored = (name: string) =>
        page.evaluate((n) => localStorage.getItem(`mooz:pref:${n}`), name);
      for (
        const [name, pref] of [
          ["Hide self view", "hideSelfView"],
          ["Sounds", "sounds"],
          ["Single-key shortcuts", "shortcuts"],
        ] as const
      ) {
        const sw = dialog.getByRole("switch", { name, exact: true });
        const before = await sw.getAttribute("aria-checked");
        await sw.focus();
        await page.keyboard.press("Space");
        const after = String(before !== "true");
        await until(
          `${name} to turn ${after}`,
          async () => await sw.getAttribute("aria-checked") === after,
        );
        assert.equal(await stored(pref), after);
      }
      const grid = dialog.getByRole("radio", { name: "Grid" });
      assert.equal(await grid.isChecked(), true);
      await grid.focus();
      await page.keyboard.press("ArrowDown");
      await until("the layout to be speaker", async () => await stored("layout") === '"speaker"');
      assert.equal(await dialog.getByRole("radio", { name: "Speaker" }).isChecked(), true);

      // A chosen speaker plays the test sound there.
      const speaker = dialog.getByRole("combobox", { name: "Speaker" });
      const output1 = await choose(speaker, "Fake Audio Output 1");
      await dialog.getByRole("button", { name: "Play test sound" }).click();
      await dialog.getByText("Test sound played", { exact: false }).waitFor();
      assert.equal(
        await dialog.locator("audio[data-test-sound]").evaluate((el) =>
          (el as HTMLAudioElement).sinkId
        ),
        output1,
      );

      // The camera switches while on, and stays off when switched while off.
      const camera = dialog.getByRole("combobox", { name: "Camera" });
      const cam1 = await choose(camera, "fake_device_1");
      await until(
        "the camera to switch",
        async () => (await localTracks(page)).video?.deviceId === cam1,
      );
      await control(page, "Camera").evaluate((el) => (el as HTMLButtonElement).click());
      await until("the camera to turn off", async () => (await localTracks(page)).video === null);
      await choose(camera, "fake_device_0");
      assert.equal((await localTracks(page)).video, null, "switching turned the camera on");
      await dialog.getByRole("img", { name: "Camera preview" }).waitFor();

      // Esc closes it, and focus is back on the Settings button.
      await dialog.getByRole("switch", { name: "Sounds" }).focus();
      await page.keyboard.press("Escape");
      await settingsDialog(page).waitFor({ state: "detached" });
      assert.equal((await focused(page)).label, "Settings");
      // The page's Esc (closing a side panel) did not act on the dialog's Esc; nothing else moved.
      assert.equal(await page.locator("main[data-phase=joined]").count(), 1);
      assertNoErrors(errors);
    },
    undefined,
    TWO_CAMERAS,
  );
});

/** Records the page's RTCPeerConnections, and how often each one negotiated, from the start. */
async function recordPeerConnections(p: Participant): Promise<void> {
  await p.page.addInitScript(() => {
    const Native = RTCPeerConnection;
    const pcs: { pc: RTCPeerConnection; offers: number }[] = [];
    (globalThis as unknown as { __pcs: typeof pcs }).__pcs = pcs;
    globalThis.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        const entry = { pc: this as RTCPeerConnection, offers: 0 };
        pcs.push(entry);
        // Every negotiation, whichever side offers, passes through one of these.
        this.addEventListener("signalingstatechange", () => {
          if (this.signalingState !== "stable") entry.offers++;
        });
      }
    };
  });
}

/**
 * Each recorded connection that is connected: how often it negotiated, and the track its audio
 * sender sends (the id, or null).
 */
async function links(page: Page): Promise<{ offers: number; audioTrack: string | null }[]> {
  return await page.evaluate(() =>
    (globalThis as unknown as { __pcs: { pc: RTCPeerConnection; offers: number }[] }).__pcs
      .filter(({ pc }) => pc.connectionState === "connected")
      .map(({ pc, offers }) => ({
        offers,
        audioTrack: pc.getTransceivers().find((t) =>
          t.receiver.track.kind === "audio" && t.sender.track !== null
        )?.sender.track?.id ?? null,
      }))
  );
}

meetingTest(
  "settings in a call: switching the microphone and noise suppression replace the track on the link without renegotiation, and the speaker moves every audio element",
  { timeoutMs: 150_000 },
  async (w) => {
    const audioOnly = { mic: true, camera: false };
    const [ada, bob] = [await w.open("Ada"), await w.open("Bob")];
    await recordPeerConnections(ada);
    await recordPeerConnections(bob);
    await join(ada.page, w.origin, w.room, "Ada", audioOnly);
    await join(bob.page, w.origin, w.room, "Bob", audioOnly);
    await waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" });
    await waitForRemoteTiles(bob.page, 1, { names: ["Ada"], who: "Bob" });
    await audioFlows(bob.page, { peers: 1, who: "Bob" });
    const before = await localTracks(ada.page);
    const [adaLink] = await until("Ada's link to be connected", async () => {
      const l = await links(ada.page);
      return l.length === 1 ? l : undefined;
    });
    assert.equal(adaLink.audioTrack, before.audio?.id, "Ada sends her microphone");
    const negotiations =
      async () => [(await links(ada.page))[0]?.offers, (await links(bob.page))[0]?.offers];
    const negotiated = await negotiations();
    w.log(`call up; Ada's microphone ${before.audio?.label}, negotiations ${negotiated}`);

    const dialog = await openSettings(ada.page);
    const mic = dialog.getByRole("combobox", { name: "Microphone" });
    assert.equal(await shown(mic), before.audio?.label);
    const input1 = await choose(mic, "Fake Audio Input 1");
    const switched = await until("Ada's microphone to be Fake Audio Input 1", async () => {
      const now = await localTracks(ada.page);
      return now.audio?.deviceId === input1 ? now : undefined;
    });
    assert.notEqual(switched.audio?.id, before.audio?.id, "a new track");
    assert.equal(switched.micOn, true);
    await until(
      "Ada's link to send the new track",
      async () => (await links(ada.page))[0]?.audioTrack === switched.audio?.id,
    );
    await audioFlows(bob.page, { peers: 1, who: "Bob, after Ada switched microphones" });
    w.log("microphone switched; Bob still receives Ada's audio");

    // Muted, a switch stays muted: the new track is sent disabled, Bob still sees Ada muted.
    await control(ada.page, "Microphone").evaluate((el) => (el as HTMLButtonElement).click());
    await until(
      "Bob to see Ada muted",
      async () => await tileOf(bob.page, "Ada").getAttribute("data-muted") === "true",
    );
    const input2 = await choose(mic, "Fake Audio Input 2");
    const muted = await until("Ada's microphone to be Fake Audio Input 2", async () => {
      const now = await localTracks(ada.page);
      return now.audio?.deviceId === input2 ? now : undefined;
    });
    assert.equal(muted.audio?.enabled, false, "the new microphone is muted");
    assert.equal(muted.micOn, false);
    assert.equal(await control(ada.page, "Microphone").getAttribute("aria-pressed"), "false");
    assert.equal(await tileOf(bob.page, "Ada").getAttribute("data-muted"), "true");
    await control(ada.page, "Microphone").evaluate((el) => (el as HTMLButtonElement).click());
    await until(
      "Bob to see Ada unmuted",
      async () => await tileOf(bob.page, "Ada").getAttribute("data-muted") === "false",
    );

    // Noise suppression follows the switch on the live microphone, and sound goes on.
    const noise = dialog.getByRole("switch", { name: "Noise suppression" });
    assert.equal(await noise.getAttribute("aria-checked"), "true");
    assert.equal((await localTracks(ada.page)).audio?.noiseSuppression, true);
    await noise.click();
    const plain = await until("Ada's microphone without noise suppression", async () => {
      const now = await localTracks(ada.page);
      return now.audio?.noiseSuppression === false ? now : undefined;
    });
    assert.equal(plain.audio?.deviceId, input2, "the same microphone");
    assert.equal(
      await ada.page.evaluate(() => localStorage.getItem("mooz:pref:noiseSuppression")),
      "false",
    );
    await until(
      "Ada's link to send that track",
      async () => (await links(ada.page))[0]?.audioTrack === plain.audio?.id,
    );
    await audioFlows(bob.page, { peers: 1, who: "Bob, with Ada's noise suppression off" });
    await noise.click();
    await until(
      "Ada's microphone with noise suppression again",
      async () => (await localTracks(ada.page)).audio?.noiseSuppression === true,
    );

    // The speaker: Bob's sound on Ada's page moves to the chosen output.
    const output2 = await choose(
      dialog.getByRole("combobox", { name: "Speaker" }),
      "Fake Audio Output 2",
    );
    await until("Ada's audio elements to play on Fake Audio Output 2", async () => {
      const sinks = await ada.page.locator("audio:not([data-test-sound])").evaluateAll((els) =>
        els.map((el) => (el as HTMLAudioElement).sinkId)
      );
      return sinks.length > 0 && sinks.every((s) => s === output2);
    });
    await audioFlows(bob.page, { peers: 1, who: "Bob, at the end" });

    // None of it renegotiated: the tracks were replaced on the senders.
    assert.deepEqual(await negotiations(), negotiated, "a device change renegotiated");
    await ada.page.keyboard.press("Escape");
    await settingsDialog(ada.page).waitFor({ state: "detached" });
    w.assertNoUncaughtErrors();
  },
  "tests/settings_test.ts",
);
