/**
 * LocalMedia in real Chromium with fake devices (no network: nothing here connects anywhere):
 * device switching, noise suppression on the live microphone, and what it says about access.
 */
import assert from "node:assert/strict";
import { launchBrowser } from "../tests/chromium.ts";
import { pageBundle } from "../tests/page_bundle.ts";

const SOURCE = await pageBundle(
  `import { LocalMedia } from "./mesh/local_media.ts";
   import { signal } from "@preact/signals-core";
   globalThis.LocalMedia = LocalMedia;
   globalThis.signal = signal;`,
);

/** Fake devices granted without a prompt: two cameras, three microphones. */
const FAKE_TWO_CAMERAS = [
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream=device-count=2",
];

/** Runs `fn` (page code, an async function expression's body) in a page that has LocalMedia. */
async function inPage<T>(
  fn: string,
  opts: { args?: string[]; grant?: string[] } = {},
): Promise<T> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response("<!doctype html><title>t</title>", { headers: { "content-type": "text/html" } }),
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const browser = await launchBrowser(opts.args ?? FAKE_TWO_CAMERAS);
  try {
    const context = await browser.newContext();
    if (opts.grant) await context.grantPermissions(opts.grant, { origin });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(origin);
    await page.evaluate(SOURCE);
    const result = await page.evaluate(`(async () => {
      const wait = (cond, ms = 15000) => new Promise((resolve, reject) => {
        const t0 = Date.now();
        const tick = () => cond() ? resolve(true) : Date.now() - t0 > ms ? reject(new Error("timeout: " + cond)) : setTimeout(tick, 20);
        tick();
      });
      const ids = async (kind) => (await navigator.mediaDevices.enumerateDevices())
        .filter((d) => d.kind === kind).map((d) => d.deviceId);
      ${fn}
    })()`) as T;
    assert.deepEqual(errors, []);
    return result;
  } finally {
    await browser.close();
    await server.shutdown();
  }
}

Deno.test("LocalMedia: a camera switched while off stays off, and comes on with the chosen one", async () => {
  const r = await inPage<Record<string, unknown>>(`
    const media = new LocalMedia();
    await media.open({ audio: true, video: true });
    const [cam0, cam1] = await ids("videoinput");
    const first = media.video.value.getSettings().deviceId;
    await media.setCamera(false);
    const shownWhileOff = media.selected.value.video;
    const ok = await media.useDevice("video", cam1);
    const offAfterSwitch = media.video.value === null;
    await media.setCamera(true);
    const result = {
      first: first === cam0, shownWhileOff: shownWhileOff === cam0, ok, offAfterSwitch,
      on: media.video.value.getSettings().deviceId === cam1,
      selected: media.selected.value.video === cam1,
      devices: media.devices.value.map((d) => d.kind).sort().join(),
    };
    media.stop();
    return result;
  `);
  assert.deepEqual(r, {
    first: true,
    shownWhileOff: true,
    ok: true,
    offAfterSwitch: true,
    on: true,
    selected: true,
    // Speakers are listed too, for the speaker picker.
    devices: "audioinput,audioinput,audioinput,audiooutput,audiooutput,audiooutput," +
      "videoinput,videoinput",
  });
});

Deno.test("LocalMedia: switching microphones keeps mute, and the last of quick switches wins", async () => {
  const r = await inPage<Record<string, unknown>>(`
    const media = new LocalMedia();
    await media.open({ audio: true, video: false });
    const [, mic1, mic2] = await ids("audioinput");
    await media.setMic(false);
    const before = media.audio.value;
    await media.useDevice("audio", mic1);
    const muted = { enabled: media.audio.value.enabled, micOn: media.micOn.value,
      ended: before.readyState === "ended", device: media.audio.value.getSettings().deviceId === mic1 };
    await media.setMic(true);
    // Two switches at once: the second one asked for is the one in use.
    await Promise.all([media.useDevice("audio", mic2), media.useDevice("audio", mic1)]);
    const result = { muted, last: media.audio.value.getSettings().deviceId === mic1,
      live: media.stream.getAudioTracks().length, micOn: media.micOn.value,
      selected: media.selected.value.audio === mic1 };
    media.stop();
    return result;
  `);
  assert.deepEqual(r, {
    muted: { enabled: false, micOn: false, ended: true, device: true },
    last: true,
    live: 1,
    micOn: true,
    selected: true,
  });
});

Deno.test("LocalMedia: noise suppression follows the setting on the live microphone and the next ones", async () => {
  const r = await inPage<Record<string, unknown>>(`
    const setting = signal(false);
    const media = new LocalMedia();
    // Followed before opening: the first microphone opens without it.
    media.followNoiseSuppression(setting);
    await media.open({ audio: true, video: false });
    const ns = () => media.audio.value.getSettings().noiseSuppression;
    const opened = ns();
    await media.setMic(false);
    setting.value = true;
    await wait(() => ns() === true);
    const mutedKept = media.audio.value.enabled === false && media.micOn.value === false;
    // Quick changes end on the last.
    setting.value = false;
    setting.value = true;
    setting.value = false;
    await wait(() => ns() === false);
    await media.setNoiseSuppression(false); // waits for what is queued
    const settled = ns();
    // A microphone switched to later opens as the setting says.
    const [, mic1] = await ids("audioinput");
    await media.useDevice("audio", mic1);
    const switched = ns();
    media.stop();
    // After stop, the setting is no longer followed.
    setting.value = true;
    return { opened, mutedKept, settled, switched, live: media.audio.value.readyState };
  `);
  assert.deepEqual(r, {
    opened: false,
    mutedKept: true,
    settled: false,
    switched: false,
    live: "ended",
  });
});

Deno.test("LocalMedia: refused permission is blocked, no device is missing", async () => {
  const blocked = await inPage<unknown>(
    `const media = new LocalMedia();
     await media.open({ audio: true, video: true });
     return { access: media.access.value, notices: media.notices.value.length };`,
    { args: ["--use-fake-device-for-media-stream"] },
  );
  assert.deepEqual(blocked, { access: { audio: "blocked", video: "blocked" }, notices: 2 });
  const missing = await inPage<unknown>(
    `const media = new LocalMedia();
     await media.open({ audio: true, video: true });
     return { access: media.access.value, devices: media.devices.value.length };`,
    { args: [], grant: ["camera", "microphone"] },
  );
  assert.deepEqual(missing, { access: { audio: "missing", video: "missing" }, devices: 0 });
  const granted = await inPage<unknown>(
    `const media = new LocalMedia();
     await media.open({ audio: true, video: true });
     const result = { access: media.access.value, labelled: media.devices.value.every((d) => d.label) };
     media.stop();
     return result;`,
  );
  assert.deepEqual(granted, { access: { audio: "granted", video: "granted" }, labelled: true });
});
