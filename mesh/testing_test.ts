/**
 * TestMesh's in-memory feature channels behave as Chromium's data channels do where a feature's
 * flow control depends on it: what was sent arrives in order and copied, `bufferedAmount` falls
 * only as the other side reads, `bufferedamountlow` fires on the way down, a message over
 * `maxMessageSize` or past 16 MiB queued is refused, and a dropped link closes both ends.
 */
import assert from "node:assert/strict";
import { defineFeature, type PeerChannel } from "./feature.ts";
import { MemoryDataChannel, TestMesh } from "./testing.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A feature with one channel that records what arrives and which channels opened. */
function bulk() {
  const opened: PeerChannel[] = [];
  const received: (string | ArrayBuffer)[] = [];
  const definition = defineFeature("bulk", (ctx) => {
    ctx.channel("data").onOpen((channel) => {
      opened.push(channel);
      channel.onMessage((data) => received.push(data));
    });
    return {};
  });
  return { definition, opened, received };
}

async function until(check: () => boolean): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > 5_000) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("TestMesh opens each feature channel both ways; bytes arrive in order, as copies", async () => {
  const mesh = new TestMesh(["ada", "bob"], { bytesPerTick: 64 * KiB });
  const ada = bulk(), bob = bulk();
  mesh.host("ada").create(ada.definition);
  mesh.host("bob").create(bob.definition);
  mesh.connectAll();
  await until(() => ada.opened.length === 1 && bob.opened.length === 1);
  const [toBob] = ada.opened;
  assert.equal(toBob.peer, "bob");
  assert.equal(toBob.maxMessageSize, 256 * KiB);

  const message = new Uint8Array(100 * KiB).fill(1);
  toBob.send(message);
  message.fill(2); // the sender's buffer is copied at send
  toBob.send("text");
  assert.equal(toBob.bufferedAmount, 100 * KiB + 4);
  await until(() => bob.received.length === 2);
  assert.equal(new Uint8Array(bob.received[0] as ArrayBuffer)[0], 1);
  assert.equal(bob.received[1], "text");
  assert.equal(toBob.bufferedAmount, 0);
  await mesh.flush();
});

Deno.test("bufferedAmount falls as the other side reads, and drained() waits for it", async () => {
  const mesh = new TestMesh(["ada", "bob"], { bytesPerTick: 256 * KiB });
  const ada = bulk(), bob = bulk();
  mesh.host("ada").create(ada.definition);
  mesh.host("bob").create(bob.definition);
  mesh.connectAll();
  await until(() => ada.opened.length === 1);
  const [toBob] = ada.opened;
  for (let i = 0; i < 16; i++) toBob.send(new Uint8Array(256 * KiB));
  assert.equal(toBob.bufferedAmount, 4 * MiB);
  await toBob.drained(MiB);
  assert.ok(toBob.bufferedAmount <= MiB, `${toBob.bufferedAmount}`);
  assert.ok(bob.received.length >= 12);
  const end = mesh.channel("ada", "bob", "f:bulk/data");
  assert.equal(end.maxBufferedAmount, 4 * MiB);
  assert.equal(end.sentMessages, 16);
  await mesh.flush();
  assert.equal(bob.received.length, 16);
});

Deno.test("too large a message, or past 16 MiB queued, is refused as Chromium refuses it", async () => {
  const [a, b] = MemoryDataChannel.pair("f:x/y");
  a.openSoon();
  await until(() => a.readyState === "open" && b.readyState === "open");
  assert.throws(() => a.send(new Uint8Array(256 * KiB + 1)), /too large/);
  for (let i = 0; i < 64; i++) a.send(new Uint8Array(256 * KiB));
  assert.throws(() => a.send(new Uint8Array(1)), /send queue is full/);
  a.close();
  assert.throws(() => a.send("x"), /not 'open'/);
  await until(() => a.bufferedAmount === 0);
});

Deno.test("a dropped link closes both ends; connect opens new channels", async () => {
  const mesh = new TestMesh(["ada", "bob"]);
  const ada = bulk(), bob = bulk();
  mesh.host("ada").create(ada.definition);
  mesh.host("bob").create(bob.definition);
  mesh.connectAll();
  await until(() => ada.opened.length === 1 && bob.opened.length === 1);
  let closed = 0;
  ada.opened[0].onClose(() => closed++);
  bob.opened[0].onClose(() => closed++);
  mesh.disconnect("ada", "bob");
  await until(() => closed === 2);
  assert.equal(ada.opened[0].open, false);
  assert.throws(() => mesh.channel("ada", "bob", "f:bulk/data"), /No open channel/);
  mesh.connect("ada", "bob");
  await until(() => ada.opened.length === 2 && bob.opened.length === 2);
  ada.opened[1].send("again");
  await until(() => bob.received.includes("again"));
  await mesh.flush();
});
