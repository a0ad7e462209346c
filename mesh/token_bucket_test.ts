/** The token bucket, on a clock the test moves by hand. */
import assert from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

/** A bucket and the clock it reads. */
function bucketOf(rate: { burst: number; perSecond: number }, start = 1_000_000) {
  const clock = { t: start };
  const bucket = new TokenBucket(rate, () => clock.t);
  return { bucket, advance: (ms: number) => void (clock.t += ms) };
}

const takeAll = (bucket: TokenBucket) => {
  let n = 0;
  while (bucket.take()) if (++n > 10_000) throw new Error("the bucket never ran dry");
  return n;
};

Deno.test("starts full: burst takes at once, then none", () => {
  const { bucket } = bucketOf({ burst: 3, perSecond: 1 });
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  assert.equal(bucket.take(), false);
});

Deno.test("refills at perSecond, a fraction of a token at a time", () => {
  const { bucket, advance } = bucketOf({ burst: 5, perSecond: 2 });
  assert.equal(takeAll(bucket), 5);
  advance(250); // half a token
  assert.equal(bucket.take(), false);
  advance(249);
  assert.equal(bucket.take(), false);
  advance(1); // 500 ms: one token
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  advance(1_500); // three tokens
  assert.equal(takeAll(bucket), 3);
});

Deno.test("a failed take costs nothing", () => {
  const { bucket, advance } = bucketOf({ burst: 1, perSecond: 1 });
  assert.equal(bucket.take(), true);
  for (let i = 0; i < 10; i++) {
    advance(50);
    assert.equal(bucket.take(), false);
  }
  advance(500); // 1,000 ms since the last token was taken
  assert.equal(bucket.take(), true);
});

Deno.test("never holds more than burst, however long it waits", () => {
  const { bucket, advance } = bucketOf({ burst: 4, perSecond: 10 });
  advance(3_600_000);
  assert.equal(takeAll(bucket), 4);
  takeAll(bucket);
  advance(250); // 2.5 tokens
  assert.equal(takeAll(bucket), 2);
  advance(10_000);
  assert.equal(takeAll(bucket), 4);
});

Deno.test("ready tells whether a token is there, without taking it", () => {
  const { bucket, advance } = bucketOf({ burst: 2, perSecond: 1 });
  for (let i = 0; i < 5; i++) assert.equal(bucket.ready, true);
  assert.equal(takeAll(bucket), 2);
  assert.equal(bucket.ready, false);
  advance(999);
  assert.equal(bucket.ready, false);
  advance(1);
  assert.equal(bucket.ready, true);
  assert.equal(bucket.ready, true);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.ready, false);
});

/** waitMs is rounded up, and floating point may add a millisecond: never early, never far off. */
function assertWait(actual: number, exact: number): void {
  assert.ok(actual === exact || actual === exact + 1, `waitMs ${actual}, expected ${exact}`);
}

Deno.test("waitMs: 0 when ready, else the time until the next token, rounded up", () => {
  const { bucket, advance } = bucketOf({ burst: 2, perSecond: 2 });
  assert.equal(bucket.waitMs, 0);
  takeAll(bucket);
  assert.equal(bucket.waitMs, 500);
  advance(100);
  assertWait(bucket.waitMs, 400);
  advance(390);
  assertWait(bucket.waitMs, 10);
  advance(bucket.waitMs);
  assert.equal(bucket.waitMs, 0);

  const third = bucketOf({ burst: 1, perSecond: 3 });
  third.bucket.take();
  assert.equal(third.bucket.waitMs, 334); // 333.3… rounded up, never early
});

Deno.test("waiting waitMs always makes a token ready, for many rates", () => {
  for (const perSecond of [0.5, 1, 2, 3, 7, 13, 20, 60, 1000]) {
    for (const burst of [1, 2, 5]) {
      const { bucket, advance } = bucketOf({ burst, perSecond });
      for (let round = 0; round < 20; round++) {
        takeAll(bucket);
        const wait = bucket.waitMs;
        assert.ok(wait > 0, `${perSecond}/s: waitMs ${wait} while empty`);
        // Rounded up (floating point may add a millisecond), so never early and never far off.
        assert.ok(wait <= Math.ceil(1000 / perSecond) + 1, `${perSecond}/s: waitMs ${wait}`);
        if (wait >= 2) {
          advance(wait - 2);
          assert.equal(bucket.ready, false, `${perSecond}/s: ready before waitMs ${wait}`);
          advance(2);
        } else advance(wait);
        assert.equal(bucket.ready, true, `${perSecond}/s after ${wait} ms`);
        assert.equal(bucket.waitMs, 0);
      }
    }
  }
});

Deno.test("a clock that steps back does not drain the bucket", () => {
  // Date.now (the default clock) follows the wall clock, which can be set back; the bucket must
  // not count that as negative time and refuse a peer's messages until the clock catches up.
  const { bucket, advance } = bucketOf({ burst: 3, perSecond: 1 });
  advance(-3_600_000);
  assert.equal(bucket.take(), true, "a full bucket stays full");
  advance(1_000);
  assert.equal(takeAll(bucket), 3);
  advance(-60_000);
  assert.equal(bucket.take(), false, "the step back gives no tokens either");
  advance(1_000);
  assert.equal(bucket.take(), true, "time after the step refills as usual");
  assert.equal(bucket.take(), false);
});
