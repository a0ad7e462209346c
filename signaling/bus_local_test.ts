/**
 * The bus's direct path between the isolates of one process (bus_local.ts), with real Deno KV and
 * a real BroadcastChannel: buses in one test process share it as isolates of one process do, and
 * a Worker (bus_test_worker.ts) is a real other isolate, sharing Deno's process-wide channel
 * queue as the isolates of `deno serve --parallel` do.
 */
import assert from "node:assert/strict";
import type { BusMessage } from "./bus.ts";
import type { Queued } from "./bus_batch.ts";
import {
  BULK_BYTES,
  channelId,
  channelName,
  LARGE_BYTES,
  LocalLinks,
  parseWire,
  RESEND_MS,
  type Wire,
} from "./bus_local.ts";
import type { WorkerCommand, WorkerReport } from "./bus_test_worker.ts";
import { busKeys } from "./keys.ts";
import {
  type BusNode,
  busNode,
  type BusNodeOptions,
  linked,
  memoryKv,
  nextTurn,
  sender,
} from "./bus_testing.ts";
import { elapse, waitFor } from "./testing.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";

/** A bus on `kv` (local: true unless `opts` says otherwise). */
const node = (kv: Deno.Kv, isolate: string, opts: Partial<BusNodeOptions> = {}): BusNode =>
  busNode(kv, isolate, { local: true, ...opts });

async function fileKv(): Promise<{ kv: Deno.Kv; path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "mooz_bus_local_" });
  const path = `${dir}/kv.sqlite`;
  const kv = await Deno.openKv(path);
  return {
    kv,
    path,
    async [Symbol.asyncDispose]() {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function signal(n: number, from = "AAAAAAAAAAAAAAAA", payload: unknown = { n }): BusMessage {
  return {
    kind: "signal",
    room: ROOM,
    from,
    to: "BBBBBBBBBBBBBBBB",
    payload: payload as BusMessage extends { payload: infer P } ? P : never,
  };
}

/** The `n` of each signal from `from`, in the order they arrived. */
function seqs(got: BusMessage[], from = "AAAAAAAAAAAAAAAA"): number[] {
  return got.filter((m) => m.kind === "signal" && m.from === from)
    .map((m) => (m.kind === "signal" ? (m.payload as { n: number }).n : -1));
}

const upTo = (count: number) => Array.from({ length: count }, (_, i) => i);
/** Large signals (LARGE_BYTES of payload) that make a flood: more than BULK_BYTES of them. */
const FLOOD = Math.ceil(BULK_BYTES / LARGE_BYTES) + 1;
const PAD = "x".repeat(LARGE_BYTES);
/** Signal `n` of a flood. */
const large = (n: number) => signal(n, "AAAAAAAAAAAAAAAA", { n, pad: PAD });

/** Whether anything was ever written to `isolate`'s inbox (its doorbell rings with each write). */
async function rung(kv: Deno.Kv, isolate: string): Promise<boolean> {
  return (await kv.get(busKeys.bell(isolate))).versionstamp !== null;
}

Deno.test("local: buses on one KV find each other on the channel and write nothing to KV; buses on another KV, even with the same ids, never hear them", async () => {
  using kv1 = await memoryKv();
  using kv2 = await memoryKv();
  await using a1 = node(kv1, "iso-a");
  await using b1 = node(kv1, "iso-b");
  await using a2 = node(kv2, "iso-a");
  await using b2 = node(kv2, "iso-b");
  await linked(a1, b1);
  await linked(a2, b2);
  assert.notEqual(await channelId(kv1), await channelId(kv2), "one channel per database");

  for (let n = 0; n < 100; n++) {
    a1.bus.send("iso-b", signal(n));
    a2.bus.send("iso-b", signal(n, "CCCCCCCCCCCCCCCC"));
  }
  await waitFor("both deliveries", () => b1.got.length === 100 && b2.got.length === 100);
  await Promise.all([a1.bus.settle(), a2.bus.settle()]);
  assert.deepEqual(seqs(b1.got), upTo(100));
  assert.deepEqual(seqs(b2.got, "CCCCCCCCCCCCCCCC"), upTo(100));
  assert.deepEqual([a1.bus.localPeers, a2.bus.localPeers], [["iso-b"], ["iso-b"]]);
  for (const a of [a1, a2]) {
    assert.equal(a.bus.stats.local, 100);
    assert.equal(a.bus.stats.sent, 0, "nothing written to KV");
    assert.equal(a.bus.stats.queuedBytes, 0, "every byte released once acknowledged");
  }
  assert.equal(b1.bus.stats.received, 100);
  assert.deepEqual([await rung(kv1, "iso-b"), await rung(kv2, "iso-b")], [false, false]);
});

Deno.test("local: an isolate not on the channel (another process, or gone) is sent to through KV", async () => {
  using kv = await memoryKv();
  await using a = node(kv, "iso-a");
  await using b = node(kv, "iso-b");
  // As another process on the same database: it never joins the channel.
  await using x = node(kv, "iso-x", { local: false });
  await linked(a, b);
  a.bus.send("iso-x", signal(1));
  a.bus.send("iso-b", signal(2));
  x.bus.send("iso-a", signal(3, "XXXXXXXXXXXXXXXX"));
  await waitFor(
    "x's message at a, a's at x and b",
    () => a.got.length === 1 && x.got.length === 1 && b.got.length === 1,
  );
  assert.deepEqual(seqs(x.got), [1]);
  assert.deepEqual(seqs(b.got), [2]);
  assert.deepEqual(seqs(a.got, "XXXXXXXXXXXXXXXX"), [3]);
  await a.bus.settle();
  assert.deepEqual([a.bus.stats.sent, a.bus.stats.local], [1, 1]);
  assert.deepEqual(a.bus.localPeers, ["iso-b"], "a KV message from x does not make x a peer");
  assert.equal(await rung(kv, "iso-b"), false);
});

Deno.test("local: a sender's messages keep their order across the switch from KV to the channel", async () => {
  // A file: commits take long enough for batches to be in flight when the switch happens.
  await using file = await fileKv();
  const { kv } = file;
  await using a = node(kv, "iso-a");
  await using c = node(kv, "iso-c");
  // b is there from the start but not on the channel yet: a and c write to its inbox.
  await using b = node(kv, "iso-b", { start: false });
  await linked(a, c);
  let n = 0;
  const sendTurn = () => {
    for (let i = 0; i < 5; i++, n++) {
      a.bus.send("iso-b", signal(n));
      c.bus.send("iso-b", signal(n, "CCCCCCCCCCCCCCCC"));
    }
  };
  for (let turn = 0; turn < 20; turn++) {
    sendTurn();
    await nextTurn();
  }
  b.bus.start();
  // Keep sending, one turn after the other, until both senders have carried plenty on the
  // channel: the switch happened with messages still on their way through KV.
  for (let turn = 0; turn < 5_000; turn++) {
    if (a.bus.stats.local >= 200 && c.bus.stats.local >= 200) break;
    sendTurn();
    await nextTurn();
  }
  await waitFor("every message at b", () => b.got.length === 2 * n);
  await Promise.all([a.bus.settle(), c.bus.settle()]);
  assert.deepEqual(seqs(b.got), upTo(n), "a's messages, once each, in order");
  assert.deepEqual(seqs(b.got, "CCCCCCCCCCCCCCCC"), upTo(n), "c's too");
  for (const sender of [a, c]) {
    assert.ok(sender.bus.stats.sent >= 100, `through KV first: ${sender.bus.stats.sent}`);
    assert.ok(sender.bus.stats.local >= 200, `then the channel: ${sender.bus.stats.local}`);
    assert.equal(sender.bus.stats.sent + sender.bus.stats.local, n);
  }
});

/** `kv` whose commits that write (not the inbox reads' deletes) wait while `hold` is on. */
function gatedWrites(kv: Deno.Kv): { kv: Deno.Kv; hold(): void; release(): void } {
  let gate: PromiseWithResolvers<void> | null = null;
  const gated = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          const set = op.set.bind(op);
          const commit = op.commit.bind(op);
          let writes = false;
          op.set = (...args) => {
            writes = true;
            return set(...args);
          };
          op.commit = async () => {
            if (writes) await gate?.promise;
            return commit();
          };
          return op;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    kv: gated,
    hold: () => void (gate = Promise.withResolvers<void>()),
    release: () => gate?.resolve(),
  };
}

/** `kv` whose listings (inbox reads) wait while `hold` is on. */
function gatedReads(kv: Deno.Kv): { kv: Deno.Kv; hold(): void; release(): void } {
  let gate: PromiseWithResolvers<void> | null = null;
  const gated = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          const wait = gate?.promise;
          if (!wait) return target.list(selector, options);
          return (async function* () {
            await wait;
            yield* target.list(selector, options);
          })();
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    kv: gated,
    hold: () => void (gate = Promise.withResolvers<void>()),
    release: () => {
      gate?.resolve();
      gate = null;
    },
  };
}

Deno.test("local: a KV write still on its way when the peer is found is delivered before anything on the channel", async () => {
  using kv = await memoryKv();
  const writes = gatedWrites(kv);
  await using a = node(writes.kv, "iso-a");
  await using c = node(kv, "iso-c");
  await linked(a, c); // a's channel is open
  await using b = node(kv, "iso-b", { start: false });
  writes.hold();
  try {
    for (let n = 0; n < 10; n++) a.bus.send("iso-b", signal(n));
    await waitFor("a's write to b's inbox under way", () => a.bus.stats.queuedBytes > 0);
    b.bus.start();
    // b's link to a is open once a answered it: a has found b, while its write still waits.
    await waitFor("b to reach a on the channel", () => b.bus.localPeers.includes("iso-a"));
    for (let n = 10; n < 20; n++) a.bus.send("iso-b", signal(n));
    await nextTurn();
    assert.deepEqual(b.got, [], "nothing overtakes the write");
  } finally {
    writes.release();
  }
  await waitFor("all 20 at b", () => b.got.length === 20);
  assert.deepEqual(seqs(b.got), upTo(20));
  await a.bus.settle();
  assert.deepEqual([a.bus.stats.sent, a.bus.stats.local], [10, 10]);
});

Deno.test("local: floods written one after another are read one after another, none waiting for the poll", async () => {
  using kv = await memoryKv();
  const reads = gatedReads(kv);
  await using a = node(kv, "iso-a");
  // No poll to speak of: each read must follow the one before at once.
  await using b = node(reads.kv, "iso-b", { pollMs: 600_000 });
  await linked(a, b);
  reads.hold();
  let n = 0;
  try {
    // Several floods, each written and announced while b cannot read: b holds the words.
    for (let flood = 0; flood < 4; flood++) {
      for (let i = 0; i < FLOOD; i++, n++) a.bus.send("iso-b", large(n));
      await waitFor(`flood ${flood} written`, () => a.bus.stats.localBulk === flood + 1);
    }
  } finally {
    reads.release();
  }
  await waitFor("every flood read", () => b.got.length === n);
  assert.deepEqual(seqs(b.got), upTo(n));
  // And each word answered in turn: a has nothing left waiting for b.
  let settled = false;
  a.bus.settle().then(() => (settled = true));
  await waitFor("every word acknowledged", () => settled);
});

Deno.test("local: stop() waits until what was posted is acknowledged, and says bye; later messages go through KV", async () => {
  using kv = await memoryKv();
  const a = node(kv, "iso-a");
  await using b = node(kv, "iso-b");
  try {
    await linked(a, b);
    // Under BULK_BYTES: on the channel itself.
    for (let n = 0; n < 100; n++) a.bus.send("iso-b", signal(n));
    await a.bus.stop(); // same turn: nothing was posted yet
    assert.deepEqual(seqs(b.got), upTo(100), "delivered before stop() returned");
    assert.deepEqual([a.bus.stats.local, a.bus.stats.sent], [100, 0]);
    assert.equal(a.bus.send("iso-b", signal(100)), "stopped");
    await waitFor("b to hear a's bye", () => b.bus.localPeers.length === 0);
    b.bus.send("iso-a", signal(0, "BBBBBBBBBBBBBBBB"));
    await b.bus.settle();
    assert.deepEqual([b.bus.stats.sent, b.bus.stats.local], [1, 0], "to a's inbox, as before");
    assert.ok(await rung(kv, "iso-a"));
  } finally {
    await a.bus.stop();
  }
});

Deno.test("local: two buses stopping at once, each with messages for the other, both finish", async () => {
  using kv = await memoryKv();
  const a = node(kv, "iso-a");
  const b = node(kv, "iso-b");
  await linked(a, b);
  for (let n = 0; n < 50; n++) {
    a.bus.send("iso-b", signal(n));
    b.bus.send("iso-a", signal(n, "BBBBBBBBBBBBBBBB"));
  }
  await Promise.all([a.bus.stop(), b.bus.stop()]);
  assert.deepEqual(seqs(b.got), upTo(50));
  assert.deepEqual(seqs(a.got, "BBBBBBBBBBBBBBBB"), upTo(50));
});

// ---------------------------------------------------------------------------------------------
// A peer that follows the protocol only as far as a test wants

/** An isolate on the channel that answers hellos and handshakes, and acknowledges on demand. */
class FakePeer implements Disposable {
  readonly isolate = "iso-fake";
  readonly epoch = "fake-epoch";
  /** Batches and `inbox` words received, in order. */
  readonly data: (Wire & { k: "data" | "inbox" })[] = [];
  #channel: BroadcastChannel;

  constructor(name: string) {
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (e) => this.#on(parseWire(e.data));
    this.post({ k: "hello" });
  }

  post(body: Record<string, unknown>): void {
    this.#channel.postMessage({ v: 1, from: this.isolate, epoch: this.epoch, ...body });
  }

  /** Acknowledges everything received so far. */
  ackAll(): void {
    const last = this.data.at(-1);
    if (!last) return;
    const next = Math.max(...this.data.map((d) => d.seq)) + 1;
    this.post({ k: "ack", to: last.from, toEpoch: last.epoch, link: last.link, next, nack: false });
  }

  #on(wire: Wire | null): void {
    if (!wire || wire.from === this.isolate) return;
    const back = { to: wire.from };
    if (wire.k === "hello") this.post({ k: "here", ...back });
    if (wire.k === "sync" && wire.to === this.isolate) {
      this.post({ k: "synced", ...back, toEpoch: wire.epoch, link: wire.link });
    }
    if ((wire.k === "data" || wire.k === "inbox") && wire.to === this.isolate) this.data.push(wire);
  }

  [Symbol.dispose](): void {
    this.#channel.close();
  }
}

Deno.test("local: what the channel has not acknowledged counts against the caps; it is posted again until acknowledged", async () => {
  using kv = await memoryKv();
  // A share (1/8) that holds more than BULK_BYTES.
  const cap = 16 * BULK_BYTES;
  await using a = node(kv, "iso-a", { maxQueuedBytes: cap });
  using fake = new FakePeer(channelName(await channelId(kv)));
  await waitFor("a to link to the fake peer", () => a.bus.localPeers.includes(fake.isolate));

  const flooder = sender();
  // Under BULK_BYTES each, so the first goes on the channel itself.
  const payload = "x".repeat(12 * 1024);
  assert.equal(a.bus.send(fake.isolate, signal(0, "F", payload), flooder), "queued");
  await waitFor("the batch posted", () => fake.data.length >= 1);
  const results = [];
  for (let n = 1; n < 40; n++) {
    results.push(a.bus.send(fake.isolate, signal(n, "F", payload), flooder));
  }
  // The share holds the one posted and unacknowledged, and more behind it.
  const queued = results.indexOf("sender-busy");
  assert.ok(queued * payload.length > BULK_BYTES, results.join());
  assert.ok(results.slice(queued).every((r) => r === "sender-busy"), results.join());
  assert.ok(a.bus.stats.queuedBytes <= cap / 8, `${a.bus.stats.queuedBytes}`);
  await waitFor("a copy posted again", () => fake.data.length >= 2, RESEND_MS * 20);
  assert.ok(a.bus.stats.resent >= 1);
  assert.ok(
    fake.data.every((d) => d.k === "data" && d.seq === 0),
    `the same batch again: ${fake.data.map((d) => `${d.k} ${d.seq}`)}`,
  );
  assert.equal(a.bus.send(fake.isolate, signal(40, "F", payload), flooder), "sender-busy");
  fake.ackAll();
  // Then those queued (over BULK_BYTES) go to the fake's inbox, and `inbox` says so.
  await waitFor("the rest written to the inbox", () => fake.data.some((d) => d.k === "inbox"));
  assert.equal(a.bus.stats.local, 1);
  assert.deepEqual([a.bus.stats.localBulk, a.bus.stats.sent], [1, queued]);
  assert.equal(a.bus.stats.queuedBytes, 0, "released once written");
  assert.equal(a.bus.send(fake.isolate, signal(41, "F", payload), flooder), "queued");
  fake.ackAll();
  await waitFor("the next batch", () => fake.data.some((d) => d.k === "data" && d.seq === 2));
  fake.ackAll();
  await a.bus.settle();
  assert.equal(a.bus.stats.queuedBytes, 0);
  assert.deepEqual(flooder.lost, []);
});

Deno.test("local: a peer silent past the timeout is given up: senders hear of what it never acknowledged, later messages go through KV", async () => {
  const name = `mooz-bus-test-${crypto.randomUUID()}`;
  using fake = new FakePeer(name);
  const lost: { target: string; entries: Queued[] }[] = [];
  const rerouted: { target: string; entries: Queued[] }[] = [];
  const links = new LocalLinks({
    isolate: "iso-a",
    name,
    stats: { local: 0, localBatches: 0, localBulk: 0, resent: 0 },
    deliver: () => {},
    carried: () => assert.fail("nothing is acknowledged"),
    lost: (target, entries) => lost.push({ target, entries }),
    reroute: (target, entries) => rerouted.push({ target, entries }),
    kvFlushed: () => Promise.resolve(),
    inboxRead: () => Promise.resolve(),
    writeInbox: () => assert.fail("two small messages stay on the channel"),
    peerTimeoutMs: 300,
  });
  try {
    await waitFor("the link to the fake peer", () => links.peers.includes(fake.isolate));
    const queued = (n: number): Queued => {
      const message = signal(n);
      return { message, bytes: new TextEncoder().encode(JSON.stringify(message)) };
    };
    assert.ok(links.offer(fake.isolate, queued(0)));
    assert.ok(links.offer(fake.isolate, queued(1)));
    await waitFor("the batch posted", () => fake.data.length >= 1);
    assert.equal(links.idle, false);
    await waitFor("the peer given up", () => lost.length > 0, 5_000);
    assert.deepEqual(lost.map((l) => [l.target, l.entries.map((e) => seqs([e.message]))]), [
      [fake.isolate, [[0], [1]]],
    ]);
    assert.deepEqual(rerouted, []);
    assert.ok(links.idle);
    assert.equal(links.offer(fake.isolate, queued(2)), false, "to KV from now on");
  } finally {
    links.close();
  }
});

Deno.test("local: anything else posted on the channel is ignored, and the bus goes on", async () => {
  using kv = await memoryKv();
  await using a = node(kv, "iso-a");
  await using b = node(kv, "iso-b");
  await linked(a, b);
  const junk = new BroadcastChannel(channelName(await channelId(kv)));
  try {
    const from = { v: 1, from: "iso-j", epoch: "e" };
    const to = { to: "iso-b", toEpoch: "whatever", link: 1 };
    const posts: unknown[] = [
      null,
      7,
      "hello",
      [],
      { v: 2, k: "hello", from: "iso-j", epoch: "e" },
      { ...from, k: "unknown" },
      { ...from, k: "hello", to: 5 },
      { ...from, k: "data", ...to, seq: -1, batch: new Uint8Array() },
      { ...from, k: "data", ...to, seq: 0, batch: "[]" },
      { ...from, k: "data", ...to, seq: 0, batch: new TextEncoder().encode("not json") },
      { ...from, k: "ack", ...to, next: 1.5, nack: false },
      { ...from, k: "sync", to: "iso-b", toEpoch: 1, link: 1 },
      // A bye in a's name from another run of it: b keeps its link to this run.
      { v: 1, from: "iso-a", epoch: "other", k: "bye" },
    ];
    for (const p of posts) junk.postMessage(p);
    for (let n = 0; n < 20; n++) a.bus.send("iso-b", signal(n));
    await waitFor("a's messages", () => b.got.length === 20);
    await a.bus.settle();
    assert.deepEqual(seqs(b.got), upTo(20));
    assert.equal(a.bus.stats.sent, 0);
  } finally {
    junk.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Real isolates

/** A bus in a Worker: another isolate of this process. */
class IsolateWorker implements AsyncDisposable {
  readonly #worker = new Worker(new URL("./bus_test_worker.ts", import.meta.url), {
    type: "module",
  });
  readonly #answers: ((value: unknown) => void)[] = [];

  constructor() {
    this.#worker.onmessage = (e) => this.#answers.shift()?.(e.data);
  }

  ask<T = unknown>(command: WorkerCommand): Promise<T> {
    return new Promise((resolve) => {
      this.#answers.push(resolve as (value: unknown) => void);
      this.#worker.postMessage(command);
    });
  }

  report(): Promise<WorkerReport> {
    return this.ask<WorkerReport>({ type: "report" });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.ask({ type: "stop" });
    this.#worker.terminate();
  }
}

Deno.test("local: thousands of messages each way between real isolates, in small bursts and floods, arrive once and in order", async () => {
  await using file = await fileKv();
  await using a = node(file.kv, "iso-a");
  await using worker = new IsolateWorker();
  await worker.ask({ type: "start", kvPath: file.path, isolate: "iso-w" });
  await waitFor(
    "the isolates to find each other",
    async () =>
      a.bus.localPeers.includes("iso-w") && (await worker.report()).peers.includes("iso-a"),
  );

  const COUNT = 5_000;
  // The worker sends all at once: small messages, so on the channel, as fast as it goes.
  const fromWorker = worker.ask({
    type: "send",
    to: "iso-a",
    from: "WWWWWWWWWWWWWWWW",
    count: COUNT,
  });
  // Here, two senders: a few at a time, then the rest at once, with a flood of large signals in
  // the middle (through the worker's inbox).
  for (let n = 0; n < COUNT; n++) {
    const flood = n >= COUNT / 2 && n < COUNT / 2 + 4 * FLOOD;
    a.bus.send("iso-w", flood ? large(n) : signal(n));
    a.bus.send("iso-w", signal(n, "CCCCCCCCCCCCCCCC"));
    if (n < COUNT / 2 && n % 20 === 19) await nextTurn();
  }
  await fromWorker;
  let report: WorkerReport | undefined;
  await waitFor("everything delivered both ways", async () => {
    report = await worker.report();
    const at = (from: string) => report!.received[from]?.length ?? 0;
    return at("AAAAAAAAAAAAAAAA") === COUNT && at("CCCCCCCCCCCCCCCC") === COUNT &&
      a.got.length === COUNT;
  }, 20_000);
  assert.deepEqual(report!.received["AAAAAAAAAAAAAAAA"], upTo(COUNT));
  assert.deepEqual(report!.received["CCCCCCCCCCCCCCCC"], upTo(COUNT));
  assert.deepEqual(seqs(a.got, "WWWWWWWWWWWWWWWW"), upTo(COUNT));
  await a.bus.settle();
  const { local, sent, localBulk, failed } = a.bus.stats;
  assert.equal(local + sent, 2 * COUNT, "each message once, on one path or the other");
  assert.ok(local > 0 && localBulk > 0, `channel ${local}, inbox ${sent} in ${localBulk} floods`);
  assert.equal(failed, 0);
  assert.equal(report!.stats.localBulk, 0, "small messages all went on the channel");
  assert.equal(report!.stats.local, COUNT);
});

Deno.test("local: a flood goes through the inbox in its place in the sequence: nothing before or after it overtakes it", async () => {
  using kv = await memoryKv();
  // b's inbox reads wait while the gate is shut: batches after the flood come in meanwhile.
  const reads = gatedReads(kv);
  await using a = node(kv, "iso-a");
  await using b = node(reads.kv, "iso-b");
  await linked(a, b);
  let n = 0;
  const burst = (count: number, make = signal) => {
    for (let i = 0; i < count; i++, n++) a.bus.send("iso-b", make(n));
  };
  burst(10); // on the channel
  await nextTurn();
  reads.hold();
  try {
    burst(FLOOD, large); // written to b's inbox
    await waitFor("the flood written", () => a.bus.stats.localBulk === 1);
    burst(10); // on the channel again, after it
    await waitFor("the batch after the flood posted", () => a.bus.stats.localBatches >= 2);
    await nextTurn();
    assert.deepEqual(seqs(b.got), upTo(10), "b waits for its inbox before going on");
  } finally {
    reads.release();
  }
  await waitFor("all at b", () => b.got.length === n);
  assert.deepEqual(seqs(b.got), upTo(n));
  await a.bus.settle();
  assert.deepEqual([a.bus.stats.local, a.bus.stats.sent], [20, FLOOD]);
});

/**
 * Stalls the worker's isolate (its thread waits: nothing there reads the channel), runs
 * `beforeOverflow`, overflows Deno's channel queue behind it (more than the 256 messages it keeps
 * for a receiver behind, on another name), runs `afterOverflow`, and lets the worker go on.
 */
async function stalled(
  worker: IsolateWorker,
  beforeOverflow: () => Promise<void>,
  afterOverflow: () => Promise<void>,
): Promise<void> {
  const flags = new SharedArrayBuffer(8);
  const view = new Int32Array(flags);
  const unblocked = worker.ask({ type: "block", flags });
  try {
    await waitFor("the worker blocked", () => Atomics.load(view, 1) === 1);
    await beforeOverflow();
    const flood = new BroadcastChannel(`mooz-bus-test-flood-${crypto.randomUUID()}`);
    for (let i = 0; i < 600; i++) flood.postMessage(i);
    await nextTurn();
    flood.close();
    await afterOverflow();
    await nextTurn();
  } finally {
    // Also when a check above failed: a blocked worker could not be stopped.
    Atomics.store(view, 0, 1);
    Atomics.notify(view, 0);
    await unblocked;
  }
}

async function withWorker(
  fn: (a: BusNode, worker: IsolateWorker, kv: Deno.Kv) => Promise<void>,
): Promise<void> {
  await using file = await fileKv();
  await using a = node(file.kv, "iso-a");
  await using worker = new IsolateWorker();
  await worker.ask({ type: "start", kvPath: file.path, isolate: "iso-w" });
  await waitFor(
    "the isolates to find each other",
    async () =>
      a.bus.localPeers.includes("iso-w") && (await worker.report()).peers.includes("iso-a"),
  );
  await fn(a, worker, file.kv);
}

/** Waits until the worker has `count` signals from a, and returns their numbers. */
async function receivedAt(worker: IsolateWorker, count: number): Promise<number[]> {
  let report: WorkerReport | undefined;
  await waitFor("every message delivered", async () => {
    report = await worker.report();
    return (report.received["AAAAAAAAAAAAAAAA"]?.length ?? 0) >= count;
  }, 20_000);
  return report!.received["AAAAAAAAAAAAAAAA"];
}

Deno.test("local: batches Deno's channel drops behind a stalled isolate are posted again, and arrive in order", async () => {
  await withWorker(async (a, worker) => {
    // Bursts under BULK_BYTES: on the channel itself.
    const burst = async (from: number) => {
      const posted = a.bus.stats.localBatches;
      for (let n = from; n < from + 100; n++) a.bus.send("iso-w", signal(n));
      await waitFor("the batch posted", () => a.bus.stats.localBatches > posted);
    };
    // The worker finds the first burst gone, and the second one (posted after) there: a gap.
    await stalled(worker, () => burst(0), () => burst(100));
    assert.deepEqual(await receivedAt(worker, 200), upTo(200), "once each, in order");
    await a.bus.settle();
    assert.ok(a.bus.stats.resent > 0, "the lost batch was posted again");
    assert.deepEqual([a.bus.stats.local, a.bus.stats.sent, a.bus.stats.failed], [200, 0, 0]);
  });
});

Deno.test("local: a flood waits for the inbox until what was posted before it is acknowledged", async () => {
  await withWorker(async (a, worker, kv) => {
    const before = a.bus.stats.localBatches;
    await stalled(worker, async () => {
      for (let n = 0; n < 100; n++) a.bus.send("iso-w", signal(n));
      await waitFor("the batch posted", () => a.bus.stats.localBatches > before);
    }, async () => {
      // The batch before is lost and comes again only after RESEND_MS; the worker reads its
      // inbox as soon as it is rung: written now, the flood would be first.
      for (let n = 100; n < 100 + FLOOD; n++) a.bus.send("iso-w", large(n));
      await elapse(200); // time for a write that must not happen
      assert.equal(await rung(kv, "iso-w"), false, "nothing written to the inbox yet");
      assert.equal(a.bus.stats.localBulk, 0);
    });
    assert.deepEqual(await receivedAt(worker, 100 + FLOOD), upTo(100 + FLOOD), "in order");
    await a.bus.settle();
    assert.ok(a.bus.stats.resent > 0, "the lost batch was posted again");
    assert.deepEqual([a.bus.stats.local, a.bus.stats.sent, a.bus.stats.localBulk], [100, FLOOD, 1]);
  });
});
