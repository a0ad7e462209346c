/**
 * File sharing in real Chromium, through the app's UI: the Files panel's "Choose files…" with a
 * real file on disk, "Accept" and "Save" (to the browser's downloads, as in a browser without
 * `showSaveFilePicker`: headless Chromium has none that works, so the pages here lose it and
 * received files go into the origin-private file system first). Data-only meetings: no devices.
 *
 * - 300 MB from one page to two others: both get the same SHA-256 as the file on disk; chat sent
 *   meanwhile arrives within a second; the sender's queue never passes the high-water mark plus
 *   one frame; no page's memory (JS heap and array buffers, after a GC) grows with the file.
 * - A receiver that reloads half-way resumes and receives only the pieces it did not have.
 * - A piece damaged on the way (a test hook flips a byte) is caught by its hash and fetched again.
 *
 * Runs only inside a loopback-only network namespace (see tests/meeting_harness.ts):
 * `CHROME_PATH=/usr/bin/chromium unshare -rn sh -c 'ip link set lo up && deno test -A
 * tests/files_test.ts'`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { CDPSession, Page } from "playwright-core";
import type { IncomingView, OutgoingView, TransferView } from "../features/files/types.ts";
import { DEFAULT_TUNING } from "../features/files/types.ts";
import { assertAccessible, axeViolations } from "./browser.ts";
import {
  bounded,
  control,
  description,
  fillPreJoin,
  join,
  meetingTest,
  type MeetingWorld,
  openChat,
  type Participant,
  sendChat,
  until,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/files_test.ts";
const OFF = { mic: false, camera: false };
const MiB = 1024 * 1024;
/** The largest frame the app sends (Chromium's max-message-size). */
const MAX_FRAME = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// A file on disk, and its SHA-256

/**
 * Writes `size` deterministic bytes (a xorshift stream) to `path`, 4 MiB at a time, and returns
 * their SHA-256 (hex).
 */
async function writeTestFile(path: string, size: number, seed: number): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let x = seed >>> 0 || 1;
    const chunk = new Uint8Array(4 * MiB);
    const words = new Uint32Array(chunk.buffer);
    for (let at = 0; at < size; at += chunk.length) {
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        words[i] = x >>> 0;
      }
      const part = chunk.subarray(0, Math.min(chunk.length, size - at));
      hash.update(part);
      let written = 0;
      while (written < part.length) written += await file.write(part.subarray(written));
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

/** SHA-256 (hex) of a file on disk, read in pieces. */
async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  try {
    for await (const chunk of file.readable) hash.update(chunk);
  } catch (err) {
    file.close();
    throw err;
  }
  return hash.digest("hex");
}

// ---------------------------------------------------------------------------------------------
// The app, through its UI and its diagnostics handle

/**
 * A participant whose browser has no `showSaveFilePicker` (as Firefox and Safari): received files
 * go into the origin-private file system, then to the downloads.
 */
async function joinWithoutPicker(w: MeetingWorld, name: string): Promise<Participant> {
  const p = await w.open(name);
  await p.context.addInitScript(() => {
    const w = globalThis as unknown as { Window: { prototype: Record<string, unknown> } };
    delete w.Window.prototype.showSaveFilePicker;
    delete (globalThis as Record<string, unknown>).showSaveFilePicker;
  });
  await join(p.page, w.origin, w.room, name, OFF);
  w.log(`${name} joined`);
  return p;
}

function filesPanel(page: Page) {
  return page.getByRole("complementary", { name: "Files" });
}

async function openFiles(page: Page): Promise<void> {
  const button = control(page, "Files");
  if (await button.getAttribute("aria-expanded") !== "true") await button.click();
  await filesPanel(page).waitFor();
}

/** Shares the file at `path` with everyone: Files, "Choose files…", the browser's file dialog. */
async function shareFile(page: Page, path: string): Promise<void> {
  await openFiles(page);
  const [chooser] = await Promise.all([
    page.waitForEvent("filechooser"),
    filesPanel(page).getByRole("button", { name: "Choose files…" }).click(),
  ]);
  await chooser.setFiles(path);
}

/** Accepts the offer of `name` in the Files panel, once it shows. */
async function accept(page: Page, name: string): Promise<void> {
  await openFiles(page);
  await filesPanel(page).getByRole("button", { name: `Accept ${name}` }).click({ timeout: 30_000 });
}

/** Saves the received `name` ("Save", to the downloads) and returns the SHA-256 of the download. */
async function saveAndHash(page: Page, name: string, dir: string): Promise<string> {
  await openFiles(page);
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 60_000 }),
    filesPanel(page).getByRole("button", { name: `Save ${name}` }).click(),
  ]);
  assert.equal(download.suggestedFilename(), name);
  const path = `${dir}/${crypto.randomUUID()}-${name}`;
  await download.saveAs(path);
  try {
    return await sha256File(path);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

interface FilesState {
  transfers: TransferView[];
  dropped: Record<string, number>;
  maxBuffered: Record<string, number>;
  served: Record<string, number[]>;
  corrupt: string[];
  requested: string[];
  heldAtStart: Record<string, number[]>;
}

/** The page's file sharing engine (`__mooz.files`, set while the meeting screen shows). */
async function filesState(page: Page): Promise<FilesState> {
  return await bounded(
    page.evaluate(() => {
      // deno-lint-ignore no-explicit-any -- the diagnostics handle the contract documents
      const f = (globalThis as any).__mooz?.files;
      if (!f) throw new Error("globalThis.__mooz.files is not set");
      return {
        transfers: f.transfers.value,
        dropped: { ...f.dropped },
        maxBuffered: Object.fromEntries(f.debug.sender.maxBuffered),
        served: Object.fromEntries(f.debug.sender.served),
        corrupt: [...f.debug.receiver.corrupt],
        requested: [...f.debug.receiver.requested],
        heldAtStart: Object.fromEntries(f.debug.receiver.heldAtStart),
      };
    }),
    10_000,
    "reading __mooz.files",
  ) as FilesState;
}

function incoming(state: FilesState, name: string): IncomingView | undefined {
  return state.transfers.find((t): t is IncomingView => t.dir === "in" && t.name === name);
}

function outgoing(state: FilesState, name: string): OutgoingView | undefined {
  return state.transfers.find((t): t is OutgoingView => t.dir === "out" && t.name === name);
}

/** Waits until `page` has received `name` whole and verified (kept in the browser). */
async function received(page: Page, who: string, name: string, timeoutMs: number): Promise<void> {
  let last: unknown;
  await until(`${who} to receive ${name}`, async () => {
    const t = incoming(await filesState(page), name);
    last = t;
    if (t?.state === "failed") throw new Error(`${who}'s transfer failed: ${t.detail}`);
    return t?.state === "done";
  }, { timeoutMs, intervalMs: 500, describe: () => last });
}

/** JS heap plus array buffers of a page after a full GC: what it keeps alive, in bytes. */
async function liveMemory(cdp: CDPSession): Promise<number> {
  await cdp.send("HeapProfiler.collectGarbage");
  const usage = await cdp.send("Runtime.getHeapUsage") as {
    usedSize: number;
    backingStorageSize?: number;
  };
  return usage.usedSize + (usage.backingStorageSize ?? 0);
}

/**
 * Records when each chat message first shows in the page's chat log (`globalThis.chatSeen`:
 * text → `Date.now()`). Pages of one machine share the clock, so a message's latency is when it
 * shows in a receiver's log minus when it showed in its sender's.
 */
async function watchChat(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as { chatSeen: Record<string, number> };
    g.chatSeen = {};
    const scan = () => {
      for (const li of document.querySelectorAll("li[data-from]")) {
        const text = li.querySelectorAll("p")[1]?.textContent ?? "";
        if (text.startsWith("ping ") && !(text in g.chatSeen)) g.chatSeen[text] = Date.now();
      }
    };
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
  });
}

async function chatSeen(page: Page): Promise<Record<string, number>> {
  return await page.evaluate(() =>
    (globalThis as unknown as { chatSeen: Record<string, number> }).chatSeen
  );
}

// ---------------------------------------------------------------------------------------------

meetingTest(
  "300 MB to two people: same SHA-256, chat stays instant, bounded queue and memory",
  { devices: "none", timeoutMs: 600_000 },
  async (w) => {
    const SIZE = 300 * 1000 * 1000;
    const dir = await Deno.makeTempDir({ prefix: "mooz-files-" });
    try {
      const path = `${dir}/big.bin`;
      const expected = await writeTestFile(path, SIZE, 1313);
      w.log(`wrote ${SIZE / 1e6} MB to ${path} (sha-256 ${expected.slice(0, 16)}…)`);
      const [ada, bob, cat] = [
        await joinWithoutPicker(w, "Ada"),
        await joinWithoutPicker(w, "Bob"),
        await joinWithoutPicker(w, "Cat"),
      ];
      const all = [ada, bob, cat];
      await Promise.all(all.map((p) => waitForRemoteTiles(p.page, 2, { who: p.name })));
      const cdps = await Promise.all(all.map((p) => p.context.newCDPSession(p.page)));
      const baseline = await Promise.all(cdps.map(liveMemory));
      w.log(`memory before: ${baseline.map((b) => `${(b / MiB).toFixed(1)} MiB`).join(", ")}`);

      await shareFile(ada.page, path);
      await Promise.all([accept(bob.page, "big.bin"), accept(cat.page, "big.bin")]);
      const started = Date.now();
      w.log("Bob and Cat accepted");
      // Everyone chats while the file goes.
      for (const p of all) {
        await openChat(p.page);
        await watchChat(p.page);
      }

      const peak = [...baseline];
      const sent: { text: string; from: Participant }[] = [];
      let lastChat = 0, lastMemory = 0;
      let done = false;
      while (!done) {
        if (Date.now() - started > 480_000) throw new Error("the transfer took over 8 minutes");
        if (Date.now() - lastChat > 1_500) {
          lastChat = Date.now();
          const from = sent.length % 2 === 0 ? ada : bob;
          const text = `ping ${sent.length + 1} from ${from.name}`;
          await sendChat(from.page, text);
          sent.push({ text, from });
        }
        if (Date.now() - lastMemory > 5_000) {
          lastMemory = Date.now();
          const now = await Promise.all(cdps.map(liveMemory));
          now.forEach((m, i) => (peak[i] = Math.max(peak[i], m)));
        }
        const [b, c] = await Promise.all([filesState(bob.page), filesState(cat.page)]);
        for (const [who, s] of [["Bob", b], ["Cat", c]] as const) {
          const t = incoming(s, "big.bin");
          if (t?.state === "failed") throw new Error(`${who}'s transfer failed: ${t.detail}`);
        }
        done = incoming(b, "big.bin")?.state === "done" && incoming(c, "big.bin")?.state === "done";
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const seconds = (Date.now() - started) / 1000;
      w.log(
        `both received ${SIZE / 1e6} MB in ${seconds.toFixed(1)} s ` +
          `(${(2 * SIZE / 1e6 / seconds).toFixed(1)} MB/s sent in total)`,
      );
      const after = await Promise.all(cdps.map(liveMemory));
      after.forEach((m, i) => (peak[i] = Math.max(peak[i], m)));

      // Chat during the transfer: every message on every other page within a second.
      const seen = await Promise.all(all.map((p) => chatSeen(p.page)));
      assert.ok(sent.length >= 3, `only ${sent.length} chat messages went during the transfer`);
      const latencies: number[] = [];
      for (const { text, from } of sent) {
        const at = seen[all.indexOf(from)][text];
        assert.ok(at, `${from.name}'s own log never showed "${text}"`);
        for (const [i, p] of all.entries()) {
          if (p === from) continue;
          await until(`"${text}" to reach ${p.name}`, async () => (await chatSeen(p.page))[text]);
          const arrived = (await chatSeen(p.page))[text];
          latencies.push(arrived - at);
          assert.ok(
            arrived - at < 1_000,
            `"${text}" reached ${p.name} ${arrived - at} ms after ${from.name} sent it`,
          );
          seen[i][text] = arrived;
        }
      }
      w.log(`${sent.length} chat messages; latency max ${Math.max(...latencies)} ms`);

      // Flow control: never more queued than the high-water mark plus one frame.
      const sender = await filesState(ada.page);
      const buffered = Object.values(sender.maxBuffered);
      assert.equal(buffered.length, 2, "Ada sent to two peers");
      for (const b of buffered) {
        assert.ok(b <= DEFAULT_TUNING.highWater + MAX_FRAME, `${b} bytes queued on a channel`);
      }
      w.log(`most queued on a channel: ${(Math.max(...buffered) / MiB).toFixed(2)} MiB`);
      const out = outgoing(sender, "big.bin");
      assert.ok(out);
      assert.deepEqual(out.receivers.map((r) => r.state), ["done", "done"]);

      // Memory: what each page keeps alive grew by far less than the file.
      const growth = peak.map((m, i) => m - baseline[i]);
      w.log(
        `memory growth at peak: ${growth.map((g) => `${(g / MiB).toFixed(1)} MiB`).join(", ")}`,
      );
      for (const [i, g] of growth.entries()) {
        assert.ok(g < 64 * MiB, `${all[i].name}'s page kept ${(g / MiB).toFixed(1)} MiB more`);
      }

      // The files themselves: saved to the downloads, the same bytes as on Ada's disk.
      for (const p of [bob, cat]) {
        const hash = await saveAndHash(p.page, "big.bin", dir);
        assert.equal(hash, expected, `${p.name}'s download`);
        w.log(`${p.name}'s download has the same SHA-256`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  FILE,
);

meetingTest(
  "a receiver who reloads half-way receives only the missing pieces",
  { devices: "none", timeoutMs: 300_000 },
  async (w) => {
    const SIZE = 80 * MiB;
    const dir = await Deno.makeTempDir({ prefix: "mooz-files-" });
    try {
      const path = `${dir}/resume.bin`;
      const expected = await writeTestFile(path, SIZE, 7);
      const ada = await joinWithoutPicker(w, "Ada");
      const bob = await joinWithoutPicker(w, "Bob");
      await waitForRemoteTiles(ada.page, 1);
      await shareFile(ada.page, path);
      await accept(bob.page, "resume.bin");
      const total = SIZE / (4 * MiB);

      // Half-way (by Bob's own count of what he received), Bob reloads the page.
      await until("Bob to be half-way", async () => {
        const t = incoming(await filesState(bob.page), "resume.bin");
        return t !== undefined && t.done >= SIZE / 2;
      }, { timeoutMs: 120_000, intervalMs: 100 });
      const oldId = (await ada.page.evaluate(() =>
        // deno-lint-ignore no-explicit-any -- the diagnostics handle the contract documents
        (globalThis as any).__mooz.meeting.peers.value.map((p: any) => p.peer)
      ))[0];
      await bob.page.reload();
      w.log("Bob reloaded");
      await fillPreJoin(bob.page, "Bob", OFF);
      await bob.page.getByRole("button", { name: "Join meeting" }).click();
      await waitForRemoteTiles(bob.page, 1, { who: "Bob after the reload" });
      await received(bob.page, "Bob", "resume.bin", 180_000);

      const b = await filesState(bob.page);
      const t = incoming(b, "resume.bin")!;
      const held = b.heldAtStart[t.id];
      assert.ok(held.length >= 1 && held.length < total, `Bob kept ${held.length} pieces`);
      const a = await filesState(ada.page);
      const newId = Object.keys(a.served).map((k) => k.split(" ")[1]).find((p) => p !== oldId);
      assert.ok(newId, "Ada served the reloaded page");
      const servedAfter = a.served[`${t.id} ${newId}`];
      w.log(`Bob kept ${held.length} of ${total} pieces; Ada then sent ${servedAfter.length}`);
      for (const index of servedAfter) {
        assert.ok(!held.includes(index), `piece ${index} was sent again after the reload`);
      }
      assert.equal(new Set(servedAfter).size + held.length, total, "every piece is there");
      assert.equal(await saveAndHash(bob.page, "resume.bin", dir), expected);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  FILE,
);

meetingTest(
  "a piece damaged on the way is caught by its hash and fetched again",
  { devices: "none", timeoutMs: 240_000 },
  async (w) => {
    const SIZE = 20 * MiB;
    const dir = await Deno.makeTempDir({ prefix: "mooz-files-" });
    try {
      const path = `${dir}/damaged.bin`;
      const expected = await writeTestFile(path, SIZE, 99);
      const ada = await joinWithoutPicker(w, "Ada");
      const bob = await joinWithoutPicker(w, "Bob");
      await waitForRemoteTiles(ada.page, 1);
      await shareFile(ada.page, path);
      await until(
        "the offer to be out",
        async () => outgoing(await filesState(ada.page), "damaged.bin")?.state === "shared",
      );
      const id = outgoing(await filesState(ada.page), "damaged.bin")!.id;
      // The test hook: Ada flips a byte of piece 2 the next time she sends it.
      await ada.page.evaluate((key) => {
        // deno-lint-ignore no-explicit-any -- the diagnostics handle the contract documents
        (globalThis as any).__mooz.files.debug.sender.corrupt.add(key);
      }, `${id}:2`);
      await accept(bob.page, "damaged.bin");
      await received(bob.page, "Bob", "damaged.bin", 120_000);

      const b = await filesState(bob.page);
      assert.deepEqual(b.corrupt, [`${id}:2`], "Bob caught exactly the damaged piece");
      assert.equal(b.requested.filter((r) => r === `${id}:2`).length, 2, "and asked for it again");
      const a = await filesState(ada.page);
      const served = Object.entries(a.served).find(([k]) => k.startsWith(`${id} `))![1];
      assert.deepEqual(served.filter((i) => i === 2), [2, 2]);
      assert.equal(await saveAndHash(bob.page, "damaged.bin", dir), expected);
      // Nothing else was refused on the way.
      assert.deepEqual(b.dropped, {});
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  FILE,
);

/** Every axe-core violation (any impact, moderate included) inside the Files panel. */
async function panelViolations(page: Page): Promise<string[]> {
  const found: string[] = [];
  for (const v of await axeViolations(page)) {
    for (const node of v.nodes) {
      const inside = await page.evaluate(
        (target) => document.querySelector(target)?.closest("#files-panel") !== null,
        node.target.join(" "),
      );
      if (inside) found.push(`${v.id} (${v.impact}): ${v.help} at ${node.target.join(" ")}`);
    }
  }
  return found;
}

meetingTest(
  "the Files panel: drop to share, answer offers by keyboard, follow progress, accessible",
  { devices: "none", timeoutMs: 240_000 },
  async (w) => {
    const dir = await Deno.makeTempDir({ prefix: "mooz-files-" });
    try {
      const small = `${dir}/small.bin`, big = `${dir}/big.bin`;
      await writeTestFile(small, 1_000_000, 3);
      const bigHash = await writeTestFile(big, 40 * MiB, 4);
      const ada = await joinWithoutPicker(w, "Ada");
      const bob = await joinWithoutPicker(w, "Bob");
      await waitForRemoteTiles(ada.page, 1);

      // Dropping a file anywhere on the meeting shares it with everyone.
      await ada.page.evaluate(() => {
        const data = new DataTransfer();
        data.items.add(new File(["hello"], "dropped.txt", { type: "text/plain" }));
        for (const type of ["dragenter", "dragover"]) {
          document.body.dispatchEvent(
            new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }),
          );
        }
      });
      await ada.page.locator("[data-files-drop]").waitFor();
      assert.match(
        await ada.page.locator("[data-files-drop]").textContent() ?? "",
        /Drop to send to everyone/,
      );
      await ada.page.evaluate(() => {
        const data = new DataTransfer();
        data.items.add(new File(["hello"], "dropped.txt", { type: "text/plain" }));
        document.body.dispatchEvent(
          new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }),
        );
      });
      await ada.page.locator("[data-files-drop]").waitFor({ state: "detached" });
      await ada.page.getByRole("status").getByText(/Sharing dropped\.txt with everyone/).waitFor();
      // Bob hears of the offer (offers that come together make one toast).
      await bob.page.getByRole("status").getByText(
        "Ada wants to send you dropped.txt (5 bytes). Open Files to accept or decline.",
      ).waitFor({ timeout: 30_000 });
      await shareFile(ada.page, small);
      await shareFile(ada.page, big);

      // The Files button says how many offers wait for him.
      await until(
        "Files to say 3 waiting",
        async () => /3 waiting/.test(await description(control(bob.page, "Files"))),
      );
      await openFiles(bob.page);
      const panel = filesPanel(bob.page);
      await panel.getByRole("button", { name: "Accept big.bin" }).waitFor();
      assert.deepEqual(await panelViolations(bob.page), [], "axe, offers waiting");
      await assertAccessible(bob.page);

      // By keyboard: Enter accepts, Space declines.
      await panel.getByRole("button", { name: "Accept small.bin" }).focus();
      await bob.page.keyboard.press("Enter");
      await panel.getByRole("button", { name: "Decline dropped.txt" }).focus();
      await bob.page.keyboard.press(" ");
      await panel.getByRole("button", { name: "Accept big.bin" }).click();
      const bigRow = panel.locator("li[data-dir=in]", { hasText: "big.bin" });
      await bigRow.getByRole("progressbar", { name: "big.bin from Ada" }).waitFor();
      assert.deepEqual(await panelViolations(bob.page), [], "axe, while receiving");
      await received(bob.page, "Bob", "big.bin", 120_000);
      await received(bob.page, "Bob", "small.bin", 30_000);
      await panel.locator("li[data-dir=in][data-state=declined]", { hasText: "dropped.txt" })
        .waitFor();
      await panel.getByRole("button", { name: "Save big.bin" }).waitFor();
      assert.deepEqual(await panelViolations(bob.page), [], "axe, finished");
      await panel.getByRole("button", { name: "Remove dropped.txt" }).click();
      await panel.locator("li", { hasText: "dropped.txt" }).waitFor({ state: "detached" });
      assert.equal(await saveAndHash(bob.page, "big.bin", dir), bigHash);
      await panel.getByText("Saved to your browser's downloads.", { exact: false }).first()
        .waitFor();

      // Ada sees who has what.
      await openFiles(ada.page);
      const out = filesPanel(ada.page).getByRole("list", { name: "Receivers of dropped.txt" });
      await out.locator("li[data-state=declined]", { hasText: "Bob declined" }).waitFor();
      await filesPanel(ada.page).getByRole("list", { name: "Receivers of big.bin" })
        .locator("li[data-state=done]", { hasText: "Bob has it, verified" }).waitFor();
      assert.deepEqual(await panelViolations(ada.page), [], "axe, the sender's panel");
      await assertAccessible(ada.page);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
  FILE,
);
