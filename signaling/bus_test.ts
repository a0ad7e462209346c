/** The KV message bus between isolates: real Deno KV (in memory, and a temp file). */
import assert from "node:assert/strict";
import { Bus, type BusMessage } from "./bus.ts";
import { MAX_PAYLOAD_BYTES } from "./protocol.ts";
import { waitFor } from "./testing.ts";

/** Deno KV's largest value, in bytes. */
const KV_MAX_VALUE_BYTES = 65_536;

interface Node extends AsyncDisposable {
  bus: Bus;
  got: BusMessage[];
}

function node(kv: Deno.Kv, isolate: string, opts: { pollMs?: number; start?: boolean } = {}): Node {
  const got: BusMessage[] = [];
  const bus = new Bus({ kv, isolate, pollMs: opts.pollMs ?? 50, onMessage: (m) => got.push(m) });
  if (opts.start ?? true) bus.start();
  return { bus, got, [Symbol.asyncDispose]: () => bus.stop() };
}

async function memoryKv(): Promise<Deno.Kv & Disposable> {
  const kv = await Deno.openKv(":memory:");
  return Object.assign(kv, { [Symbol.dispose]: () => kv.close() });
}

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
      for (const kv of kvs) kv.close();
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

const seqOf = (m: BusMessage) => (m.kind === "signal" ? (m.payload as { n: number }).n : -1);

/** A turn of the event loop: the bus writes what was sent in one turn together. */
const nextTurn = () => new Promise((r) => setTimeout(r, 0));

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

Deno.test("bus: messages arrive once, in the order each sender sent them", async () => {
  using kv = await memoryKv();
  await using a = node(kv, "iso-a");
  await using c = node(kv, "iso-c");
  await using b = node(kv, "iso-b");
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
});

Deno.test("bus: 1,000 signals sent in one turn take a handful of KV writes", async () => {
  using kv = await memoryKv();
  await using a = node(kv, "iso-a");
  await using b = node(kv, "iso-b");
  for (let n = 0; n < 1_000; n++) a.bus.send("iso-b", signal(n, { n, candidate: "x".repeat(60) }));
  await waitFor("all 1,000 delivered", () => b.got.length >= 1_000);
  await a.bus.settle();
  assert.equal(a.bus.stats.sent, 1_000);
  // ~200 KB of messages in 48 KiB batches: a few writes, not one per message.
  assert.ok(a.bus.stats.batches >= 2 && a.bus.stats.batches <= 10, `${a.bus.stats.batches}`);
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
