/**
 * File sharing's engine on real feature hosts joined by a TestMesh, whose in-memory feature
 * channels behave as Chromium's do (256 KiB messages, a `bufferedAmount` that drains as the other
 * side reads, "send queue is full" past 16 MiB). Stores are in memory (`MemoryStore`); the
 * browser's origin-private file system is exercised by tests/files_test.ts.
 */
import assert from "node:assert/strict";
import { TestMesh } from "../../mesh/testing.ts";
import type { PeerId } from "../../mesh/types.ts";
import { type Files, filesFeature } from "./files.ts";
import { manifestRoot, sha256 } from "./manifest.ts";
import { MemoryStore } from "./store.ts";
import {
  DEFAULT_TUNING,
  type IncomingView,
  type OutgoingView,
  type SaveTarget,
  type Tuning,
} from "./types.ts";
import {
  dataFrame,
  manifestFrame,
  manifestRequestFrame,
  newOfferId,
  offerIdBytes,
  pieceRequestFrame,
  pieceStoredFrame,
} from "./wire.ts";

const MiB = 1024 * 1024;
const LABEL = "f:files/data";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds; fails after `timeoutMs` with `what` and the last `describe`. */
async function until(
  what: string,
  check: () => boolean,
  describe?: () => unknown,
  timeoutMs = 10_000,
): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`Timed out waiting for ${what}: ${Deno.inspect(describe?.(), { depth: 5 })}`);
    }
    await sleep(10);
  }
}

/** `size` deterministic bytes (a xorshift stream), different for each `seed`. */
function content(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(size / 4));
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < size; i++) bytes[i] = i & 255;
  return bytes;
}

function fileOf(name: string, size: number, seed = 1): File {
  return new File([content(size, seed)], name, { type: "application/octet-stream" });
}

async function bytesOf(blob: Blob): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await blob.arrayBuffer());
}

interface Meeting {
  mesh: TestMesh;
  stores: Map<PeerId, MemoryStore>;
  of(peer: PeerId): Files;
  /** Joins a participant with its own (or a given) store; not linked yet. */
  add(peer: PeerId, store?: MemoryStore): Files;
  incoming(peer: PeerId, name?: string): IncomingView | undefined;
  outgoing(peer: PeerId, name?: string): OutgoingView | undefined;
  end(): void;
}

/**
 * Mallory's end of her files channel to `peer`, taken from her own (honest) feature: what `peer`
 * sends her is collected in the array returned, and nothing answers it but the test.
 */
function hijack(
  m: Meeting,
  peer: PeerId,
): { channel: ReturnType<TestMesh["channel"]>; got: unknown[] } {
  const channel = m.mesh.channel("mal", peer, LABEL);
  const got: unknown[] = [];
  channel.onmessage = (e) => got.push(e.data);
  return { channel, got };
}

/** Whether a frame of `type` (wire.ts FRAME) is among `frames`. */
function asked(frames: unknown[], type: number): boolean {
  return frames.some((f) => f instanceof ArrayBuffer && new Uint8Array(f)[0] === type);
}

/** A meeting of `peers` with file sharing, every link open (and every files channel). */
async function meetingOf(
  peers: PeerId[],
  opts: {
    tuning?: Partial<Tuning>;
    quota?: number;
    bytesPerTick?: number;
    writeDelayMs?: number;
  } = {},
): Promise<Meeting> {
  const mesh = new TestMesh([], { bytesPerTick: opts.bytesPerTick ?? 2 * MiB });
  const stores = new Map<PeerId, MemoryStore>();
  const instances = new Map<PeerId, Files>();
  const hosts: ReturnType<TestMesh["host"]>[] = [];
  const tuning = { stallMs: 2_000, ...opts.tuning };
  const add = (peer: PeerId, store = new MemoryStore(opts.quota, opts.writeDelayMs)) => {
    stores.set(peer, store);
    const host = mesh.add(peer);
    hosts.push(host);
    const files = host.create(filesFeature({ store, tuning }));
    instances.set(peer, files);
    return files;
  };
  for (const peer of peers) add(peer);
  mesh.connectAll();
  await mesh.flush();
  const of = (peer: PeerId) => instances.get(peer)!;
  return {
    mesh,
    stores,
    of,
    add,
    incoming: (peer, name) =>
      of(peer).transfers.value.find((t): t is IncomingView =>
        t.dir === "in" && (name === undefined || t.name === name)
      ),
    outgoing: (peer, name) =>
      of(peer).transfers.value.find((t): t is OutgoingView =>
        t.dir === "out" && (name === undefined || t.name === name)
      ),
    end: () => hosts.forEach((h) => h.emit("ended", { kind: "left", message: "" })),
  };
}

Deno.test("a file offered to everyone: each decides, nothing is written before accepting, the bytes arrive whole", async () => {
  const m = await meetingOf(["ada", "bob", "cat"]);
  try {
    const original = fileOf("report.bin", 10 * MiB + 12_345);
    m.of("ada").share([original], "all");
    await until(
      "offers to reach Bob and Cat",
      () => m.incoming("bob")?.state === "offered" && m.incoming("cat")?.state === "offered",
    );
    const offer = m.incoming("bob")!;
    assert.equal(offer.name, "report.bin");
    assert.equal(offer.size, original.size);
    assert.equal(offer.fromName, "Ada");
    assert.equal(m.of("bob").waiting.value, 1);
    await until("the toast", () => m.mesh.notices("bob").length > 0);
    assert.equal(
      m.mesh.notices("bob").at(-1)!.text,
      "Ada wants to send you report.bin (10.5 MB). Open Files to accept or decline.",
    );
    // Consent first: nothing stored anywhere yet.
    assert.equal(m.stores.get("bob")!.folders.size, 0);
    assert.equal(m.stores.get("cat")!.folders.size, 0);

    await m.of("bob").accept(offer.id);
    m.of("cat").decline(offer.id);
    await until(
      "Bob to have it",
      () => m.incoming("bob")?.state === "done",
      () => m.incoming("bob"),
    );
    assert.equal(m.incoming("bob")!.location, "browser");
    const received = await m.of("bob").file(offer.id);
    assert.deepEqual(await sha256(await bytesOf(received!)), await sha256(await bytesOf(original)));

    await until("Ada to see Bob done and Cat declined", () => {
      const rows = m.outgoing("ada")?.receivers ?? [];
      return rows.find((r) => r.name === "Bob")?.state === "done" &&
        rows.find((r) => r.name === "Cat")?.state === "declined";
    }, () => m.outgoing("ada"));
    assert.equal(m.stores.get("cat")!.folders.size, 0, "Cat declined: nothing stored");
    assert.equal(m.incoming("cat")!.state, "declined");
    // Every piece sent once, and the queue never deeper than the high-water mark plus a frame.
    assert.deepEqual(m.of("ada").debug.sender.served.get(`${offer.id} bob`), [0, 1, 2]);
    const channel = m.mesh.channel("ada", "bob", LABEL);
    const { highWater, lowWater } = DEFAULT_TUNING;
    assert.ok(channel.maxBufferedAmount <= highWater + 256 * 1024, `${channel.maxBufferedAmount}`);
    assert.ok(channel.maxBufferedAmount > lowWater, "the flow control let the queue fill");
  } finally {
    m.end();
  }
});

Deno.test("a file shared with one person reaches only them; a newcomer gets what is shared with everyone", async () => {
  const m = await meetingOf(["ada", "bob", "cat"]);
  try {
    m.of("ada").share([fileOf("for-bob.txt", 1000)], "bob");
    m.of("ada").share([fileOf("for-all.txt", 2000, 2)], "all");
    await until(
      "Bob's two offers",
      () => m.of("bob").transfers.value.filter((t) => t.dir === "in").length === 2,
    );
    await until("Cat's offer", () => m.incoming("cat", "for-all.txt") !== undefined);
    assert.equal(m.incoming("cat", "for-bob.txt"), undefined);

    m.add("dan");
    m.mesh.connectAll();
    await until(
      "the newcomer to be offered the file for everyone",
      () => m.incoming("dan", "for-all.txt")?.state === "offered",
    );
    assert.equal(m.incoming("dan", "for-bob.txt"), undefined);
    await m.of("dan").accept(m.incoming("dan")!.id);
    await until("Dan to have it", () => m.incoming("dan", "for-all.txt")?.state === "done");
  } finally {
    m.end();
  }
});

Deno.test("files shared together make one toast", async () => {
  const m = await meetingOf(["ada", "bob"]);
  try {
    m.of("ada").share([fileOf("a.txt", 1000), fileOf("b.txt", 2000), fileOf("c.txt", 3000)], "all");
    await until(
      "the three offers",
      () => m.of("bob").transfers.value.filter((t) => t.state === "offered").length === 3,
    );
    await until("the toast", () => m.mesh.notices("bob").length > 0);
    await sleep(400);
    assert.deepEqual(m.mesh.notices("bob").map((n) => n.text), [
      "Ada wants to send you 3 files (6 KB): a.txt and 2 more. Open Files to accept or decline.",
    ]);
    assert.equal(m.of("bob").waiting.value, 3);
  } finally {
    m.end();
  }
});

Deno.test("an empty file and a file of exactly one piece", async () => {
  const m = await meetingOf(["ada", "bob"]);
  try {
    m.of("ada").share([fileOf("empty", 0), fileOf("one", 4 * MiB, 3)], "bob");
    await until(
      "both offers",
      () => m.of("bob").transfers.value.filter((t) => t.state === "offered").length === 2,
    );
    for (const t of m.of("bob").transfers.value) await m.of("bob").accept(t.id);
    await until(
      "both to arrive",
      () => m.of("bob").transfers.value.every((t) => t.state === "done"),
      () => m.of("bob").transfers.value,
    );
    assert.equal((await m.of("bob").file(m.incoming("bob", "empty")!.id))!.size, 0);
    const one = await m.of("bob").file(m.incoming("bob", "one")!.id);
    assert.deepEqual(await bytesOf(one!), content(4 * MiB, 3));
  } finally {
    m.end();
  }
});

Deno.test("a link that drops half-way: on the new link only the missing pieces are asked for", async () => {
  // A slow link, so that the drop lands in the middle.
  const m = await meetingOf(["ada", "bob"], { bytesPerTick: 512 * 1024 });
  try {
    const original = fileOf("big.bin", 40 * MiB, 4);
    m.of("ada").share([original], "bob");
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const id = m.incoming("bob")!.id;
    await m.of("bob").accept(id);
    await until("Bob to hold 4 pieces", () => m.stores.get("bob")!.writes.length >= 4);
    m.mesh.disconnect("ada", "bob");
    await until("Bob to pause", () => m.incoming("bob")?.state === "paused");
    assert.match(m.incoming("bob")!.detail, /connection to Ada dropped/);
    const held = new Set(m.stores.get("bob")!.writes.map((w) => w.index));
    const servedBefore = m.of("ada").debug.sender.served.get(`${id} bob`)!.length;

    m.mesh.connect("ada", "bob");
    await until(
      "Bob to have it",
      () => m.incoming("bob")?.state === "done",
      () => m.incoming("bob"),
    );
    const servedAfter = m.of("ada").debug.sender.served.get(`${id} bob`)!.slice(servedBefore);
    assert.ok(servedAfter.length > 0);
    for (const index of servedAfter) assert.ok(!held.has(index), `piece ${index} sent again`);
    const writes = m.stores.get("bob")!.writes.map((w) => w.index);
    assert.equal(new Set(writes).size, writes.length, "no piece stored twice");
    assert.deepEqual(await bytesOf((await m.of("bob").file(id))!), await bytesOf(original));
  } finally {
    m.end();
  }
});

Deno.test("a receiver that reloads (new peer id, same storage) resumes from the pieces it kept", async () => {
  const m = await meetingOf(["ada", "bob"], { bytesPerTick: 512 * 1024 });
  try {
    const original = fileOf("big.bin", 40 * MiB, 5);
    m.of("ada").share([original], "bob"); // to Bob alone: the new page must prove the offer id
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const id = m.incoming("bob")!.id;
    await m.of("bob").accept(id);
    const store = m.stores.get("bob")!;
    await until("Bob to hold 5 pieces", () => store.writes.length >= 5);
    m.of("bob"); // its page goes away…
    m.mesh.remove("bob");
    const kept = new Set(store.writes.map((w) => w.index));

    // …and comes back with a new peer id and the same storage.
    const bob2 = m.add("bob2", store);
    await until("the kept file to be listed, paused", () => m.incoming("bob2")?.state === "paused");
    assert.match(m.incoming("bob2")!.detail, /Continues when Ada shares it again/);
    m.mesh.connectAll();
    await until(
      "the new page to resume and finish",
      () => m.incoming("bob2")?.state === "done",
      () => m.incoming("bob2"),
    );
    assert.deepEqual(new Set(bob2.debug.receiver.heldAtStart.get(id)), kept);
    const served = m.of("ada").debug.sender.served.get(`${id} bob2`)!;
    for (const index of served) assert.ok(!kept.has(index), `piece ${index} sent again`);
    assert.equal(served.length + kept.size, 10, "every piece exactly once overall");
    assert.deepEqual(await bytesOf((await bob2.file(id))!), await bytesOf(original));
    await until(
      "Ada to see the new page done",
      () => m.outgoing("ada")!.receivers.find((r) => r.peer === "bob2")?.state === "done",
    );
  } finally {
    m.end();
  }
});

Deno.test("a slow disk holds the transfer back instead of filling memory with pieces", async () => {
  const m = await meetingOf(["ada", "bob"], { writeDelayMs: 150, bytesPerTick: 8 * MiB });
  try {
    m.of("ada").share([fileOf("big.bin", 64 * MiB, 12)], "bob");
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const id = m.incoming("bob")!.id;
    await m.of("bob").accept(id);
    const store = m.stores.get("bob")!;
    const { requested } = m.of("bob").debug.receiver;
    let most = 0;
    while (m.incoming("bob")?.state !== "done") {
      // Pieces asked for and not stored yet: each has (or will have) a 4 MiB buffer.
      most = Math.max(most, requested.length - store.writes.length);
      await sleep(5);
    }
    const limit = DEFAULT_TUNING.memory / (4 * MiB);
    assert.ok(most <= limit, `${most} pieces in memory at once (at most ${limit})`);
    assert.ok(store.maxWriting <= limit);
  } finally {
    m.end();
  }
});

Deno.test("the same file shared again after its sender left continues from the kept pieces", async () => {
  const m = await meetingOf(["ada", "bob"], { bytesPerTick: 512 * 1024 });
  try {
    m.of("ada").share([fileOf("big.bin", 40 * MiB, 13)], "bob");
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const first = m.incoming("bob")!.id;
    await m.of("bob").accept(first);
    const store = m.stores.get("bob")!;
    await until("Bob to hold 4 pieces", () => store.writes.length >= 4);
    m.mesh.remove("ada");
    await until("Bob to pause", () => m.incoming("bob")?.state === "paused");
    assert.match(m.incoming("bob")!.detail, /Ada left the meeting\. If they share it again/);
    const kept = new Set(store.writes.map((w) => w.index));

    // Ada comes back (a new page, a new peer id) and shares the same file: a new offer.
    const ada2 = m.add("ada2");
    m.mesh.connectAll();
    ada2.share([fileOf("big.bin", 40 * MiB, 13)], "bob");
    await until(
      "the new offer",
      () => m.of("bob").transfers.value.some((t) => t.dir === "in" && t.state === "offered"),
    );
    const again = m.of("bob").transfers.value.find((t) => t.state === "offered") as IncomingView;
    assert.notEqual(again.id, first);
    assert.ok(again.alreadyHere >= 4 * 4 * MiB, `${again.alreadyHere} bytes already here`);
    await m.of("bob").accept(again.id);
    await until("Bob to have it", () => m.incoming("bob")?.state === "done");
    const served = ada2.debug.sender.served.get(`${again.id} bob`)!;
    for (const index of served) assert.ok(!kept.has(index), `piece ${index} sent again`);
    assert.equal(served.length + kept.size, 10);
    assert.equal(
      m.of("bob").transfers.value.filter((t) => t.dir === "in").length,
      1,
      "the interrupted try gave way to the new one",
    );
    assert.deepEqual(
      await bytesOf((await m.of("bob").file(again.id))!),
      content(40 * MiB, 13),
    );
  } finally {
    m.end();
  }
});

Deno.test("what earlier pages kept is listed, and removed after a day", async () => {
  const store = new MemoryStore();
  const offer = (root: string) => ({
    id: newOfferId(),
    name: `${root.slice(0, 4)}.bin`,
    size: 8 * MiB,
    type: "",
    pieceSize: 4 * MiB,
    root,
  });
  const old = await store.open({
    v: 1,
    offer: offer("aa".repeat(32)),
    from: "ada",
    fromName: "Ada",
    at: Date.now() - 25 * 3600_000,
  });
  await old.write(0, new Uint8Array(4 * MiB));
  const recent = await store.open({
    v: 1,
    offer: offer("bb".repeat(32)),
    from: "ada",
    fromName: "Ada",
    at: Date.now() - 3600_000,
  });
  await recent.write(1, new Uint8Array(4 * MiB));
  const m = await meetingOf([]);
  try {
    const bob = m.add("bob", store);
    await until("the kept file to be listed", () => bob.transfers.value.length === 1);
    const [kept] = bob.transfers.value as IncomingView[];
    assert.equal(kept.name, "bbbb.bin");
    assert.equal(kept.state, "paused");
    assert.equal(kept.alreadyHere, 4 * MiB);
    assert.deepEqual([...store.folders.keys()], ["bb".repeat(32)], "the day-old one is gone");
  } finally {
    m.end();
  }
});

Deno.test("a damaged piece is detected by its hash and asked for again", async () => {
  const m = await meetingOf(["ada", "bob"]);
  try {
    const original = fileOf("big.bin", 20 * MiB, 6);
    m.of("ada").share([original], "bob");
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const id = m.incoming("bob")!.id;
    m.of("ada").debug.sender.corrupt.add(`${id}:2`);
    await m.of("bob").accept(id);
    await until(
      "Bob to have it",
      () => m.incoming("bob")?.state === "done",
      () => m.incoming("bob"),
    );
    assert.deepEqual(m.of("bob").debug.receiver.corrupt, [`${id}:2`]);
    const requests = m.of("bob").debug.receiver.requested.filter((r) => r === `${id}:2`);
    assert.equal(requests.length, 2, "piece 2 asked for twice");
    assert.deepEqual(m.of("ada").debug.sender.served.get(`${id} bob`)!.filter((i) => i === 2), [
      2,
      2,
    ]);
    assert.deepEqual(await bytesOf((await m.of("bob").file(id))!), await bytesOf(original));
  } finally {
    m.end();
  }
});

Deno.test("a piece damaged every time: the transfer fails with a clear message and keeps nothing damaged", async () => {
  const m = await meetingOf(["ada", "bob"]);
  try {
    m.of("ada").share([fileOf("bad.bin", 6 * MiB, 7)], "bob");
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const id = m.incoming("bob")!.id;
    const corrupt = m.of("ada").debug.sender.corrupt;
    const keepDamaging = setInterval(() => corrupt.add(`${id}:1`), 1);
    try {
      await m.of("bob").accept(id);
      await until("Bob to give up", () => m.incoming("bob")?.state === "failed");
    } finally {
      clearInterval(keepDamaging);
    }
    assert.match(m.incoming("bob")!.detail, /kept arriving damaged from Ada \(3 times\)/);
    assert.ok(!m.stores.get("bob")!.writes.some((w) => w.index === 1));
    await until("Ada to see it failed", () => m.outgoing("ada")!.receivers[0].state === "failed");
  } finally {
    m.end();
  }
});

Deno.test("cancel on either side: the receiver's deletes what arrived; the sender's stops it for them", async () => {
  const m = await meetingOf(["ada", "bob", "cat"], { bytesPerTick: 256 * 1024 });
  try {
    m.of("ada").share([fileOf("big.bin", 30 * MiB, 8)], "all");
    await until(
      "offers",
      () => m.incoming("bob")?.state === "offered" && m.incoming("cat")?.state === "offered",
    );
    const id = m.incoming("bob")!.id;
    await m.of("bob").accept(id);
    await m.of("cat").accept(id);
    await until(
      "both to hold a piece",
      () => m.stores.get("bob")!.writes.length > 0 && m.stores.get("cat")!.writes.length > 0,
    );

    await m.of("bob").cancel(id);
    await until("Bob's view to say cancelled", () => m.incoming("bob")!.state === "cancelled");
    assert.equal(m.stores.get("bob")!.folders.size, 0, "what arrived is deleted");
    await until(
      "Ada to see Bob cancelled",
      () => m.outgoing("ada")!.receivers.find((r) => r.peer === "bob")?.state === "cancelled",
    );
    const servedToBob = m.of("ada").debug.sender.served.get(`${id} bob`)!.length;

    m.of("ada").stop(id);
    await until("Cat to hear it stopped", () => m.incoming("cat")?.state === "stopped");
    assert.match(m.incoming("cat")!.detail, /Ada stopped sharing it/);
    await sleep(100);
    assert.equal(m.of("ada").debug.sender.served.get(`${id} bob`)!.length, servedToBob);
    assert.equal(m.outgoing("ada")!.state, "stopped");
  } finally {
    m.end();
  }
});

Deno.test("a chosen file gets the whole file once verified, and this browser keeps no copy", async () => {
  const m = await meetingOf(["ada", "bob"]);
  try {
    const original = fileOf("photo.raw", 9 * MiB, 9);
    m.of("ada").share([original], "bob");
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const chunks: Uint8Array[] = [];
    const target: SaveTarget = {
      name: "photo (1).raw",
      createWritable: () =>
        Promise.resolve(
          new WritableStream<BufferSource>({
            write: (chunk) => void chunks.push(new Uint8Array(chunk as ArrayBuffer).slice()),
          }),
        ),
    };
    await m.of("bob").accept(m.incoming("bob")!.id, target);
    await until("it to be saved", () => m.incoming("bob")?.state === "done");
    assert.equal(m.incoming("bob")!.location, "chosen");
    assert.deepEqual(
      await bytesOf(new Blob(chunks as Uint8Array<ArrayBuffer>[])),
      await bytesOf(original),
    );
    assert.equal(m.stores.get("bob")!.folders.size, 0);
    assert.ok(m.mesh.notices("bob").some((n) => /saved as photo \(1\)\.raw/.test(n.text)));
  } finally {
    m.end();
  }
});

Deno.test("not enough room: accepting says so, and nothing is written", async () => {
  const m = await meetingOf(["ada", "bob"], { quota: 5 * MiB });
  try {
    m.of("ada").share([fileOf("big.bin", 8 * MiB)], "bob");
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    await m.of("bob").accept(m.incoming("bob")!.id);
    assert.equal(m.incoming("bob")?.state, "offered");
    assert.match(
      await (async () => {
        await until("the view", () => m.incoming("bob")!.detail !== "");
        return m.incoming("bob")!.detail;
      })(),
      /needs 8\.4 MB, but this browser lets the page store only 5\.2 MB more/,
    );
    assert.equal(m.stores.get("bob")!.folders.size, 0);
  } finally {
    m.end();
  }
});

// ---- Attacks: what a modified client can send ----

Deno.test("attack: forged withdrawals, stops and conflicting offers from another participant change nothing", async () => {
  const m = await meetingOf(["ada", "bob", "mal"], { bytesPerTick: 256 * 1024 });
  try {
    m.of("ada").share([fileOf("big.bin", 20 * MiB, 10)], "all");
    await until(
      "offers",
      () => m.incoming("bob")?.state === "offered" && m.incoming("mal")?.state === "offered",
    );
    const offer = m.incoming("bob")!;
    await m.of("bob").accept(offer.id);
    await until("Bob receiving", () => m.stores.get("bob")!.writes.length > 0);
    // Mallory knows the offer id (she was offered it too) and speaks for Ada and for Bob.
    const frame = (t: string, b: unknown) => JSON.stringify({ t, b });
    m.mesh.inject("mal", "bob", frame("files/withdraw", { id: offer.id }));
    m.mesh.inject(
      "mal",
      "ada",
      frame("files/stop", { id: offer.id, why: "cancelled", peer: "bob" }),
    );
    m.mesh.inject(
      "mal",
      "bob",
      frame("files/offer", {
        id: offer.id,
        name: "evil.exe",
        size: 1,
        type: "",
        pieceSize: 4 * MiB,
        root: "00".repeat(32),
      }),
    );
    await m.mesh.flush();
    assert.equal(m.of("bob").dropped["withdraw-unknown"], 1);
    assert.equal(m.of("bob").dropped["offer-conflict"], 1);
    await until("Bob to finish anyway", () => m.incoming("bob")?.state === "done");
    assert.equal(m.incoming("bob")!.name, "big.bin");
    const rows = m.outgoing("ada")!.receivers;
    assert.equal(rows.find((r) => r.peer === "bob")!.state, "done");
    assert.equal(rows.find((r) => r.peer === "mal")!.state, "cancelled", "only her own row");
  } finally {
    m.end();
  }
});

Deno.test("attack: oversize and malformed messages are dropped before the feature sees them", async () => {
  const m = await meetingOf(["ada", "mal"]);
  try {
    const frame = (t: string, b: unknown) => JSON.stringify({ t, b });
    const offer = {
      id: newOfferId(),
      name: "x.bin",
      size: 10,
      type: "",
      pieceSize: 4 * MiB,
      root: "ab".repeat(32),
    };
    const bad = [
      { ...offer, size: 2 ** 60 },
      { ...offer, size: -5 },
      { ...offer, name: "../x" },
      { ...offer, name: "x\u202Eexe.pdf" },
      { ...offer, pieceSize: 1000 },
      { ...offer, name: "x".repeat(3000) }, // over the topic's 2 KiB
    ];
    for (const b of bad) m.mesh.inject("mal", "ada", frame("files/offer", b));
    m.mesh.inject("mal", "ada", frame("files/stop", { id: offer.id, why: 5 }));
    m.mesh.inject("mal", "ada", frame("files/resume", { id: "not-an-id" }));
    m.mesh.inject("mal", "ada", frame("files/nope", {}));
    await m.mesh.flush();
    const dropped = m.mesh.host("ada").dropped;
    assert.equal(dropped.invalid, 7);
    assert.equal(dropped["too-big"], 1);
    assert.equal(dropped["unknown-topic"], 1);
    assert.equal(m.of("ada").transfers.value.length, 0);

    // Frames on the files channel: text, short, unknown type, over 256 KiB are all refused.
    const channel = m.mesh.channel("mal", "ada", LABEL);
    channel.send("hello");
    channel.send(new Uint8Array(5));
    channel.send(new Uint8Array([0x42, ...new Uint8Array(20)]));
    await m.mesh.flush();
    assert.equal(m.of("ada").dropped["bad-frame"], 3);
  } finally {
    m.end();
  }
});

Deno.test("attack: requests for offers never made, not made to her, or for pieces that do not exist are refused", async () => {
  const m = await meetingOf(["ada", "bob", "mal"]);
  try {
    m.of("ada").share([fileOf("for-bob.bin", 10 * MiB, 11)], "bob");
    await until("Bob's offer", () => m.incoming("bob")?.state === "offered");
    const id = offerIdBytes(m.incoming("bob")!.id)!;
    const channel = m.mesh.channel("mal", "ada", LABEL);
    const never = offerIdBytes(newOfferId())!;
    channel.send(pieceRequestFrame(never, 0, 0, MiB)); // an offer never made
    channel.send(manifestRequestFrame(never));
    channel.send(pieceRequestFrame(id, 0, 0, MiB)); // Bob's offer, guessed: not hers
    channel.send(manifestRequestFrame(id));
    channel.send(pieceStoredFrame(id, 0, 3));
    await m.mesh.flush();
    assert.equal(m.of("ada").dropped["request-refused"], 5);
    assert.equal(m.of("ada").debug.sender.served.size, 0, "nothing served");
    assert.equal(m.outgoing("ada")!.receivers.length, 1);

    // Bob's own requests for pieces past the end, and a flood, are bounded too.
    await m.of("bob").accept(m.incoming("bob")!.id);
    await until("Bob to have it", () => m.incoming("bob")?.state === "done");
    const bobs = m.mesh.channel("bob", "ada", LABEL);
    bobs.send(pieceRequestFrame(id, 3, 0, MiB)); // past the last piece
    bobs.send(pieceRequestFrame(id, 0xffff_fffe, 0, MiB));
    bobs.send(pieceRequestFrame(id, 0, 0, 0)); // nothing
    bobs.send(pieceRequestFrame(id, 0, 0, 8 * MiB)); // more than a block may be
    bobs.send(pieceRequestFrame(id, 2, MiB, 2 * MiB)); // past the end of the (2 MiB) last piece
    bobs.send(pieceStoredFrame(id, 0, 99));
    for (let i = 0; i < 200; i++) bobs.send(pieceRequestFrame(id, 0, 0, MiB));
    await until("the flood to be read", () => (m.of("ada").dropped["queue-full"] ?? 0) > 0);
    assert.equal(m.of("ada").dropped["bad-piece"], 5);
    assert.equal(m.of("ada").dropped["bad-ack"], 1);
  } finally {
    m.end();
  }
});

Deno.test("attack: a manifest that lies about the file, and data nobody asked for, keep nothing", async () => {
  const m = await meetingOf(["bob", "mal"]);
  try {
    // Mallory offers 8 MiB (2 pieces) with a root made for other hashes.
    const honest = new Uint8Array(64).fill(1);
    const id = newOfferId();
    const idBytes = offerIdBytes(id)!;
    const offer = {
      id,
      name: "lie.bin",
      size: 8 * MiB,
      type: "",
      pieceSize: 4 * MiB,
      root: await manifestRoot(8 * MiB, 4 * MiB, honest),
    };
    m.mesh.inject("mal", "bob", JSON.stringify({ t: "files/offer", b: offer }));
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const { channel, got } = hijack(m, "bob");
    // Data before accepting: dropped, nothing stored.
    channel.send(dataFrame(idBytes, 0, 0, new Uint8Array(1000)));
    await m.mesh.flush();
    assert.equal(m.of("bob").dropped.unexpected, 1);
    assert.equal(m.stores.get("bob")!.folders.size, 0);

    await m.of("bob").accept(id);
    await until("Bob to ask for the manifest", () => asked(got, 0x01));
    // A manifest for a 3-piece file (too long), then one whose hashes are not the root's.
    channel.send(manifestFrame(idBytes, 0, new Uint8Array(96).fill(2)));
    channel.send(manifestFrame(idBytes, 0, new Uint8Array(64).fill(2)));
    await until(
      "Bob to refuse it",
      () => m.incoming("bob")?.state === "failed",
      () => m.incoming("bob"),
    );
    assert.equal(m.of("bob").dropped["manifest-out-of-place"], 1);
    assert.match(
      m.incoming("bob")!.detail,
      /list of pieces that does not match the file it offered/,
    );
    assert.equal(m.stores.get("bob")!.writes.length, 0);
  } finally {
    m.end();
  }
});

Deno.test("attack: data out of place, too long, or for pieces not asked for is dropped", async () => {
  const m = await meetingOf(["bob", "mal"], { tuning: { window: 128 * 1024, block: 128 * 1024 } });
  try {
    const hashes = new Uint8Array(64);
    const pieces = [new Uint8Array(4 * MiB).fill(3), new Uint8Array(4 * MiB).fill(4)];
    hashes.set(await sha256(pieces[0]), 0);
    hashes.set(await sha256(pieces[1]), 32);
    const id = newOfferId();
    const idBytes = offerIdBytes(id)!;
    const offer = {
      id,
      name: "ok.bin",
      size: 8 * MiB,
      type: "",
      pieceSize: 4 * MiB,
      root: await manifestRoot(8 * MiB, 4 * MiB, hashes),
    };
    m.mesh.inject("mal", "bob", JSON.stringify({ t: "files/offer", b: offer }));
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const { channel, got } = hijack(m, "bob");
    await m.of("bob").accept(id);
    await until("Bob to ask for the manifest", () => asked(got, 0x01));
    channel.send(manifestFrame(idBytes, 0, hashes));
    await until("Bob to ask for the first block", () => asked(got, 0x02));
    const chunk = 256 * 1024 - 25;
    channel.send(dataFrame(idBytes, 0, 5, pieces[0].subarray(0, 10))); // not where it left off
    channel.send(dataFrame(idBytes, 1, 0, pieces[1].subarray(0, 10))); // not asked for yet
    channel.send(dataFrame(idBytes, 0, 0, new Uint8Array(200_000))); // past the 128 KiB asked
    await m.mesh.flush();
    assert.equal(m.of("bob").dropped["data-out-of-place"], 2, JSON.stringify(m.of("bob").dropped));
    assert.equal(m.of("bob").dropped["data-unasked"], 1);
    // Then Mallory answers what Bob asks for, as an honest sender would.
    const answered = new Set<unknown>();
    while (m.incoming("bob")?.state !== "done") {
      for (const frame of got) {
        if (answered.has(frame) || !(frame instanceof ArrayBuffer)) continue;
        answered.add(frame);
        const view = new DataView(frame);
        if (view.getUint8(0) !== 0x02) continue;
        const [index, offset, length] = [17, 21, 25].map((at) => view.getUint32(at));
        for (let at = offset; at < offset + length; at += chunk) {
          const end = Math.min(offset + length, at + chunk);
          channel.send(dataFrame(idBytes, index, at, pieces[index].subarray(at, end)));
        }
      }
      await sleep(5);
    }
    await until(
      "Bob to have it",
      () => m.incoming("bob")?.state === "done",
      () => m.incoming("bob"),
    );
    const blob = await m.of("bob").file(id);
    assert.deepEqual(await bytesOf(blob!), await bytesOf(new Blob(pieces)));
  } finally {
    m.end();
  }
});

Deno.test("a sender that stops answering: the receiver says so and asks again", async () => {
  const m = await meetingOf(["bob", "mal"], { tuning: { stallMs: 300 } });
  try {
    const piece = new Uint8Array(MiB).fill(5);
    const hashes = await sha256(piece);
    const id = newOfferId();
    const idBytes = offerIdBytes(id)!;
    const offer = {
      id,
      name: "slow.bin",
      size: MiB,
      type: "",
      pieceSize: 4 * MiB,
      root: await manifestRoot(MiB, 4 * MiB, hashes),
    };
    m.mesh.inject("mal", "bob", JSON.stringify({ t: "files/offer", b: offer }));
    await until("the offer", () => m.incoming("bob")?.state === "offered");
    const { channel, got } = hijack(m, "bob");
    await m.of("bob").accept(id);
    await until("Bob to ask for the manifest", () => asked(got, 0x01));
    channel.send(manifestFrame(idBytes, 0, hashes));
    // Mallory says nothing more; Bob waits, says so, and asks again.
    await until(
      "Bob to ask twice",
      () =>
        got.filter((f) => f instanceof ArrayBuffer && new Uint8Array(f)[0] === 0x02).length >= 2,
    );
    await until(
      "the panel to say so",
      () => /Nothing arrived from Mal/.test(m.incoming("bob")!.detail),
    );
    for (let at = 0; at < MiB; at += 200_000) {
      channel.send(dataFrame(idBytes, 0, at, piece.subarray(at, at + 200_000)));
    }
    await until(
      "Bob to have it",
      () => m.incoming("bob")?.state === "done",
      () => m.incoming("bob"),
    );
    assert.equal(m.incoming("bob")!.detail, "");
  } finally {
    m.end();
  }
});
