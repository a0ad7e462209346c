/** The batch format both paths of the bus carry: splitting, and reading back what others wrote. */
import assert from "node:assert/strict";
import type { BusMessage } from "./bus.ts";
import { batches, decodeBatch, encodeMessage, type Queued, takeBatches } from "./bus_batch.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function queued(n: number, pad = 0): Queued {
  const message: BusMessage = {
    kind: "signal",
    room: ROOM,
    from: "AAAAAAAAAAAAAAAA",
    to: "BBBBBBBBBBBBBBBB",
    payload: { n, pad: "x".repeat(pad) },
  };
  return { message, bytes: encodeMessage(message) };
}

Deno.test("batch: split under the size limit, in order, each one valid JSON; one large message is a batch of its own", () => {
  const all = [queued(0), queued(1, 3_000), queued(2), queued(3, 9_000), queued(4)];
  const out = batches(all, 4_096);
  assert.deepEqual(out.map((b) => b.entries.length), [3, 1, 1]);
  for (const b of out) {
    assert.ok(b.bytes.length <= 4_096 || b.entries.length === 1);
    assert.deepEqual(decodeBatch(b.bytes).messages, b.entries.map((e) => e.message));
  }
  assert.deepEqual(out.flatMap((b) => b.entries), all);
});

Deno.test("batch: takeBatches takes whole batches from the front and leaves the rest queued", () => {
  const queue = [queued(0, 1_000), queued(1, 1_000), queued(2, 1_000), queued(3, 1_000)];
  const [a, b, c, d] = queue;
  // "[" a "," b "]": exactly two fit in one.
  const limit = a.bytes.length + b.bytes.length + 3;
  assert.deepEqual(takeBatches(queue, limit, 0), []);
  assert.deepEqual(takeBatches(queue, limit, 1).map((x) => x.entries), [[a, b]]);
  assert.deepEqual(queue, [c, d]);
  assert.deepEqual(
    takeBatches(queue, 10, 5).map((x) => x.entries),
    [[c], [d]],
    "one each if large",
  );
  assert.deepEqual(takeBatches(queue, limit, 1), []);
  const many = Array.from({ length: 10 }, (_, i) => queued(i, 1_000));
  const taken = takeBatches(many, limit, 3);
  assert.deepEqual(taken.map((x) => x.entries.length), [2, 2, 2]);
  assert.equal(many.length, 4);
});

Deno.test("batch: what another server wrote is read defensively: unknown kinds, missing or mistyped fields and unreadable bytes are left out, never thrown", () => {
  const good: BusMessage[] = [
    { kind: "roster", room: ROOM },
    { kind: "signal", room: ROOM, from: "A", to: "B", payload: null },
    { kind: "lobby", room: ROOM, knock: "K" },
    { kind: "deliver", room: ROOM, to: "B", message: { type: "muted", what: "audio", by: "A" } },
    { kind: "close", room: ROOM, peer: "P", code: "replaced", reason: "r" },
    { kind: "close", room: ROOM, peer: "P", code: "evicted", evictionCode: "kicked", reason: "r" },
  ];
  // An older server's eviction without a code, and fields a newer one may add, pass.
  const lenient = [
    { kind: "close", room: ROOM, peer: "P", reason: "r" },
    { kind: "roster", room: ROOM, since: 5 },
  ];
  const bad = [
    null,
    "roster",
    [],
    { kind: "teleport", room: ROOM },
    { kind: "roster" },
    { kind: "roster", room: 7 },
    { kind: "signal", room: ROOM, from: "A", to: "B" },
    { kind: "signal", room: ROOM, from: 1, to: "B", payload: 1 },
    { kind: "lobby", room: ROOM, knock: "K", ended: "yes" },
    { kind: "deliver", room: ROOM, to: "B", message: "muted" },
    { kind: "close", room: ROOM, peer: "P", code: "evicted", reason: "r", unreachable: [1] },
    { kind: "close", room: ROOM, peer: "P", code: "vanished", reason: "r" },
  ];
  const decoded = decodeBatch(encode([...good, ...bad, ...lenient]));
  assert.deepEqual(decoded.messages, [...good, ...lenient]);
  assert.equal(decoded.dropped, bad.length);
  for (
    const bytes of [
      new TextEncoder().encode("[{"),
      encode({ kind: "roster" }),
      new Uint8Array([0xff]),
    ]
  ) {
    assert.deepEqual(decodeBatch(bytes), { messages: [], dropped: 1 });
  }
});
