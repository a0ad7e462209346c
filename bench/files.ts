/**
 * File sharing throughput in real Chromium, against the raw data-channel rate of the same links
 * in the same run: three browsers (each with its profile on disk, so received files go to disk)
 * join one meeting running the meeting core with the files feature and a bare "raw" feature (a
 * channel of its own, a sender loop, a receiver that only counts bytes). Alternating, several
 * times each:
 *
 * - raw 1→1 and 1→2: the bare loop sends `size` bytes in 256 KiB messages with the files
 *   feature's own flow control (same high- and low-water marks);
 * - files 1→1 and 1→2: a file of `size` bytes on disk, chosen through a file input, shared,
 *   accepted, received into the origin-private file system piece by piece, every piece hashed.
 *
 * WebRTC between pages must stay on loopback, so this runs inside a private network namespace
 * with only loopback: `deno task bench --files` starts it as `unshare -rn … deno run
 * bench/files.ts [sizeMB] [runs]`, and it prints its result as JSON on the last line.
 */
import type { BrowserContext, Page } from "playwright-core";
import type { Files, filesFeature } from "../features/files/files.ts";
import type { defineFeature, PeerChannel } from "../mesh/feature.ts";
import type { MeetingCore } from "../mesh/meeting.ts";
import { newMeetingKey, type parseMeetingKey } from "../mesh/meeting_key.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { DATA_ONLY_ARGS } from "../tests/meeting_harness.ts";
import { launchPersistent } from "../tests/chromium.ts";
import { startLiveServer } from "../tests/live_server.ts";
import { pageBundle } from "../tests/page_bundle.ts";

/** One timed transfer. */
export interface FilesRun {
  kind: "raw" | "files";
  receivers: 1 | 2;
  /** Seconds from the start (first send; the receivers' accept) until the last receiver had all. */
  seconds: number;
  /** MB/s (10^6 bytes) per receiver, and for all receivers together. */
  perReceiver: number;
  total: number;
}

/** Where the time of file runs went (summed over receivers or peers, milliseconds). */
export interface FilesBreakdown {
  /** Hashing the file before offering it (seconds). */
  prepareSeconds: number;
  /** Receivers: waiting for piece hashes and for storage writes. */
  hashMs: number;
  writeMs: number;
  /** Sender: waiting for file reads and for channels to drain. */
  readMs: number;
  drainMs: number;
}

export interface FilesBenchResult {
  sizeBytes: number;
  runs: FilesRun[];
  /** Median per kind and receivers: MB/s per receiver. */
  median: Record<"raw1" | "raw2" | "files1" | "files2", number>;
  /** files ÷ raw, per receiver count. */
  ratio: { one: number; two: number };
  breakdown: FilesBreakdown[];
  tuning: Record<string, number>;
  chromium: string;
}

interface Kit {
  MeetingCore: typeof MeetingCore;
  parseMeetingKey: typeof parseMeetingKey;
  defineFeature: typeof defineFeature;
  filesFeature: typeof filesFeature;
}

/** What each page keeps on `globalThis.bench`. */
interface BenchPage {
  core: MeetingCore;
  files: Files;
  raw: {
    channels: Map<string, PeerChannel>;
    /** Bytes received per peer, and when the count reached `target` (Date.now()). */
    received: Record<string, number>;
    reachedAt: Record<string, number>;
    target: number;
  };
}

function kit(): Promise<string> {
  return pageBundle(`
    import { MeetingCore } from "./mesh/meeting.ts";
    import { parseMeetingKey } from "./mesh/meeting_key.ts";
    import { defineFeature } from "./mesh/feature.ts";
    import { filesFeature } from "./features/files/files.ts";
    globalThis.moozBench = { MeetingCore, parseMeetingKey, defineFeature, filesFeature };
  `);
}

/** Runs in each page: the meeting core with the files feature and the raw one, joined. */
async function joinPage(args: { room: string; key: string; name: string }): Promise<void> {
  const g = globalThis as unknown as { moozBench: Kit; bench: BenchPage; __mooz: unknown };
  const { MeetingCore, parseMeetingKey, defineFeature, filesFeature } = g.moozBench;
  const key = parseMeetingKey(args.key);
  if (!key.ok) throw new Error(`bad key: ${key.reason}`);
  const raw: BenchPage["raw"] = { channels: new Map(), received: {}, reachedAt: {}, target: 0 };
  const rawFeature = defineFeature("raw", (ctx) => {
    ctx.channel("bulk").onOpen((channel) => {
      raw.channels.set(channel.peer, channel);
      channel.onMessage((data) => {
        const n = (raw.received[channel.peer] ?? 0) + (data as ArrayBuffer).byteLength;
        raw.received[channel.peer] = n;
        if (n >= raw.target && raw.target > 0 && !(channel.peer in raw.reachedAt)) {
          raw.reachedAt[channel.peer] = Date.now();
        }
      });
    });
    return {};
  });
  const files = filesFeature();
  const core = new MeetingCore({ room: args.room, key, features: [files, rawFeature] });
  g.__mooz = { meeting: core };
  await core.join(args.name);
  g.bench = { core, files: core.feature(files), raw };
}

/** Runs in the sender's page: the bare loop to `peers`, `size` bytes each, at once. */
async function rawSend(args: { peers: string[]; size: number }): Promise<number> {
  const { raw, files } = (globalThis as unknown as { bench: BenchPage }).bench;
  const { highWater, lowWater, frame } = files.debug.tuning;
  const message = new Uint8Array(frame).fill(7);
  const started = Date.now();
  await Promise.all(args.peers.map(async (peer) => {
    const channel = raw.channels.get(peer);
    if (!channel) throw new Error(`no raw channel to ${peer}`);
    const length = Math.min(message.length, channel.maxMessageSize);
    for (let sent = 0; sent < args.size; sent += length) {
      if (channel.bufferedAmount + length > highWater) await channel.drained(lowWater);
      channel.send(message.subarray(0, Math.min(length, args.size - sent)));
    }
  }));
  return started;
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 600_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `size` bytes of a xorshift stream written to `path`, 4 MiB at a time. */
async function writeFile(path: string, size: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let x = 0x9e3779b9;
    const chunk = new Uint8Array(4 * 1024 * 1024);
    const words = new Uint32Array(chunk.buffer);
    for (let at = 0; at < size; at += chunk.length) {
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[i] = x >>> 0;
      }
      const part = chunk.subarray(0, Math.min(chunk.length, size - at));
      let written = 0;
      while (written < part.length) written += await file.write(part.subarray(written));
    }
  } finally {
    file.close();
  }
}

async function rawRun(pages: Page[], ids: string[], receivers: 1 | 2, size: number) {
  const [sender, ...rest] = pages;
  const targets = rest.slice(0, receivers);
  for (const p of targets) {
    await p.evaluate((size) => {
      const { raw } = (globalThis as unknown as { bench: BenchPage }).bench;
      raw.received = {};
      raw.reachedAt = {};
      raw.target = size;
    }, size);
  }
  const started = await sender.evaluate(rawSend, { peers: ids.slice(1, 1 + receivers), size });
  const ends = await Promise.all(targets.map((p) =>
    waitFor("the raw bytes", async () => {
      const reached = await p.evaluate((from) => {
        const { raw } = (globalThis as unknown as { bench: BenchPage }).bench;
        return raw.reachedAt[from];
      }, ids[0]);
      return reached;
    })
  ));
  return (Math.max(...ends) - started) / 1000;
}

async function filesRun(
  pages: Page[],
  ids: string[],
  receivers: 1 | 2,
  path: string,
): Promise<{ seconds: number; breakdown: FilesBreakdown }> {
  const [sender, ...rest] = pages;
  const targets = rest.slice(0, receivers);
  await sender.setInputFiles("#bench-file", path);
  const to = receivers === 1 ? ids[1] : "all";
  const shareAt = Date.now();
  const id = await sender.evaluate(async (to) => {
    const { files } = (globalThis as unknown as { bench: BenchPage }).bench;
    const input = document.getElementById("bench-file") as HTMLInputElement;
    files.share([input.files![0]], to);
    while (!files.transfers.value.some((t) => t.dir === "out" && t.state === "shared")) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return files.transfers.value.find((t) => t.dir === "out")!.id;
  }, to);
  const prepareSeconds = (Date.now() - shareAt) / 1000;
  await Promise.all(targets.map((p) =>
    waitFor("the offer", async () =>
      await p.evaluate((id) => {
        const { files } = (globalThis as unknown as { bench: BenchPage }).bench;
        return files.transfers.value.some((t) => t.id === id && t.state === "offered") || undefined;
      }, id))
  ));
  const acceptedAt = await Promise.all(targets.map((p) =>
    p.evaluate((id) => {
      const at = Date.now();
      void (globalThis as unknown as { bench: BenchPage }).bench.files.accept(id);
      return at;
    }, id)
  ));
  const finished = await Promise.all(
    targets.map((p) =>
      waitFor("the file", async () =>
        await p.evaluate((id) => {
          const { files } = (globalThis as unknown as { bench: BenchPage }).bench;
          const t = files.transfers.value.find((t) => t.id === id);
          if (t?.state === "failed") throw new Error(`transfer failed: ${t.detail}`);
          return files.debug.receiver.finishedAt.get(id);
        }, id))
    ),
  );
  const debug = await Promise.all(pages.map((p) =>
    p.evaluate(() => {
      const { debug } = (globalThis as unknown as { bench: BenchPage }).bench.files;
      const out = {
        hashMs: debug.receiver.hashMs,
        writeMs: debug.receiver.writeMs,
        readMs: debug.sender.readMs,
        drainMs: debug.sender.drainMs,
      };
      debug.receiver.hashMs = debug.receiver.writeMs = 0;
      debug.sender.readMs = debug.sender.drainMs = 0;
      return out;
    })
  ));
  // Free the browsers' storage before the next run.
  for (const p of pages) {
    await p.evaluate(async (id) => {
      await (globalThis as unknown as { bench: BenchPage }).bench.files.remove(id);
    }, id);
  }
  const sum = (key: keyof (typeof debug)[0]) => debug.reduce((n, d) => n + d[key], 0);
  return {
    seconds: (Math.max(...finished) - Math.min(...acceptedAt)) / 1000,
    breakdown: {
      prepareSeconds,
      hashMs: sum("hashMs"),
      writeMs: sum("writeMs"),
      readMs: sum("readMs"),
      drainMs: sum("drainMs"),
    },
  };
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export async function measureFiles(sizeMB = 300, runs = 3): Promise<FilesBenchResult> {
  const size = sizeMB * 1_000_000;
  const dir = await Deno.makeTempDir({ prefix: "mooz-bench-files-" });
  const path = `${dir}/bench.bin`;
  const server = await startLiveServer({ parallel: false, env: { MOOZ_STUN_URLS: "" } });
  const contexts: BrowserContext[] = [];
  try {
    const [source] = await Promise.all([kit(), writeFile(path, size)]);
    const room = newRoomId();
    const key = newMeetingKey();
    const pages: Page[] = [];
    for (const name of ["Ada", "Bob", "Cat"]) {
      // A browser of its own each, with a profile on disk: received files go to disk, as for
      // people (a private context keeps them in memory, and refuses a few GB).
      const context = await launchPersistent(`${dir}/${name}`, DATA_ONLY_ARGS);
      contexts.push(context);
      await context.grantPermissions(["camera", "microphone"], { origin: server.origin });
      const p = context.pages()[0] ?? await context.newPage();
      await p.goto(`${server.origin}/`);
      await p.evaluate(source);
      await p.evaluate(() => {
        const input = document.createElement("input");
        input.type = "file";
        input.id = "bench-file";
        document.body.append(input);
      });
      await p.evaluate(joinPage, { room, key, name });
      pages.push(p);
    }
    const ids: string[] = [];
    for (const p of pages) {
      ids.push(
        await waitFor(
          "a peer id",
          async () =>
            (await p.evaluate(() =>
              (globalThis as unknown as { bench: BenchPage }).bench.core.self.value
            )) ?? undefined,
        ),
      );
    }
    // Every raw channel open both ways before timing anything.
    await waitFor("the raw channels", async () => {
      const open = await Promise.all(
        pages.map((p) =>
          p.evaluate(() => (globalThis as unknown as { bench: BenchPage }).bench.raw.channels.size)
        ),
      );
      return open.every((n) => n === 2) || undefined;
    }, 60_000);
    // `MOOZ_BENCH_TUNING='{"window": 8388608}'`: other tuning, to compare (the README's numbers use none).
    const override = JSON.parse(Deno.env.get("MOOZ_BENCH_TUNING") ?? "{}");
    for (const p of pages) {
      await p.evaluate((t) => {
        Object.assign((globalThis as unknown as { bench: BenchPage }).bench.files.debug.tuning, t);
      }, override);
    }
    const tuning = await pages[0].evaluate(() => ({
      ...(globalThis as unknown as { bench: BenchPage }).bench.files.debug.tuning,
    }));

    const results: FilesRun[] = [];
    const breakdown: FilesBreakdown[] = [];
    const record = (kind: "raw" | "files", receivers: 1 | 2, seconds: number) => {
      const perReceiver = size / 1e6 / seconds;
      results.push({ kind, receivers, seconds, perReceiver, total: perReceiver * receivers });
      console.error(
        `  ${kind.padEnd(5)} 1→${receivers}: ${seconds.toFixed(2)} s, ` +
          `${perReceiver.toFixed(1)} MB/s per receiver`,
      );
    };
    for (let r = 0; r < runs; r++) {
      for (const receivers of [1, 2] as const) {
        record("raw", receivers, await rawRun(pages, ids, receivers, size));
        const run = await filesRun(pages, ids, receivers, path);
        record("files", receivers, run.seconds);
        breakdown.push(run.breakdown);
      }
    }
    const med = (kind: "raw" | "files", n: 1 | 2) =>
      median(results.filter((x) => x.kind === kind && x.receivers === n).map((x) => x.perReceiver));
    const median_ = {
      raw1: med("raw", 1),
      raw2: med("raw", 2),
      files1: med("files", 1),
      files2: med("files", 2),
    };
    return {
      sizeBytes: size,
      runs: results,
      median: median_,
      ratio: { one: median_.files1 / median_.raw1, two: median_.files2 / median_.raw2 },
      breakdown,
      tuning,
      chromium: contexts[0].browser()?.version() ??
        await pages[0].evaluate(() => navigator.userAgent),
    };
  } finally {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await server.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const [sizeMB, runs] = Deno.args.map(Number);
  const result = await measureFiles(sizeMB || undefined, runs || undefined);
  console.log(JSON.stringify(result));
}
