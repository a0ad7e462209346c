/**
 * Backpressure between isolates (PROTOCOL.md, "Backpressure between isolates"), end to end: two
 * real hubs on one real KV file, raw WebSocket clients. A socket flooding a peer on the other
 * isolate with signals of the largest size is refused (`relay-busy`) past its share of the bus,
 * the bus never holds more than its cap, another room crossing the same two isolates loses
 * nothing, and every signal is delivered or refused to its sender. A write that fails reaches
 * its sender as `relay-failed`.
 */
import assert from "node:assert/strict";
import { BUS_SENDER_SHARE } from "./limits.ts";
import { MAX_PAYLOAD_BYTES } from "./protocol.ts";
import { newRoomId } from "./room_id.ts";
import { join, type Joined, startHub, type TestHub, waitFor } from "./testing.ts";

/** The smallest budget accepted: a sender's share (64 KiB) holds one signal of the largest size. */
const CAP = 512 * 1024;
/** Signals the flooder sends at once: under the rate limit's burst (100), so none is dropped there. */
const FLOOD = 80;
/** Signals the calm room sends meanwhile. */
const CALM = 40;

/**
 * A KV file and two hubs on it, as two processes of one server would be (`handles: 2` opens one
 * each): their buses never take the channel between isolates of one process, so what is tested
 * is the path through KV, where the caps bind.
 */
async function twoIsolates(handles: 1 | 2): Promise<
  { h1: TestHub; h2: TestHub; kvs: Deno.Kv[] } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "mooz_backpressure_" });
  const kvs: Deno.Kv[] = [];
  for (let i = 0; i < handles; i++) kvs.push(await Deno.openKv(`${dir}/kv.sqlite`));
  const config = { busMaxQueuedBytes: CAP, inboxPollMs: 50 };
  const h1 = await startHub(config, { kv: kvs[0], busChannel: false });
  const h2 = await startHub(config, { kv: kvs.at(-1), busChannel: false });
  return {
    h1,
    h2,
    kvs,
    async [Symbol.asyncDispose]() {
      await h1.close();
      await h2.close();
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

/** Two members of a new room, one on each hub, each seeing the other. */
async function pairAcross(h1: TestHub, h2: TestHub): Promise<[Joined, Joined]> {
  const room = newRoomId();
  const a = await join(h1.url(room), "Ada");
  const b = await join(h2.url(room), "Bob");
  await a.socket.roster((m) => m.length === 2, "the first member seeing the second");
  return [a, b];
}

Deno.test("backpressure: a flood across isolates is refused past its share, the bus stays under its cap, another room loses nothing", async () => {
  await using iso = await twoIsolates(1);
  const { h1, h2 } = iso;
  const [flooder, target] = await pairAcross(h1, h2);
  const [calm, calmPeer] = await pairAcross(h1, h2);
  await using _ = { [Symbol.asyncDispose]: () => closeAll(flooder, target, calm, calmPeer) };

  // Padding so the payload is exactly the largest allowed: {"n":NN,"pad":"..."}.
  const pad = (n: number) => "x".repeat(MAX_PAYLOAD_BYTES - JSON.stringify({ n, pad: "" }).length);
  for (let n = 0; n < FLOOD; n++) {
    flooder.socket.send({ type: "signal", to: target.peer, payload: { n, pad: pad(n) } });
    if (n % 2 === 0 && n / 2 < CALM) {
      calm.socket.send({ type: "signal", to: calmPeer.peer, payload: { n: n / 2 } });
    }
  }

  const delivered = () => target.socket.all("signal");
  const refused = () => flooder.socket.all("error");
  await waitFor(
    "every flood signal delivered or refused, and the calm room's signals delivered",
    () =>
      delivered().length + refused().length === FLOOD &&
      calmPeer.socket.all("signal").length === CALM,
    20_000,
  );
  await h1.hub.settle();

  // Every signal of the flood was delivered or refused to its sender, never dropped unsaid.
  assert.ok(refused().length > 0, "the flood went past the flooder's share");
  assert.ok(delivered().length > 0, "what fitted was delivered");
  for (const error of refused()) {
    assert.equal(error.code, "relay-busy", error.message);
    assert.equal(error.fatal, false);
    assert.ok(error.message.includes(target.peer), `names the recipient: ${error.message}`);
    assert.equal(error.to, target.peer, "and says whom, for the client to resync that link");
  }
  const seqs = delivered().map((m) => (m.payload as { n: number }).n);
  assert.deepEqual(seqs, seqs.toSorted((a, b) => a - b), "in the order sent");
  assert.equal(new Set(seqs).size, seqs.length, "each once");
  assert.equal(h1.hub.metrics.rejected["relay-busy"], refused().length);
  assert.equal(h1.hub.busStats.refused, refused().length);

  // The bus never held more than the flooder's share plus the calm room's small signals.
  const share = CAP / BUS_SENDER_SHARE;
  assert.ok(
    h1.hub.busStats.peakQueuedBytes <= share + 16 * 1024,
    `${h1.hub.busStats.peakQueuedBytes}`,
  );
  assert.equal(h1.hub.busStats.queuedBytes, 0);

  // The calm room: everything arrived, in order, and its sender was refused nothing.
  const calmSeqs = calmPeer.socket.all("signal").map((m) => (m.payload as { n: number }).n);
  assert.deepEqual(calmSeqs, Array.from({ length: CALM }, (_, i) => i));
  assert.deepEqual(calm.socket.all("error"), []);
  // Both connections stay open: refusals are not fatal.
  await flooder.socket.roundTrip();
  assert.ok(flooder.socket.isOpen && target.socket.isOpen);
});

Deno.test("backpressure: a signal the bus could not write reaches its sender as relay-failed", async () => {
  await using iso = await twoIsolates(2);
  const { h1, h2, kvs } = iso;
  const [a, b] = await pairAcross(h1, h2);
  await using _ = { [Symbol.asyncDispose]: () => closeAll(a, b) };
  const log = console.error;
  // Hub 1 logs every KV operation that fails from here on; the test checks what clients see.
  console.error = () => {};
  try {
    kvs[0].close(); // hub 1's store is gone (a lost connection to a remote KV, a dead disk)
    for (let n = 0; n < 3; n++) a.socket.send({ type: "signal", to: b.peer, payload: { n } });
    await waitFor("three relay-failed errors", () => a.socket.all("error").length >= 3);
    for (const error of a.socket.all("error")) {
      assert.equal(error.code, "relay-failed", error.message);
      assert.equal(error.fatal, false);
      assert.ok(error.message.includes(b.peer), `names the recipient: ${error.message}`);
      assert.equal(error.to, b.peer);
    }
    assert.equal(h1.hub.busStats.failed, 3);
    assert.equal(h1.hub.metrics.rejected["relay-failed"], 3);
    assert.deepEqual(b.socket.all("signal"), []);
    await a.socket.roundTrip();
  } finally {
    await closeAll(a, b);
    await h1.close();
    console.error = log;
  }
});

async function closeAll(...joined: Joined[]): Promise<void> {
  await Promise.all(joined.map((j) => j.socket.close()));
}
