/**
 * What recording costs the recorder's browser, in real Chromium: `deno run -A bench/recording.ts`
 * inside a loopback-only network namespace (`unshare -rn sh -c 'ip link set lo up && deno run -A
 * bench/recording.ts'`), like the meeting tests.
 *
 * For 2, 4 and 6 people with cameras (the tests' small fake clip) and microphones: the CPU of the
 * recorder's whole browser (every process, from `SystemInfo.getProcessInfo`) for 20 s without
 * recording and 20 s while recording, and the picture's own account: frames drawn, frames dropped
 * (ticks that came too late to draw) and drawing time. With `--heap`: one 60 s recording with 4
 * people, the recorder's JS heap (used, and ArrayBuffer backing stores) every 5 s against the
 * bytes written, to show that the recording does not pile up in memory.
 *
 * Options: `--sizes 2,4,6`, `--seconds 20`, `--heap`, `--heap-only`.
 */
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";
import { launchBrowser, onlyLoopback } from "../tests/chromium.ts";
import { startLiveServer } from "../tests/live_server.ts";
import {
  BASE_ENV,
  control,
  join,
  linkOf,
  waitForRemoteTiles,
  webrtcArgs,
  writeFakeCameraClip,
} from "../tests/meeting_harness.ts";
import { newRoomId } from "../signaling/room_id.ts";

const arg = (name: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? undefined : Deno.args[i + 1];
};
const SIZES = (arg("sizes") ?? "2,4,6").split(",").map(Number);
const SECONDS = Number(arg("seconds") ?? 20);
const HEAP = Deno.args.includes("--heap") || Deno.args.includes("--heap-only");
const HEAP_ONLY = Deno.args.includes("--heap-only");

interface Frames {
  drawn: number;
  dropped: number;
  drawMs: number;
  slowestMs: number;
}

/** CPU seconds of every process of `browser` so far. */
async function browserCpuS(cdp: CDPSession): Promise<number> {
  const { processInfo } = await cdp.send("SystemInfo.getProcessInfo") as {
    processInfo: { cpuTime: number }[];
  };
  return processInfo.reduce((sum, p) => sum + p.cpuTime, 0);
}

/** The machine's busy CPU seconds (all cores), from /proc/stat. */
async function machineCpuS(): Promise<number> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.split(/\s+/).slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function recorderStats(page: Page): Promise<{ frames: Frames; bytes: number }> {
  return await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any -- the debug handle features/recording/controller.ts sets
    const r = (globalThis as any).__mooz?.recorder;
    return { frames: { ...r.frames }, bytes: r.bytes.value };
  });
}

interface Meeting {
  recorder: { browser: Browser; context: BrowserContext; page: Page; cdp: CDPSession };
  close(): Promise<void>;
}

/** A meeting of `size` people: the recorder in a browser of its own, the others in another. */
async function meeting(size: number, clip: string, origin: string): Promise<Meeting> {
  const room = newRoomId();
  const args = webrtcArgs(clip);
  const [own, shared] = await Promise.all([launchBrowser(args), launchBrowser(args)]);
  const context = await own.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await join(page, origin, linkOf(origin, room), "Ada", { mic: true, camera: true });
  const names = ["Bob", "Cid", "Dan", "Eve", "Fay", "Gus", "Hal"].slice(0, size - 1);
  for (const name of names) {
    const c = await shared.newContext({ viewport: { width: 640, height: 480 } });
    await join(await c.newPage(), origin, linkOf(origin, room), name, { mic: true, camera: true });
  }
  await waitForRemoteTiles(page, size - 1, { timeoutMs: 60_000 });
  const cdp = await own.newBrowserCDPSession();
  return {
    recorder: { browser: own, context, page, cdp },
    close: async () => {
      await own.close().catch(() => {});
      await shared.close().catch(() => {});
    },
  };
}

/** CPU of the recorder's browser and of the machine over `seconds`, % of one core. */
async function cpuOver(cdp: CDPSession, seconds: number) {
  const [b0, m0, t0] = [await browserCpuS(cdp), await machineCpuS(), performance.now()];
  await delay(seconds * 1000);
  const [b1, m1, t1] = [await browserCpuS(cdp), await machineCpuS(), performance.now()];
  const wall = (t1 - t0) / 1000;
  return { browser: (b1 - b0) / wall * 100, machine: (m1 - m0) / wall * 100 };
}

async function startRecording(page: Page): Promise<void> {
  await control(page, "Recording").click();
  const panel = page.getByRole("complementary", { name: "Recording" });
  await panel.getByRole("button", { name: "Start recording" }).click();
  await panel.getByRole("button", { name: "Stop recording" }).waitFor();
}

async function stopRecording(page: Page): Promise<void> {
  const panel = page.getByRole("complementary", { name: "Recording" });
  await panel.getByRole("button", { name: "Stop recording" }).click();
  await panel.getByRole("list", { name: "Saved recordings" }).waitFor({ timeout: 120_000 });
}

if (!onlyLoopback()) {
  console.error(
    "bench/recording.ts runs WebRTC between browsers: run it in a loopback-only network " +
      "namespace: unshare -rn sh -c 'ip link set lo up && deno run -A bench/recording.ts'",
  );
  Deno.exit(1);
}
const dir = await Deno.makeTempDir({ prefix: "mooz-bench-recording-" });
const clip = `${dir}/camera.y4m`;
await writeFakeCameraClip(clip);
const server = await startLiveServer({ parallel: false, env: BASE_ENV });
const rows: string[] = [];
try {
  if (!HEAP_ONLY) {
    for (const size of SIZES) {
      const m = await meeting(size, clip, server.origin);
      try {
        const { page, cdp } = m.recorder;
        await delay(5_000); // links settle, bitrates ramp up
        const idle = await cpuOver(cdp, SECONDS);
        await startRecording(page);
        const before = await recorderStats(page);
        const busy = await cpuOver(cdp, SECONDS);
        const after = await recorderStats(page);
        await stopRecording(page);
        const drawn = after.frames.drawn - before.frames.drawn;
        const dropped = after.frames.dropped - before.frames.dropped;
        const drawMs = (after.frames.drawMs - before.frames.drawMs) / Math.max(1, drawn);
        const row = `| ${size} | ${idle.browser.toFixed(0)} % | ${busy.browser.toFixed(0)} % | ` +
          `+${(busy.browser - idle.browser).toFixed(0)} % | ${drawn} | ${dropped} (${
            (dropped / Math.max(1, drawn + dropped) * 100).toFixed(1)
          } %) | ${drawMs.toFixed(1)} ms / ${after.frames.slowestMs.toFixed(0)} ms | ${
            ((after.bytes - before.bytes) * 8 / SECONDS / 1e6).toFixed(2)
          } Mbit/s | ${idle.machine.toFixed(0)} % → ${busy.machine.toFixed(0)} % |`;
        console.log(row);
        rows.push(row);
      } finally {
        await m.close();
      }
    }
    console.log(
      "\n| People | Recorder's browser, CPU without | with recording | cost | frames drawn " +
        `(${SECONDS} s) | dropped | draw time avg / worst | written | whole machine |\n` +
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + rows.join("\n"),
    );
  }
  if (HEAP) {
    const m = await meeting(4, clip, server.origin);
    try {
      const { page, context } = m.recorder;
      const cdp = await context.newCDPSession(page);
      const heap = async () => {
        await cdp.send("HeapProfiler.collectGarbage");
        const usage = await cdp.send("Runtime.getHeapUsage") as {
          usedSize: number;
          backingStorageSize?: number;
        };
        return { used: usage.usedSize, backing: usage.backingStorageSize ?? 0 };
      };
      const base = await heap();
      await startRecording(page);
      const samples: string[] = [];
      for (let s = 0; s <= 60; s += 5) {
        if (s > 0) await delay(5_000);
        const h = await heap();
        const { bytes } = await recorderStats(page);
        samples.push(
          `| ${s} s | ${(h.used / 1e6).toFixed(1)} MB | ${(h.backing / 1e6).toFixed(1)} MB | ${
            (bytes / 1e6).toFixed(1)
          } MB |`,
        );
        console.log(samples.at(-1));
      }
      await stopRecording(page);
      console.log(
        `\nJS heap before recording: ${(base.used / 1e6).toFixed(1)} MB used, ` +
          `${(base.backing / 1e6).toFixed(1)} MB ArrayBuffers\n` +
          "| Recording for | JS heap used | ArrayBuffers | written to disk |\n| --- | --- | --- | --- |\n" +
          samples.join("\n"),
      );
    } finally {
      await m.close();
    }
  }
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
