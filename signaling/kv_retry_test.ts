import assert from "node:assert/strict";
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
