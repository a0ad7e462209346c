/**
 * A feature's own data channel in real Chromium: two pages run the meeting core itself (no app
 * UI, no devices) with a test feature that declares a `bulk` channel and a `ping` topic. One page
 * streams 16 MiB on the channel with flow control and, while megabytes are still queued, sends a
 * ping on the core channel; the ping must overtake the queued bulk data, and the bulk data must
 * arrive whole and in order.
 *
 * Runs only inside a loopback-only network namespace (see tests/meeting_harness.ts):
 * `CHROME_PATH=/usr/bin/chromium unshare -rn sh -c 'ip link set lo up && deno test -A
 * tests/feature_channel_test.ts'`.
 */
import assert from "node:assert/strict";
import { pageBundle } from "./page_bundle.ts";
import type { Page } from "playwright-core";
import type { defineFeature, PeerChannel } from "../mesh/feature.ts";
import type { MeetingCore } from "../mesh/meeting.ts";
import type { parseMeetingKey } from "../mesh/meeting_key.ts";
import { meetingTest, type Participant, until } from "./meeting_harness.ts";

const FILE = "tests/feature_channel_test.ts";

const MiB = 1024 * 1024;
/** The whole transfer, its pieces, and the flow control around them. */
const PLAN = {
  total: 16 * MiB,
  chunk: 64 * 1024,
  /** Wait for the queue to drain whenever more than this is queued… */
  highWater: 4 * MiB,
  /** …down to this. */
  lowWater: 3 * MiB,
  /** Send the ping once this much is queued on the bulk channel. */
  pingAt: 3 * MiB,
};
type Plan = typeof PLAN;

/** What the bundle puts on each page's `globalThis.moozCore`. */
interface CoreKit {
  MeetingCore: typeof MeetingCore;
  parseMeetingKey: typeof parseMeetingKey;
  defineFeature: typeof defineFeature;
}

/** One page's view of the test, read by the test through `page.evaluate`. */
interface BulkState {
  /** The core channel to the other page is open (the `link-open` event). */
  linkOpen: boolean;
  /** The bulk channel to the other page is open. */
  channelOpen: boolean;
  maxMessageSize: number;
  // Sender
  sent: number;
  sentChunks: number;
  sentHash: number;
  maxBuffered: number;
  sentBeforePing: number | null;
  bufferedAtPing: number | null;
  /** To how many peers the ping went (Topic.send's result). */
  pingRecipients: number | null;
  done: boolean;
  oversizeError: string | null;
  // Receiver
  received: number;
  receivedChunks: number;
  receivedHash: number;
  /** Bulk bytes received when the ping arrived, and what the ping said was sent before it. */
  receivedAtPing: number | null;
  pingSaid: number | null;
  /** The first thing that was not as sent (a wrong size, index or byte, a text message). */
  corrupt: string | null;
  errors: string[];
}

/** An IIFE that exposes the meeting core and `defineFeature` as `globalThis.moozCore`. */
function coreKit(): Promise<string> {
  return pageBundle(`
    import { MeetingCore } from "./mesh/meeting.ts";
    import { parseMeetingKey } from "./mesh/meeting_key.ts";
    import { defineFeature } from "./mesh/feature.ts";
    globalThis.moozCore = { MeetingCore, defineFeature, parseMeetingKey };
  `);
}

/**
 * Runs in each page (serialized by Playwright; it sees only the page's globals): creates the
 * meeting core with the test feature and joins `room` as `name`. The feature's state goes to
 * `globalThis.bulk`, the core to `globalThis.__mooz.meeting` (the harness's diagnostics read it).
 */
async function joinWithBulkFeature(
  args: { room: string; key: string; name: string; plan: Plan },
) {
  const { room, name, plan } = args;
  const g = globalThis as unknown as {
    moozCore: CoreKit;
    bulk: BulkState;
    bulkRun: () => Promise<void>;
    __mooz: { meeting: MeetingCore };
  };
  const { MeetingCore, defineFeature, parseMeetingKey } = g.moozCore;
  // Both pages share the world's key, as two people with one invite link do.
  const key = parseMeetingKey(args.key);
  if (!key.ok) throw new Error(`the test's meeting key is ${key.reason}`);
  const state: BulkState = g.bulk = {
    linkOpen: false,
    channelOpen: false,
    maxMessageSize: 0,
    sent: 0,
    sentChunks: 0,
    sentHash: 0x811c9dc5,
    maxBuffered: 0,
    sentBeforePing: null,
    bufferedAtPing: null,
    pingRecipients: null,
    done: false,
    oversizeError: null,
    received: 0,
    receivedChunks: 0,
    receivedHash: 0x811c9dc5,
    receivedAtPing: null,
    pingSaid: null,
    corrupt: null,
    errors: [],
  };
  /** FNV-1a over `bytes`, continuing from `hash`. */
  const fnv = (hash: number, bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193) >>> 0;
    return hash;
  };
  /** Chunk `index`: its index in the first 4 bytes, then a pattern that depends on both. */
  const chunkBytes = (index: number) => {
    const bytes = new Uint8Array(plan.chunk);
    for (let j = 4; j < bytes.length; j++) bytes[j] = (index * 251 + j * 13 + (j >>> 8)) & 255;
    new DataView(bytes.buffer).setUint32(0, index);
    return bytes;
  };

  let channel: PeerChannel | null = null;
  const feature = defineFeature("bulk-test", (ctx) => {
    const bulk = ctx.channel("bulk");
    const ping = ctx.topic("ping", {
      validate: (body) => {
        const sent = (body as { sentBeforePing?: unknown } | null)?.sentBeforePing;
        return typeof sent === "number" && Number.isSafeInteger(sent) && sent >= 0
          ? { sentBeforePing: sent }
          : null;
      },
    });
    ctx.on("link-open", () => (state.linkOpen = true));
    bulk.onOpen((ch) => {
      channel = ch;
      state.channelOpen = true;
      state.maxMessageSize = ch.maxMessageSize;
      ch.onClose(() => (state.channelOpen = false));
      ch.onMessage((data) => {
        if (state.corrupt) return;
        if (typeof data === "string" || data.byteLength !== plan.chunk) {
          state.corrupt = `message ${state.receivedChunks}: ${
            typeof data === "string" ? "text" : `${data.byteLength} bytes`
          }`;
          return;
        }
        const bytes = new Uint8Array(data);
        const index = new DataView(data).getUint32(0);
        const want = chunkBytes(state.receivedChunks);
        if (index !== state.receivedChunks || bytes.some((b, j) => b !== want[j])) {
          state.corrupt = `message ${state.receivedChunks}: carries chunk ${index} or other bytes`;
          return;
        }
        state.receivedHash = fnv(state.receivedHash, bytes);
        state.received += data.byteLength;
        state.receivedChunks++;
      });
    });
    ping.onMessage((_from, message) => {
      state.receivedAtPing = state.received;
      state.pingSaid = message.sentBeforePing;
    });
    return { ping };
  });

  const core = new MeetingCore({ room, key, features: [feature], origin: location.origin });
  g.__mooz = { meeting: core };
  await core.join(name);
  const { ping } = core.feature(feature);

  /** The sender's part: started by the test once both sides are open. */
  g.bulkRun = async () => {
    const ch = channel;
    if (!ch) throw new Error("the bulk channel is not open");
    try {
      while (state.sent < plan.total) {
        if (ch.bufferedAmount > plan.highWater) await ch.drained(plan.lowWater);
        const bytes = chunkBytes(state.sentChunks);
        ch.send(bytes);
        state.sentHash = fnv(state.sentHash, bytes);
        state.sent += bytes.length;
        state.sentChunks++;
        state.maxBuffered = Math.max(state.maxBuffered, ch.bufferedAmount);
        if (state.sentBeforePing === null && ch.bufferedAmount >= plan.pingAt) {
          state.sentBeforePing = state.sent;
          state.bufferedAtPing = ch.bufferedAmount;
          state.pingRecipients = ping.send(ch.peer, { sentBeforePing: state.sent });
        }
      }
      // One message over the limit the other side accepts: refused before it reaches the channel.
      try {
        ch.send(new Uint8Array(ch.maxMessageSize + 1));
      } catch (err) {
        state.oversizeError = (err as Error).message;
      }
      state.done = true;
    } catch (err) {
      state.errors.push(String(err));
    }
  };
}

async function bulkState(page: Page): Promise<BulkState> {
  return await page.evaluate(() => ({ ...(globalThis as unknown as { bulk: BulkState }).bulk }));
}

meetingTest(
  "a feature's own data channel carries bulk data without delaying messages",
  { devices: "none", timeoutMs: 240_000 },
  async (w) => {
    const kit = coreKit();
    const [a, b] = await Promise.all(["A", "B"].map((name) => w.open(name)));
    const source = await kit;
    await Promise.all([a, b].map(async (p: Participant) => {
      // The live server's own origin: its signaling accepts sockets from there only.
      await p.page.goto(`${w.origin}/`);
      await p.page.evaluate(source);
      await p.page.evaluate(joinWithBulkFeature, {
        room: w.room,
        key: w.key,
        name: p.name,
        plan: PLAN,
      });
    }));
    w.log("A and B run the meeting core with the bulk-test feature");

    const ready = await Promise.all([a, b].map((p) =>
      until(
        `${p.name}'s core channel and bulk channel to open`,
        async () => {
          const s = await bulkState(p.page);
          return s.linkOpen && s.channelOpen ? s : undefined;
        },
        { timeoutMs: 45_000, describe: () => bulkState(p.page) },
      )
    ));
    const maxMessageSize = ready[0].maxMessageSize;
    assert.ok(
      maxMessageSize >= PLAN.chunk,
      `the channel takes ${PLAN.chunk}-byte messages (max ${maxMessageSize})`,
    );
    w.log(`both channels open (max message size ${maxMessageSize} bytes)`);

    const started = Date.now();
    await a.page.evaluate(() => {
      const g = globalThis as unknown as { bulkRun: () => Promise<void> };
      void g.bulkRun();
    });
    let lastA: BulkState | undefined, lastB: BulkState | undefined;
    await until(
      `B to receive all ${PLAN.total / MiB} MiB`,
      async () => {
        [lastA, lastB] = await Promise.all([bulkState(a.page), bulkState(b.page)]);
        if (lastA.errors.length > 0 || lastB.corrupt) return true; // asserted below
        return lastA.done && lastB.received >= PLAN.total;
      },
      {
        timeoutMs: 150_000,
        intervalMs: 250,
        describe: () => ({ a: lastA, b: lastB }),
      },
    );
    const seconds = (Date.now() - started) / 1000;
    const [sender, receiver] = await Promise.all([bulkState(a.page), bulkState(b.page)]);
    assert.deepEqual(sender.errors, [], "the sender's loop failed");
    assert.equal(receiver.corrupt, null, "B received something other than what A sent");
    w.log(
      `${PLAN.total / MiB} MiB in ${seconds.toFixed(1)} s ` +
        `(${(PLAN.total / MiB / seconds).toFixed(1)} MiB/s); at most ` +
        `${(sender.maxBuffered / MiB).toFixed(2)} MiB queued`,
    );

    // Everything, intact, in order.
    assert.equal(receiver.received, PLAN.total);
    assert.equal(receiver.receivedChunks, PLAN.total / PLAN.chunk);
    assert.equal(sender.sent, PLAN.total);
    assert.equal(receiver.receivedHash, sender.sentHash, "checksums of sent and received bytes");
    // Flow control kept the queue near the high-water mark, never near Chromium's limit.
    assert.ok(sender.maxBuffered <= PLAN.highWater + PLAN.chunk, `queued ${sender.maxBuffered}`);

    // The ping overtook the queued bulk data. Sent while at least 3 MiB were queued on the bulk
    // channel, it arrived when B had received less than `sentBeforePing - 1 MiB`. Had it shared
    // one ordered channel (one SCTP stream) with the bulk data, it could only be delivered after
    // every byte sent before it, so `receivedAtPing >= sentBeforePing` and this would fail.
    assert.equal(sender.pingRecipients, 1, "the ping went to B");
    assert.ok(sender.sentBeforePing !== null, `never ${PLAN.pingAt} bytes queued`);
    assert.equal(receiver.pingSaid, sender.sentBeforePing);
    assert.ok(receiver.receivedAtPing !== null, "B never got the ping");
    w.log(
      `ping sent after ${(sender.sentBeforePing / MiB).toFixed(2)} MiB with ` +
        `${(sender.bufferedAtPing! / MiB).toFixed(2)} MiB queued; B had received ` +
        `${(receiver.receivedAtPing / MiB).toFixed(2)} MiB when it arrived`,
    );
    assert.ok(
      receiver.receivedAtPing + MiB < sender.sentBeforePing,
      `the ping arrived after ${receiver.receivedAtPing} bulk bytes, but only ` +
        `${sender.sentBeforePing} had been sent before it: it waited for the bulk data`,
    );

    // A message over the channel's limit is refused with the channel's own explanation.
    assert.equal(
      sender.oversizeError,
      `A message is over the ${maxMessageSize}-byte limit of this channel: send it in ` +
        "smaller pieces.",
    );
    const after = await Promise.all([bulkState(a.page), bulkState(b.page)]);
    assert.ok(after.every((s) => s.channelOpen), "the channel stays open after the refusal");
    assert.equal(after[1].received, PLAN.total, "nothing more arrived");
    w.log("a message over maxMessageSize was refused with peer_channel.ts's error");
  },
  FILE,
);
