/**
 * Recording a meeting, in real Chromium, checked with real tools (ffprobe and ffmpeg).
 *
 * Four people, each in a browser of their own whose fake microphone plays a different tone
 * (`--use-file-for-fake-audio-capture` with a generated WAV). Ada records while Dan joins, Bob
 * shares his screen and stops, and Cid leaves; then the file is downloaded from the Recording
 * panel as a person would, and the test demands that it decodes, has a video and an audio
 * stream, lasts as long as the recording did (within a second), is seekable (a plain MP4 with its
 * index, frames found by seeking), shows Bob's screen while he shared it, and that each tone is
 * in the sound exactly while its sender was in the meeting (Goertzel band power per half
 * second). Every other page must show who records within 2 s, and nobody can dismiss it.
 *
 * Runs only inside a loopback-only network namespace (see tests/meeting_harness.ts):
 * `CHROME_PATH=/usr/bin/chromium unshare -rn sh -c 'ip link set lo up && deno test -A
 * tests/recording_test.ts'`.
 */
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { watchErrors } from "./browser.ts";
import { launchBrowser } from "./chromium.ts";
import { startLiveServer } from "./live_server.ts";
import {
  BASE_ENV,
  bounded,
  control,
  join,
  linkOf,
  skipUnlessIsolated,
  until,
  waitForRemoteTiles,
  webrtcArgs,
  withMeeting,
  writeFakeCameraClip,
} from "./meeting_harness.ts";
import {
  decode,
  decodeAudio,
  findFfmpeg,
  frameAt,
  probe,
  toneLevel,
  writeToneWav,
} from "./media_tools.ts";
import { newRoomId } from "../signaling/room_id.ts";

const FILE = "tests/recording_test.ts";
/** Each person's tone, Hz: apart from each other and from each other's harmonics. */
const TONES = { Ada: 400, Bob: 700, Cid: 1100, Dan: 1700 } as const;
type Name = keyof typeof TONES;
/** Sample rate the recorded sound is analysed at. */
const RATE = 16_000;
/** A tone counts as present above this level (dB of full scale; each plays at -10 dB)... */
const PRESENT_DB = -35;
/** ... and as absent below this one. */
const ABSENT_DB = -50;

interface Person {
  name: Name;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  errors: string[];
  closed: boolean;
}

/** The Recording panel of `page` (opened with the control bar's "Recording"). */
function panel(page: Page) {
  return page.getByRole("complementary", { name: "Recording" });
}

/** The recording banner's text on `page` ("" while nobody records). */
async function bannerText(page: Page): Promise<string> {
  return ((await page.getByRole("status", { name: "Recording" }).textContent({ timeout: 5_000 })) ??
    "").trim();
}

/** Milliseconds since `t0`. */
const since = (t0: number) => Date.now() - t0;

Deno.test({
  name:
    "recording: 4 people, a joiner, a leaver and a screen share, into a seekable MP4 with everyone's tone while they were there",
  ignore: skipUnlessIsolated(FILE),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await findFfmpeg();
    const dir = await Deno.makeTempDir({ prefix: "mooz-recording-" });
    const clip = `${dir}/camera.y4m`;
    await writeFakeCameraClip(clip);
    const server = await startLiveServer({ parallel: false, env: BASE_ENV });
    const room = newRoomId();
    const people = new Map<Name, Person>();
    const t = (label: string, t0: number) =>
      console.log(`[${(since(t0) / 1000).toFixed(1)} s] ${label}`);
    const open = async (name: Name): Promise<Person> => {
      const wav = `${dir}/${name}.wav`;
      await writeToneWav(wav, TONES[name]);
      const browser = await launchBrowser([
        ...webrtcArgs(clip),
        `--use-file-for-fake-audio-capture=${wav}`,
      ]);
      const context = await browser.newContext({
        viewport: { width: 1000, height: 700 },
        acceptDownloads: true,
      });
      // A steady tone is what noise suppression removes: off, as a person may set it.
      await context.addInitScript(() =>
        localStorage.setItem("mooz:pref:noiseSuppression", "false")
      );
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const person = { name, browser, context, page, errors: watchErrors(page), closed: false };
      people.set(name, person);
      return person;
    };
    const leave = async (p: Person) => {
      p.closed = true;
      await p.context.close().catch(() => {});
      await p.browser.close().catch(() => {});
    };
    try {
      await bounded(
        (async () => {
          const [ada, bob, cid] = await Promise.all((["Ada", "Bob", "Cid"] as const).map(open));
          const audioOnly = { mic: true, camera: false };
          // Ada first: the host, who may record.
          await join(ada.page, server.origin, linkOf(server.origin, room), "Ada", audioOnly);
          await Promise.all(
            [bob, cid].map((p) =>
              join(p.page, server.origin, linkOf(server.origin, room), p.name, audioOnly)
            ),
          );
          await waitForRemoteTiles(ada.page, 2, { who: "Ada" });

          // Ada records.
          await control(ada.page, "Recording").click();
          const start = panel(ada.page).getByRole("button", { name: "Start recording" });
          const clicked = Date.now();
          await start.click();
          await panel(ada.page).getByRole("button", { name: "Stop recording" }).waitFor();
          const t0 = Date.now();
          t("Ada is recording", clicked);

          // Everyone else sees who records within 2 s of the click.
          const seen = await Promise.all([bob, cid].map(async (p) => {
            await until(
              `${p.name} to show Ada's recording`,
              async () => (await bannerText(p.page)).includes("Ada is recording this meeting"),
              { timeoutMs: 10_000, intervalMs: 50 },
            );
            return since(clicked);
          }));
          console.log(`banner shown after ${seen.join(" ms, ")} ms`);
          for (const ms of seen) assert.ok(ms <= 2_000, `the banner took ${ms} ms`);
          // Ada's own banner says so, and offers no way to hide it.
          assert.match(await bannerText(ada.page), /You are recording this meeting/);
          assert.equal(
            await ada.page.getByRole("status", { name: "Recording" }).getByRole("button").count(),
            0,
          );

          // Dan joins.
          const dan = await open("Dan");
          const danClicked = since(t0);
          await join(dan.page, server.origin, linkOf(server.origin, room), "Dan", audioOnly);
          await waitForRemoteTiles(ada.page, 3, { who: "Ada" });
          const danIn = since(t0);
          t("Dan is connected to Ada", t0);
          // A late joiner hears it as soon as its link to Ada is up.
          await until(
            "Dan to show Ada's recording",
            async () => (await bannerText(dan.page)).includes("Ada is recording this meeting"),
            { timeoutMs: 2_000, intervalMs: 50 },
          );

          // Bob shares his screen for a while.
          await until("4 s of Dan", () => since(t0) - danIn > 3_000);
          await control(bob.page, "Share screen").click();
          await waitForRemoteTiles(ada.page, 1, { kind: "screen", who: "Ada" });
          const shareOn = since(t0);
          t("Ada sees Bob's screen", t0);
          await until("3 s of sharing", () => since(t0) - shareOn > 3_000);
          await control(bob.page, "Share screen").click();
          await until(
            "Ada to drop Bob's screen",
            async () => await ada.page.locator('figure[data-kind="screen"]').count() === 0,
          );
          const shareOff = since(t0);
          t("Bob stopped sharing", t0);

          // Cid leaves (his browser closes).
          await until("1 s after the share", () => since(t0) - shareOff > 1_000);
          const cidGone = since(t0);
          await leave(cid);
          t("Cid left", t0);
          await waitForRemoteTiles(ada.page, 2, { who: "Ada" });

          // 15 s at least, and enough after the share and the leave to see them over (a slow
          // join on a busy machine moves everything later).
          await until(
            "15 s of recording",
            () => since(t0) > Math.max(15_000, shareOff + 4_000, cidGone + 3_000),
          );
          const stopClicked = since(t0);
          await panel(ada.page).getByRole("button", { name: "Stop recording" }).click();
          t("stopped", t0);
          for (const p of [bob, dan]) {
            await until(`${p.name}'s banner to clear`, async () => await bannerText(p.page) === "");
          }
          const saved = panel(ada.page).getByRole("list", { name: "Saved recordings" });
          await saved.waitFor({ timeout: 60_000 });
          const download = ada.page.waitForEvent("download");
          await saved.getByRole("button", { name: /^Download / }).first().click();
          const file = `${dir}/${(await download).suggestedFilename()}`;
          await (await download).saveAs(file);
          // Kept for a look when something fails (the harness's diagnostics folder).
          await Deno.mkdir("/tmp/mooz-e2e", { recursive: true });
          await Deno.copyFile(file, "/tmp/mooz-e2e/recording.mp4");
          t("downloaded the recording (a copy: /tmp/mooz-e2e/recording.mp4)", t0);

          // The file: decodes, two streams, the right duration, seekable.
          const decoded = await decode(file);
          assert.equal(decoded.errors, "", "ffmpeg decodes the whole file");
          assert.ok(
            decoded.repeatedTimestamps <= 3,
            `${decoded.repeatedTimestamps} repeated times`,
          );
          const info = await probe(file);
          const video = info.streams.find((s) => s.codec_type === "video");
          const audio = info.streams.find((s) => s.codec_type === "audio");
          assert.equal(video?.codec_name, "h264");
          assert.equal(audio?.codec_name, "opus");
          assert.equal(video?.width, 1280);
          assert.equal(video?.height, 720);
          const duration = Number(info.format.duration);
          const truth = stopClicked / 1000;
          console.log(`duration ${duration} s, recorded for ${truth} s`);
          assert.ok(Math.abs(duration - truth) <= 1, `duration ${duration} s vs ${truth} s`);
          assertPlainMp4(await Deno.readFile(file));

          // Bob's screen is in the picture while he shared, and not before or after.
          const during = (shareOn + shareOff) / 2000;
          const screenShare = async (at: number) =>
            screenLikeShare(await frameAt(file, at, 64, 36));
          const levels = {
            before: await screenShare(shareOn / 1000 - 2),
            during: await screenShare(during),
            after: await screenShare(shareOff / 1000 + 2),
          };
          console.log("share in the picture:", levels);
          assert.ok(levels.during > 0.4, "the shared screen fills the stage");
          assert.ok(levels.before < 0.15 && levels.after < 0.15, "no screen before or after");

          // Each tone while its sender was there, and only then.
          const pcm = await decodeAudio(file, RATE);
          const windowS = 0.5;
          const windows: { at: number; db: Record<Name, number> }[] = [];
          for (let at = 0; at + windowS <= pcm.length / RATE; at += windowS) {
            const slice = pcm.subarray(at * RATE, (at + windowS) * RATE);
            windows.push({
              at,
              db: Object.fromEntries(
                (Object.keys(TONES) as Name[]).map((n) => [n, toneLevel(slice, RATE, TONES[n])]),
              ) as Record<Name, number>,
            });
          }
          console.log(
            windows.map((w) =>
              `${w.at.toFixed(1)}: ${
                (Object.keys(TONES) as Name[]).map((n) => `${n} ${w.db[n].toFixed(0)}`).join(" ")
              }`
            ).join("\n"),
          );
          const end = duration;
          const expect = (name: Name, from: number, to: number, present: boolean) => {
            for (const w of windows) {
              if (w.at < from || w.at + windowS > to) continue;
              const db = w.db[name];
              assert.ok(
                present ? db >= PRESENT_DB : db <= ABSENT_DB,
                `${name}'s tone at ${w.at} s: ${db.toFixed(1)} dB, expected ${
                  present ? "present" : "absent"
                }`,
              );
            }
          };
          const s = (ms: number) => ms / 1000;
          expect("Ada", 1, end - 0.5, true);
          expect("Bob", 1, end - 0.5, true);
          expect("Cid", 1, s(cidGone) - 1, true);
          expect("Cid", s(cidGone) + 1.5, end, false);
          expect("Dan", 0, s(danClicked), false);
          expect("Dan", s(danIn) + 1.5, end - 0.5, true);

          for (const p of people.values()) {
            assert.deepEqual(
              p.errors.filter((e) => e.startsWith("uncaught")),
              [],
              `${p.name}'s page threw`,
            );
          }
        })(),
        240_000,
        "the recording test",
      );
    } finally {
      for (const p of people.values()) if (!p.closed) await leave(p);
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/**
 * Fails unless `bytes` is an MP4 whose index (moov) is whole, with no fragments: players find
 * its duration and seek in it without reading it through.
 */
function assertPlainMp4(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: string[] = [];
  for (let at = 0; at + 8 <= bytes.length;) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (size === 1) size = Number(view.getBigUint64(at + 8));
    if (size === 0) size = bytes.length - at;
    boxes.push(type);
    at += size;
  }
  assert.ok(boxes.includes("moov"), `top-level boxes: ${boxes.join(" ")}`);
  assert.ok(!boxes.includes("moof"), `a fragmented MP4: ${boxes.join(" ")}`);
}

/** Share of a frame's pixels that are none of the meeting's own colours: a picture. */
function screenLikeShare(rgb: Uint8Array): number {
  const palette = [
    [2, 6, 23], // page
    [15, 23, 42], // empty tile
    [51, 65, 85], // initials' circle
    [255, 255, 255], // text
  ];
  let picture = 0;
  const pixels = rgb.length / 3;
  for (let i = 0; i < pixels; i++) {
    const [r, g, b] = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
    const near = palette.some(([pr, pg, pb]) =>
      Math.abs(r - pr) + Math.abs(g - pg) + Math.abs(b - pb) < 60
    );
    if (!near) picture++;
  }
  return picture / pixels;
}

// ---------------------------------------------------------------------------------------------
// One person, one browser: formats, crashes, a full disk

/** Opens the Recording panel and starts recording; returns when the page records. */
async function startRecording(page: Page): Promise<number> {
  if (await panel(page).count() === 0) await control(page, "Recording").click();
  await panel(page).getByRole("button", { name: "Start recording" }).click();
  await panel(page).getByRole("button", { name: "Stop recording" }).waitFor();
  return Date.now();
}

const AXE_SOURCE = await Deno.readTextFile(
  new URL("../node_modules/axe-core/axe.min.js", import.meta.url),
);

/** axe-core's findings of any impact inside the Recording panel and the banner. */
async function recordingViolations(page: Page): Promise<string[]> {
  await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  const result = await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any -- axe is a global installed by the line above
    (globalThis as any).axe.run(
      { include: [["#recording-panel"], ["#recording-banner"]] },
      { resultTypes: ["violations"] },
    )
  ) as { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] };
  return result.violations.map((v) =>
    `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`
  );
}

/** Bytes the panel says are on disk (its `data-bytes`). */
async function bytesOnDisk(page: Page): Promise<number> {
  return Number(await panel(page).locator("[data-bytes]").getAttribute("data-bytes"));
}

/** Downloads the newest saved recording from the panel into `dir`; returns its path. */
async function downloadNewest(page: Page, dir: string): Promise<string> {
  const saved = panel(page).getByRole("list", { name: "Saved recordings" });
  await saved.waitFor({ timeout: 60_000 });
  const download = page.waitForEvent("download");
  await saved.getByRole("button", { name: /^Download / }).first().click();
  const path = `${dir}/${(await download).suggestedFilename()}`;
  await (await download).saveAs(path);
  return path;
}

/** Top-level EBML element ids of a WebM's segment, as hex ("1549a966" Info, "1c53bb6b" Cues…). */
function webmSegmentChildren(bytes: Uint8Array): string[] {
  const readVint = (at: number, keepMarker: boolean): [number, number] => {
    const first = bytes[at];
    let length = 1;
    while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
    let value = keepMarker ? first : first & (0xff >> length);
    for (let i = 1; i < length; i++) value = value * 256 + bytes[at + i];
    return [value, length];
  };
  const ids: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    const [id, idLength] = readVint(at, true);
    const [size, sizeLength] = readVint(at + idLength, false);
    const body = at + idLength + sizeLength;
    if (id === 0x18538067) { // Segment: walk its children
      at = body;
      continue;
    }
    ids.push(id.toString(16));
    at = body + size;
  }
  return ids;
}

Deno.test({
  name:
    "recording: WebM (VP9 + Opus) where MP4 is not offered; a crashed tab's recording is saved up to its last chunk",
  ignore: skipUnlessIsolated(FILE),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withMeeting("recording after a crash", { timeoutMs: 120_000 }, async (w) => {
      await findFfmpeg();
      const dir = await Deno.makeTempDir({ prefix: "mooz-recording-" });
      try {
        const ada = await w.open("Ada");
        // A browser whose recorder makes no MP4 (as Firefox).
        await ada.context.addInitScript(() => {
          const supported = MediaRecorder.isTypeSupported.bind(MediaRecorder);
          MediaRecorder.isTypeSupported = (type: string) =>
            !type.startsWith("video/mp4") && supported(type);
        });
        await join(ada.page, w.origin, w.room, "Ada", { mic: true, camera: true });
        const t0 = await startRecording(ada.page);
        await until("5 s and some chunks on disk", async () =>
          since(t0) > 5_000 && await bytesOnDisk(ada.page) > 50_000);
        const crashedAt = since(t0);
        // The tab's renderer dies (no unload, no stop); the browser and its storage go on.
        const cdp = await ada.context.newCDPSession(ada.page);
        await bounded(cdp.send("Page.crash").catch(() => {}), 5_000, "Page.crash").catch(() => {});
        w.log(`Ada's tab crashed ${crashedAt} ms into the recording`);

        // The same browser, a new tab: the recording is there, unfinished, and saves.
        const page = await ada.context.newPage();
        await join(page, w.origin, w.room, "Ada", { mic: false, camera: false });
        await control(page, "Recording").click();
        const unfinished = panel(page).getByRole("list", { name: "Unfinished recordings" });
        await unfinished.getByRole("button", { name: /^Save / }).click();
        const file = await downloadNewest(page, dir);
        assert.match(file, /\.webm$/);
        const decoded = await decode(file);
        assert.equal(decoded.errors, "", "ffmpeg decodes the whole file");
        const info = await probe(file);
        assert.match(info.format.format_name, /webm/);
        assert.equal(
          info.streams.find((s) =>
            s.codec_type === "video"
          )?.codec_name,
          "vp9",
        );
        assert.equal(info.streams.find((s) => s.codec_type === "audio")?.codec_name, "opus");
        const duration = Number(info.format.duration);
        w.log(`saved ${duration} s of ${crashedAt / 1000} s recorded before the crash`);
        // Chunks are written every second: at most the one in flight is lost.
        assert.ok(
          duration <= crashedAt / 1000 + 0.5 && duration >= crashedAt / 1000 - 2,
          `duration ${duration} s, crash after ${crashedAt / 1000} s`,
        );
        // Seekable: a duration and cues (the index players seek with), and a frame found there.
        const children = webmSegmentChildren(await Deno.readFile(file));
        assert.ok(children.includes("1c53bb6b"), `no Cues among ${children.join(" ")}`);
        assert.equal((await frameAt(file, duration / 2, 16, 9)).length, 16 * 9 * 3);
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }),
});

Deno.test({
  name:
    "recording: a full disk stops it with a clear message, keeps what was written, and it saves once there is room",
  ignore: skipUnlessIsolated(FILE),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withMeeting("recording on a full disk", { timeoutMs: 120_000 }, async (w) => {
      await findFfmpeg();
      const dir = await Deno.makeTempDir({ prefix: "mooz-recording-" });
      try {
        const ada = await w.join("Ada", { mic: true, camera: true });
        // The site may keep only 400 kB from now on: a few seconds of recording. (Chromium
        // applies the quota to storage opened after it is set; its estimate still shows the
        // disk's, so the recording starts.)
        const cdp = await ada.context.newCDPSession(ada.page);
        await cdp.send("Storage.overrideQuotaForOrigin", { origin: w.origin, quotaSize: 400_000 });
        const t0 = await startRecording(ada.page);
        assert.deepEqual(await recordingViolations(ada.page), [], "axe, while recording");
        const alert = panel(ada.page).getByRole("alert");
        await alert.waitFor({ timeout: 15_000 });
        const stoppedAt = since(t0);
        assert.match(
          await alert.textContent() ?? "",
          /^Your disk is full, so the recording stopped at \d+:\d\d\. What was recorded up to then is kept: free some space, then save it under Recording\.$/,
        );
        assert.equal(await bannerText(ada.page), "", "no longer announced as recording");
        assert.deepEqual(await recordingViolations(ada.page), [], "axe, with the message");
        // Room again: the kept recording saves, with what was written before the disk filled.
        await cdp.send("Storage.overrideQuotaForOrigin", { origin: w.origin });
        const unfinished = panel(ada.page).getByRole("list", { name: "Unfinished recordings" });
        await unfinished.getByRole("button", { name: /^Save / }).click();
        const file = await downloadNewest(ada.page, dir);
        assert.equal((await decode(file)).errors, "");
        const duration = Number((await probe(file)).format.duration);
        w.log(`kept ${duration} s; the disk filled ${stoppedAt / 1000} s in`);
        assert.ok(duration > 1 && duration <= stoppedAt / 1000 + 0.5, `duration ${duration} s`);
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }),
});
