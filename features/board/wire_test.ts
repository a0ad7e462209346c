import assert from "node:assert/strict";
import { FRAME_FIRST, FRAME_MORE, frameKind } from "./frames.ts";
import { Assembler, awarenessFrame, CHUNK_BYTES, syncFrames } from "./wire.ts";

const admitAll = () => "ok" as const;

Deno.test("a long sync message goes in pieces and comes back whole", () => {
  const message = Uint8Array.from({ length: 3 * CHUNK_BYTES + 17 }, (_, i) => (i * 31) & 255);
  message[0] = 1;
  const frames = syncFrames(message);
  assert.equal(frames[0][0], FRAME_FIRST);
  assert.ok(frames.slice(1).every((f) => f[0] === FRAME_MORE));
  assert.ok(frames.every((f) => f.length <= CHUNK_BYTES));
  assert.ok(frames.every((f) => frameKind(f) === "content"));
  const a = new Assembler(admitAll);
  const out = frames.map((f) => a.push(f));
  assert.ok(out.slice(0, -1).every((o) => o.kind === "partial"));
  const last = out.at(-1)!;
  assert.equal(last.kind, "sync");
  assert.deepEqual(last.kind === "sync" && last.message, message);
});

Deno.test("the assembler refuses what does not add up, and a too-big message at its first piece", () => {
  const message = new Uint8Array(2 * CHUNK_BYTES);
  message[0] = 2;
  const frames = syncFrames(message);
  let asked: [number, number] | null = null;
  const a = new Assembler((type, bytes) => {
    asked = [type, bytes];
    return "too-big";
  });
  assert.deepEqual(a.push(frames[0]), { kind: "refused", reason: "too-big" });
  assert.deepEqual(asked, [2, message.length]);
  // The rest of that message is skipped quietly.
  assert.deepEqual(a.push(frames[1]), { kind: "partial" });

  const b = new Assembler(admitAll);
  assert.deepEqual(b.push(frames[1]), { kind: "refused", reason: "malformed" }, "a piece first");
  b.push(frames[0]);
  const tooMuch = new Uint8Array(CHUNK_BYTES * 2);
  tooMuch[0] = FRAME_MORE;
  assert.deepEqual(
    b.push(tooMuch),
    { kind: "refused", reason: "malformed" },
    "more than announced",
  );
  b.push(frames[0]);
  // Another message before the pieces are in: the broken-off one is dropped.
  assert.deepEqual(b.push(syncFrames(Uint8Array.of(2, 1, 0))[0]), {
    kind: "refused",
    reason: "malformed",
  });
  const first = Uint8Array.from(frames[0]);
  new DataView(first.buffer).setUint32(1, 3);
  assert.deepEqual(new Assembler(admitAll).push(first), { kind: "refused", reason: "malformed" });
});

Deno.test("awareness frames carry JSON; anything else is refused", () => {
  const a = new Assembler(admitAll);
  assert.deepEqual(a.push(awarenessFrame({ c: [1, 2], d: null })), {
    kind: "awareness",
    state: { c: [1, 2], d: null },
  });
  assert.deepEqual(a.push(Uint8Array.of(3, 0xff)), { kind: "refused", reason: "malformed" });
  assert.deepEqual(a.push(new Uint8Array(40_000).fill(3)), { kind: "refused", reason: "too-big" });
  assert.deepEqual(a.push(Uint8Array.of(9)), { kind: "refused", reason: "malformed" });
  assert.equal(frameKind(Uint8Array.of(9, 9)), "invalid");
});
