import assert from "node:assert/strict";
import { ChatLog, newChatMessage } from "./log.ts";
import { type ChatMessage, MAX_CHAT_LENGTH, MAX_HISTORY } from "./wire.ts";

const A = "AAAAAAAAAAAAAAAA";
const B = "bbbbbbbbbbbbbbb_";

function msg(from: string, seq: number, sentAt: number): ChatMessage {
  return { id: `${from}:${seq}`, from, name: from.slice(0, 3), text: `${from} ${seq}`, sentAt };
}

const ids = (log: ChatLog) => log.list().map((m) => m.id);

Deno.test("ChatLog: add refuses duplicate ids, whatever the content", () => {
  const log = new ChatLog();
  assert.equal(log.add(msg(A, 1, 100)), true);
  assert.equal(log.add(msg(A, 1, 100)), false);
  assert.equal(log.add({ ...msg(A, 1, 999), text: "changed" }), false);
  assert.deepEqual(log.list(), [msg(A, 1, 100)]);
});

Deno.test("ChatLog: list is ordered by sentAt, then id, whatever the arrival order", () => {
  const log = new ChatLog();
  for (const m of [msg(B, 1, 300), msg(A, 2, 200), msg(B, 2, 100), msg(A, 1, 200)]) log.add(m);
  assert.deepEqual(ids(log), [`${B}:2`, `${A}:1`, `${A}:2`, `${B}:1`]);
});

Deno.test("ChatLog: merge dedupes against the log and within the history", () => {
  const log = new ChatLog();
  log.add(msg(A, 1, 100));
  const history = [msg(A, 1, 100), msg(B, 1, 150), msg(B, 1, 150), msg(A, 2, 200)];
  assert.equal(log.merge(history), 2);
  assert.equal(log.merge(history), 0);
  assert.deepEqual(ids(log), [`${A}:1`, `${B}:1`, `${A}:2`]);
});

Deno.test("ChatLog: keeps only the newest max messages", () => {
  const log = new ChatLog(3);
  for (let i = 1; i <= 5; i++) assert.equal(log.add(msg(A, i, i * 10)), true);
  assert.deepEqual(ids(log), [`${A}:3`, `${A}:4`, `${A}:5`]);
  // A message older than everything kept would be evicted at once, so it is not "added"...
  assert.equal(log.add(msg(B, 1, 5)), false);
  // ...and an evicted one does not come back through a peer's history.
  assert.equal(log.merge([msg(A, 1, 10), msg(A, 2, 20)]), 0);
  // An older message that still ranks among the newest pushes out the oldest.
  assert.equal(log.add(msg(B, 2, 35)), true);
  assert.deepEqual(ids(log), [`${B}:2`, `${A}:4`, `${A}:5`]);
});

Deno.test("ChatLog: default bound is MAX_HISTORY and list returns a copy", () => {
  const log = new ChatLog();
  assert.equal(log.max, MAX_HISTORY);
  const history = Array.from({ length: MAX_HISTORY + 10 }, (_, i) => msg(A, i, i));
  assert.equal(log.merge(history), MAX_HISTORY + 10);
  const list = log.list();
  assert.equal(list.length, MAX_HISTORY);
  assert.deepEqual(list[0], msg(A, 10, 10));
  list.length = 0;
  assert.equal(log.list().length, MAX_HISTORY);
});

Deno.test("ChatLog: same order on every participant whatever the arrival order", () => {
  const all = [msg(A, 1, 5), msg(B, 1, 5), msg(A, 2, 7), msg(B, 2, 1), msg(A, 3, 5)];
  const expected = ids((() => {
    const log = new ChatLog(4);
    log.merge(all);
    return log;
  })());
  for (let rotation = 1; rotation < all.length; rotation++) {
    const log = new ChatLog(4);
    log.merge([...all.slice(rotation), ...all.slice(0, rotation)].reverse());
    assert.deepEqual(ids(log), expected);
  }
});

Deno.test("newChatMessage builds the id from sender and seq, and cleans the text", () => {
  assert.deepEqual(newChatMessage(A, "Ada", 7, "  hi\u0000 there \n", 1234), {
    id: `${A}:7`,
    from: A,
    name: "Ada",
    text: "hi there",
    sentAt: 1234,
  });
  assert.equal(newChatMessage(A, "Ada", 1, " \n\t ", 0), null);
  assert.equal(newChatMessage(A, "Ada", 1, "\u0007", 0), null);
  assert.equal(newChatMessage(A, "Ada", 1, "x".repeat(MAX_CHAT_LENGTH + 1), 0), null);
  assert.equal(newChatMessage(A, "Ada", 1, "x".repeat(MAX_CHAT_LENGTH), 0)?.text.length, 2000);
});
