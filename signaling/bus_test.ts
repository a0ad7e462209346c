/**
 * The message bus between isolates: real Deno KV (in memory, and a temp file). Buses with
 * `local: false` use KV only (as between processes); the others also find each other on the
 * channel between isolates of one process (bus_local_test.ts tests that path on its own).
 */
import assert from "node:assert/strict";
import { Bus, type BusMessage, type BusSendResult } from "./bus.ts";
import { configFromEnv } from "./config.ts";
import { busKeys } from "./keys.ts";
import { BUS_SENDER_SHARE, CONFIG_MINIMUMS } from "./limits.ts";
import { MAX_PAYLOAD_BYTES } from "./protocol.ts";
import {
  type BusNode,
  busNode,
  type BusNodeOptions,
  linked,
  memoryKv,
  nextTurn,
  sender,
} from "./bus_testing.ts";
import { waitFor } from "./testing.ts";

/** Deno KV's largest value, in bytes. */
const KV_MAX_VALUE_BYTES = 65_536;

/** A bus on `kv` (local: false unless `opts` says otherwise). */
const node = (kv: Deno.Kv, isolate: string, opts: Partial<BusNodeOptions> = {}): BusNode =>
  busNode(kv, isolate, { local: false, ...opts });

/**
 * KV handles on a temp file, the default store of a deployment. Its commits are slow enough
 * (disk) for a turn of the event loop to pass while a batch is written.
 */
async function fileKv(handles = 1): Promise<{ kvs: Deno.Kv[] } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "mooz_bus_" });
  const kvs: Deno.Kv[] = [];
  for (let i = 0; i < handles; i++) kvs.push(await Deno.openKv(`${dir}/kv.sqlite`));
  return {
    kvs,
    async [Symbol.asyncDispose]() {
      for (const kv of kvs) {
        try {
          kv.close();
        } catch {
          // A test closed it already.
        }
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function signal(n: number, payload: unknown = n, from = "AAAAAAAAAAAAAAAA"): BusMessage {
  return {
    kind: "signal",
    room: "k3fq-9xmp-2hdw-7rtc-a4ze",
    from,
    to: "BBBBBBBBBBBBBBBB",
    payload: payload as BusMessage extends { payload: infer P } ? P : never,
  };
}

const FLOODER = "FFFFFFFFFFFFFFFF";
const CALM = "CCCCCCCCCCCCCCCC";

const seqOf = (m: BusMessage) => (m.kind === "signal" ? (m.payload as { n: number }).n : -1);

/** The inbox entries waiting for `isolate`, with the size of each stored value. */
async function inbox(kv: Deno.Kv, isolate: string): Promise<{ key: Deno.KvKey; bytes: number }[]> {
  const out = [];
  for await (const e of kv.list({ prefix: ["inbox", isolate] })) {
    const v = e.value;
    const bytes = v instanceof Uint8Array
      ? v.byteLength
      : typeof v === "string"
      ? v.length
      : JSON.stringify(v).length;
    out.push({ key: e.key, bytes });
  }
  return out;
}

for (const local of [false, true]) {
  const path = local ? "the channel" : "KV";
  Deno.test(`bus: messages arrive once, in the order each sender sent them (${path})`, async () => {
    using kv = await memoryKv();
    await using a = node(kv, "iso-a", { local });
    await using c = node(kv, "iso-c", { local });
    await using b = node(kv, "iso-b", { local });
    if (local) await linked(a, b, c);
    // Two senders, interleaved over many turns; each one's order must hold at the receiver.
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 25; i++) {
        const n = turn * 25 + i;
        a.bus.send("iso-b", signal(n, { n }, "AAAAAAAAAAAAAAAA"));
        c.bus.send("iso-b", signal(n, { n }, "CCCCCCCCCCCCCCCC"));
      }
      await nextTurn();
    }
    await waitFor("1,000 messages at b", () => b.got.length >= 1_000);
    await Promise.all([a.bus.settle(), b.bus.settle(), c.bus.settle()]);
    assert.equal(b.got.length, 1_000);
    for (const from of ["AAAAAAAAAAAAAAAA", "CCCCCCCCCCCCCCCC"]) {
      const seqs = b.got.filter((m) => m.kind === "signal" && m.from === from).map(seqOf);
      assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i), `order from ${from}`);
    }
    assert.equal(b.bus.stats.received, 1_000);
    assert.deepEqual(a.got, []);
    assert.deepEqual(await inbox(kv, "iso-b"), [], "the inbox is emptied");
    // Each path carried everything it should, and nothing went the other way.
    for (const sender of [a, c]) {
      assert.equal(sender.bus.stats[local ? "local" : "sent"], 500);
      assert.equal(sender.bus.stats[local ? "sent" : "local"], 0);
      assert.equal(sender.bus.stats.queuedBytes, 0);
    }
  });
}

Deno.test("bus: 1,000 signals sent in one turn take a handful of KV writes", async () => {
  using kv = await memoryKv();
  await using a = node(kv, "iso-a");
  await using b = node(kv, "iso-b");
  for (let n = 0; n < 1_000; n++) a.bus.send("iso-b", signal(n, { n, candidate: "x".repeat(60) }));
  await waitFor("all 1,000 delivered", () => b.got.length >= 1_000);
  await a.bus.settle();
  assert.equal(a.bus.stats.sent, 1_000);
  // ~200 KB of messages in 48 KiB batches: a few values, not one per message.
  assert.ok(a.bus.stats.batches >= 2 && a.bus.stats.batches <= 10, `${a.bus.stats.batches}`);
  // And those batches go in one commit: KV's cost is per commit far more than per byte.
  assert.equal(a.bus.stats.writes, 1);
  assert.deepEqual(b.got.map(seqOf), Array.from({ length: 1_000 }, (_, i) => i));
});

Deno.test("bus: large payloads are split into values KV accepts, and all arrive", async () => {
  using kv = await memoryKv();
  await using a = node(kv, "iso-a");
  // Not started yet: the messages wait in its inbox, where their sizes can be checked.
  await using b = node(kv, "iso-b", { start: false });
  // Payloads at the protocol's limit (32 KiB of UTF-8 as JSON), including the worst cases for
  // storage: a non-Latin-1 character makes a string two bytes per character, and numbers
  // take more room stored than as JSON.
  const ascii = "a".repeat(MAX_PAYLOAD_BYTES - 2);
  const wide = "€" + "a".repeat(MAX_PAYLOAD_BYTES - 5);
  const numbers = Array.from({ length: 8_000 }, () => 0.5);
  const payloads = [ascii, wide, numbers, wide, ascii, { small: true }];
  for (const p of payloads) {
    assert.ok(new TextEncoder().encode(JSON.stringify(p)).length <= MAX_PAYLOAD_BYTES);
  }
  payloads.forEach((p, n) => a.bus.send("iso-b", signal(n, p)));
  await a.bus.settle();
  assert.equal(a.bus.stats.sent, payloads.length, "every message was written");
  const stored = await inbox(kv, "iso-b");
  assert.ok(stored.length >= 5, `${stored.length} values for five ~32 KiB payloads`);
  for (const { bytes } of stored) assert.ok(bytes < KV_MAX_VALUE_BYTES, `${bytes} bytes`);

  b.bus.start();
  await waitFor("all delivered", () => b.got.length >= payloads.length);
  assert.deepEqual(b.got.map((m) => m.kind === "signal" && m.payload), payloads);
});

Deno.test("bus: a multi-batch write is not overtaken by messages sent while it is written", async () => {
  await using file = await fileKv();
  const [kv] = file.kvs;
  await using a = node(kv, "iso-a");
  await using b = node(kv, "iso-b");
  const big = "x".repeat(30_000); // one batch each
  let n = 0;
  for (let i = 0; i < 4; i++) a.bus.send("iso-b", signal(n, { n: n++, big }));
  // Keep sending small messages, one turn at a time, while those batches are being written.
  while (a.bus.stats.batches < 4 && n < 10_000) {
    await nextTurn();
    a.bus.send("iso-b", signal(n, { n: n++ }));
  }
  await waitFor("everything delivered", () => b.got.length >= n);
  assert.deepEqual(b.got.map(seqOf), Array.from({ length: n }, (_, i) => i));
});

Deno.test("bus: stop() writes what was sent before it, then ends cleanly", async () => {
  using kv = await memoryKv();
  const a = node(kv, "iso-a");
  await using b = node(kv, "iso-b", { start: false });
  a.bus.send("iso-b", signal(1, { n: 1 }));
  await a.bus.stop(); // same turn as the send
  assert.equal((await inbox(kv, "iso-b")).length, 1, "written before stop() returned");
  a.bus.send("iso-b", signal(2, { n: 2 })); // after stop: ignored
  await a.bus.settle();
  assert.equal((await inbox(kv, "iso-b")).length, 1);
  assert.equal(a.bus.stats.sent, 1);
  await a.bus.stop(); // twice is fine

  b.bus.start();
  await waitFor("the message sent before stop", () => b.got.length === 1);
  await b.bus.stop();
  // A stopped bus no longer reads its inbox.
  await using c = node(kv, "iso-c");
  c.bus.send("iso-b", signal(3, { n: 3 }));
  await c.bus.settle();
  assert.equal((await inbox(kv, "iso-b")).length, 1);
  assert.deepEqual(b.got.map(seqOf), [1]);
});

Deno.test("bus: two KV handles on one file (as two processes would be) still deliver", async () => {
  await using file = await fileKv(2);
  const [kv1, kv2] = file.kvs;
  // Declared after `file`, so the buses stop before the handles close.
  await using a = node(kv1, "iso-a", { pollMs: 20 });
  await using b = node(kv2, "iso-b", { pollMs: 20 });
  for (let n = 0; n < 50; n++) a.bus.send("iso-b", signal(n, { n }));
  await waitFor("delivery across handles", () => b.got.length >= 50);
  assert.deepEqual(b.got.map(seqOf), Array.from({ length: 50 }, (_, i) => i));
  b.bus.send("iso-a", signal(7, { n: 7 }));
  await waitFor("the answer", () => a.got.length === 1);
  assert.deepEqual(a.got.map(seqOf), [7]);
});

Deno.test("bus: inbox entries that are not batches, and messages this version does not know, are dropped; the rest arrive", async () => {
  using kv = await memoryKv();
  await using b = node(kv, "iso-b", { start: false });
  const room = "k3fq-9xmp-2hdw-7rtc-a4ze";
  const bytes = (text: string) => new TextEncoder().encode(text);
  const values = [
    "a string, not bytes",
    bytes(JSON.stringify({ kind: "roster", room })), // not an array
    bytes(JSON.stringify([{ kind: "teleport", room }, signal(1, { n: 1 }), { kind: "roster" }])),
    bytes("[{"),
    bytes(JSON.stringify([signal(2, { n: 2 })])),
  ];
  for (const [i, value] of values.entries()) {
    await kv.set(busKeys.message("iso-b", i, "iso-x", i), value);
  }
  const errors: unknown[][] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    b.bus.start();
    await waitFor("the inbox read", async () => (await inbox(kv, "iso-b")).length === 0);
    await b.bus.settle();
  } finally {
    console.error = log;
  }
  assert.deepEqual(b.got.map(seqOf), [1, 2]);
  assert.equal(b.bus.stats.received, 2);
  assert.equal(errors.length, 4, "each dropped entry is logged");
});

// ---------------------------------------------------------------------------------------------
// Backpressure

/** A socket's handle on the bus, recording the messages the bus reports lost. */

/** A payload at the protocol's limit: 32 KiB of JSON. */
const MAX_PAYLOAD = "x".repeat(MAX_PAYLOAD_BYTES - 2);

Deno.test("bus: the smallest accepted budget still lets a sender queue a signal of the largest size", () => {
  const note = signal(0, MAX_PAYLOAD);
  const bytes = new TextEncoder().encode(JSON.stringify(note)).length;
  assert.ok(CONFIG_MINIMUMS.busMaxQueuedBytes / BUS_SENDER_SHARE >= bytes);
  // Below that, the server refuses to start, naming the variable and its minimum.
  const env = (value: string) => (k: string) =>
    k === "MOOZ_BUS_MAX_QUEUED_BYTES" ? value : undefined;
  assert.equal(configFromEnv(env("524288")).busMaxQueuedBytes, CONFIG_MINIMUMS.busMaxQueuedBytes);
  assert.throws(
    () => configFromEnv(env("524287")),
    /MOOZ_BUS_MAX_QUEUED_BYTES=524287 .* at least 524288/,
  );
});

Deno.test("bus: a flooding sender is refused past its share, the queue stays under the cap, and another sender's messages all arrive in order", async () => {
  await using file = await fileKv();
  const [kv] = file.kvs;
  const cap = 512 * 1024;
  const got: BusMessage[] = [];
  const opts = { kv, pollMs: 50, local: false };
  const a = new Bus({ ...opts, isolate: "iso-a", onMessage: () => {}, maxQueuedBytes: cap });
  const b = new Bus({ ...opts, isolate: "iso-b", onMessage: (m) => got.push(m) });
  b.start();
  try {
    assert.deepEqual(a.limits, { maxQueuedBytes: cap, maxSenderBytes: cap / BUS_SENDER_SHARE });
    const flooder = sender();
    const calm = sender();
    const flood = { sent: 0, refused: 0 };
    let calmSent = 0;
    // 40 turns: each, the flooder sends 20 signals of the largest size (far more than KV takes
    // in a turn), the calm sender one small signal.
    for (let turn = 0; turn < 40; turn++) {
      for (let i = 0; i < 20; i++) {
        const result = a.send("iso-b", signal(flood.sent++, MAX_PAYLOAD, FLOODER), flooder);
        if (result !== "queued") {
          assert.equal(result, "sender-busy");
          flood.refused++;
        }
      }
      assert.equal(a.send("iso-b", signal(calmSent, { n: calmSent++ }, CALM), calm), "queued");
      assert.ok(a.stats.queuedBytes <= cap / BUS_SENDER_SHARE + 1024, `${a.stats.queuedBytes}`);
      await nextTurn();
    }
    const arrived = (from: string) => got.filter((m) => m.kind === "signal" && m.from === from);
    await waitFor(
      "every queued signal delivered",
      () => arrived(FLOODER).length + flood.refused === flood.sent && arrived(CALM).length === 40,
    );
    await a.settle();
    assert.ok(flood.refused > 0, "the flood was refused in part");
    assert.ok(arrived(FLOODER).length > 0, "and passed in part");
    assert.equal(a.stats.refused, flood.refused);
    assert.ok(a.stats.peakQueuedBytes <= cap / BUS_SENDER_SHARE + 1024);
    assert.equal(a.stats.queuedBytes, 0, "everything written is released");
    // Nothing lost, nothing duplicated, order kept (with gaps where signals were refused).
    const seqs = arrived(FLOODER).map((m) => m.kind === "signal" && m.payload);
    assert.ok(seqs.every((p) => p === MAX_PAYLOAD));
    assert.deepEqual(arrived(CALM).map(seqOf), Array.from({ length: 40 }, (_, i) => i));
    assert.deepEqual([flooder.lost, calm.lost], [[], []]);
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("bus: many flooding senders stop short of the cap, light senders still get through, notes always go", async () => {
  await using file = await fileKv();
  const [kv] = file.kvs;
  const cap = 512 * 1024;
  let received = 0;
  const opts = { kv, pollMs: 50, local: false };
  const a = new Bus({ ...opts, isolate: "iso-a", onMessage: () => {}, maxQueuedBytes: cap });
  const b = new Bus({ ...opts, isolate: "iso-b", onMessage: () => received++ });
  b.start();
  try {
    const floodResults: BusSendResult[] = [];
    // One turn: 3 × BUS_SENDER_SHARE senders each send two signals of the largest size.
    const flooders = Array.from({ length: 3 * BUS_SENDER_SHARE }, sender);
    for (const s of flooders) {
      for (let i = 0; i < 2; i++) floodResults.push(a.send("iso-b", signal(i, MAX_PAYLOAD), s));
    }
    const count = (r: BusSendResult) => floodResults.filter((x) => x === r).length;
    assert.deepEqual(count("bus-busy"), 0, "the shares shrink before the cap is reached");
    assert.ok(count("sender-busy") > 0 && count("queued") > 0);
    const flooded = a.stats.queuedBytes;
    // A share shrinks in proportion to the free budget: a 33 KiB signal needs its sender's share
    // (64 KiB on an empty bus) × free / cap >= 33 KiB, so about half the budget stays free.
    assert.ok(flooded <= cap / 2 + MAX_PAYLOAD_BYTES, `${flooded} bytes queued`);

    // Senders with little queued (an ICE candidate each) all get through.
    const light = Array.from({ length: 100 }, sender);
    for (const [i, s] of light.entries()) {
      assert.equal(a.send("iso-b", signal(i, { candidate: "x".repeat(200) }), s), "queued");
    }
    // Up to the cap itself, and not a byte past it: 15 KiB each, under the reserve.
    const chunk = "y".repeat(15 * 1024);
    let last: BusSendResult = "queued";
    let filled = 0;
    while (last === "queued") {
      last = a.send("iso-b", signal(filled, chunk), sender());
      if (last === "queued") filled++;
    }
    assert.equal(last, "bus-busy");
    assert.ok(a.stats.queuedBytes <= cap && a.stats.queuedBytes > cap - 16 * 1024);
    assert.equal(a.stats.peakQueuedBytes, a.stats.queuedBytes);
    // Room notes are the server's own, small and few: never refused, even now.
    assert.equal(a.send("iso-b", { kind: "roster", room: "k3fq-9xmp-2hdw-7rtc-a4ze" }), "queued");

    const queued = count("queued") + light.length + filled + 1;
    await waitFor("all queued messages delivered", () => received === queued);
    await a.settle();
    assert.equal(a.stats.queuedBytes, 0);
    assert.equal(a.stats.refused, count("sender-busy") + 1);
    // With the queue written, the same senders may send again.
    assert.equal(a.send("iso-b", signal(9, MAX_PAYLOAD), flooders[0]), "queued");
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("bus: a write KV refuses is reported to the sender of each message in it, and its bytes released", async () => {
  using kv = await memoryKv();
  await using b = node(kv, "iso-b");
  const a = new Bus({ kv, isolate: "iso-a", pollMs: 50, onMessage: () => {}, local: false });
  const errors: unknown[][] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    const small = sender();
    const huge = sender();
    // Larger than a KV value can be: the bus does not check sizes (the protocol does, at 32 KiB),
    // so this is a write KV really refuses. Sent in one turn, the three share that write.
    const tooLarge = "x".repeat(KV_MAX_VALUE_BYTES + 10);
    assert.equal(a.send("iso-b", signal(1, { n: 1 }), small), "queued");
    assert.equal(a.send("iso-b", signal(2, tooLarge), huge), "queued");
    assert.equal(a.send("iso-b", { kind: "roster", room: "k3fq-9xmp-2hdw-7rtc-a4ze" }), "queued");
    await a.settle();
    assert.deepEqual(huge.lost.map((m) => m.kind === "signal" && m.payload), [tooLarge]);
    assert.deepEqual(small.lost.map(seqOf), [1]);
    assert.equal(a.stats.failed, 3);
    assert.equal(a.stats.queuedBytes, 0);
    assert.ok(
      errors.some((e) => String(e[0]).startsWith("Dropped 3 message(s) for isolate iso-b, 2 ")),
      "the note without a sender is logged",
    );
    // The next write is unaffected.
    assert.equal(a.send("iso-b", signal(3, { n: 3 }), small), "queued");
    await waitFor("the next signal delivered", () => b.got.length === 1);
    assert.deepEqual(b.got.map(seqOf), [3]);
    assert.equal(small.lost.length, 1);
  } finally {
    console.error = log;
    await a.stop();
  }
});

Deno.test("bus: when its KV is gone, every sender hears of its lost messages", async () => {
  await using file = await fileKv(2);
  const [kv1, kv2] = file.kvs;
  await using b = node(kv2, "iso-b");
  const a = new Bus({ kv: kv1, isolate: "iso-a", pollMs: 50, onMessage: () => {}, local: false });
  const errors: unknown[][] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    const s1 = sender();
    const s2 = sender();
    a.send("iso-b", signal(1, { n: 1 }), s1);
    await a.settle();
    await waitFor("the first signal delivered", () => b.got.length === 1);
    kv1.close(); // what a lost connection to a remote KV looks like to the bus
    for (let n = 2; n < 6; n++) a.send("iso-b", signal(n, { n }), n % 2 ? s1 : s2);
    await a.settle();
    assert.deepEqual(s1.lost.map(seqOf), [3, 5]);
    assert.deepEqual(s2.lost.map(seqOf), [2, 4]);
    assert.equal(a.stats.failed, 4);
    assert.equal(a.stats.queuedBytes, 0);
    const dropped = errors.filter((e) => /^Dropped/.test(String(e[0])));
    assert.deepEqual(dropped.map((e) => String(e[0]).split(",")[0]), [
      "Dropped 4 message(s) for isolate iso-b",
    ]);
  } finally {
    console.error = log;
    await a.stop();
  }
});

for (const local of [false, true]) {
  const path = local ? "the channel" : "KV";
  Deno.test(`bus: host-control notes (deliver, lobby, a close with by and unreachable) arrive as sent, in order (${path})`, async () => {
    using kv = await memoryKv();
    await using a = node(kv, "iso-a", { local });
    await using b = node(kv, "iso-b", { local });
    if (local) await linked(a, b);
    const room = "k3fq-9xmp-2hdw-7rtc-a4ze";
    const notes: BusMessage[] = [
      {
        kind: "deliver",
        room,
        to: "BBBBBBBBBBBBBBBB",
        message: { type: "muted", what: "audio", by: "AAAAAAAAAAAAAAAA" },
      },
      { kind: "lobby", room, knock: "KKKKKKKKKKKKKKKK", ended: false },
      {
        kind: "close",
        room,
        peer: "BBBBBBBBBBBBBBBB",
        code: "evicted",
        evictionCode: "kicked",
        reason: "A host removed you from the meeting.",
        by: "AAAAAAAAAAAAAAAA",
      },
      {
        kind: "close",
        room,
        peer: "CCCCCCCCCCCCCCCC",
        code: "evicted",
        evictionCode: "mesh-incomplete",
        reason: "could not connect to 1 of 2 participants",
        unreachable: ["DDDDDDDDDDDDDDDD"],
      },
      { kind: "close", room, peer: "EEEEEEEEEEEEEEEE", code: "replaced", reason: "r", after: "0a" },
      { kind: "lobby", room, knock: "LLLLLLLLLLLLLLLL", ended: true },
      { kind: "roster", room },
    ];
    for (const note of notes) assert.equal(a.bus.send("iso-b", note), "queued");
    await waitFor("every note delivered", () => b.got.length === notes.length);
    assert.deepEqual(b.got, notes);
    assert.equal(a.bus.stats[local ? "local" : "sent"], notes.length);
  });
}
