import assert from "node:assert/strict";
import { kvHealth } from "./kv_health.ts";
import { commitUnchecked, CONFLICT, retryKv } from "./kv_retry.ts";

Deno.test("retryKv runs the step again after a conflict and returns its first result", async () => {
  let calls = 0;
  const result = await retryKv("step", () => Promise.resolve(++calls < 4 ? CONFLICT : "done"));
  assert.equal(result, "done");
  assert.equal(calls, 4);
  // null and undefined are results like any other.
  assert.equal(await retryKv("step", () => Promise.resolve(null)), null);
});

Deno.test("retryKv retries 'database is locked' and then succeeds", async () => {
  let calls = 0;
  const result = await retryKv("step", () => {
    if (++calls < 3) return Promise.reject(new TypeError("database is locked"));
    return Promise.resolve(7);
  });
  assert.equal(result, 7);
  assert.equal(calls, 3);
});

Deno.test("retry gives up with a clear error; other errors pass through at once", async () => {
  let calls = 0;
  await assert.rejects(
    retryKv("join", () => {
      calls++;
      return Promise.reject(new TypeError("database is locked"));
    }),
    (e: Error) =>
      /join: gave up after \d+ attempts \(0 conflicts, \d+ "database is locked"\)/.test(
        e.message,
      ) && /MOOZ_KV/.test(e.message) && /database is locked/.test(String(e.cause)),
  );
  assert.ok(calls > 1);
  calls = 0;
  await assert.rejects(
    retryKv("join", () => {
      calls++;
      return Promise.reject(new Error("disk on fire"));
    }),
    /disk on fire/,
  );
  assert.equal(calls, 1);
});

Deno.test("commitUnchecked builds the operation anew for every attempt", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let builds = 0;
    await commitUnchecked("write", () => {
      builds++;
      const op = kv.atomic().set(["k"], builds);
      if (builds < 3) {
        // The first two attempts meet a locked database.
        return { commit: () => Promise.reject(new Error("database is locked")) } as never;
      }
      return op;
    });
    assert.equal(builds, 3);
    assert.equal((await kv.get(["k"])).value, 3);
  } finally {
    kv.close();
  }
});

Deno.test("a failed operation is counted under its name; an unchecked commit says KV works", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const before = kvHealth.errors["test op"] ?? 0;
    const full = new TypeError("database or disk is full");
    const thrown = await retryKv("test op", () => Promise.reject(full)).catch((e) => e);
    assert.equal(thrown, full, "the error itself passes through");
    assert.equal(kvHealth.errors["test op"], before + 1, "once per operation, not per attempt");
    assert.equal(kvHealth.ok, false);
    assert.ok(kvHealth.reported(full));
    // A read that works proves nothing about writes: still failing.
    await retryKv("test read", () => kv.get(["k"]));
    assert.equal(kvHealth.ok, false);
    await commitUnchecked("test write", () => kv.atomic().set(["k"], 1));
    assert.equal(kvHealth.ok, true);
    // Conflicts and locks retried away are not failures.
    let calls = 0;
    await retryKv("test op", () => Promise.resolve(++calls < 3 ? CONFLICT : 1));
    assert.equal(kvHealth.errors["test op"], before + 1);
  } finally {
    kv.close();
  }
});
