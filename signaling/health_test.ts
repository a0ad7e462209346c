import assert from "node:assert/strict";
import { HealthCheck } from "./health.ts";
import { healthKey } from "./keys.ts";
import { kvHealth } from "./kv_health.ts";
import { RoomStore } from "./store.ts";

Deno.test("ping writes this isolate's probe key, expiring, and reads it back", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new RoomStore({ kv });
    const report = await new HealthCheck({ ping: () => store.ping("i1") }).check();
    assert.ok(report.ok, JSON.stringify(report));
    const first = await kv.get<string>(healthKey("i1"));
    assert.equal(typeof first.value, "string");
    await store.ping("i1");
    const second = await kv.get<string>(healthKey("i1"));
    assert.notEqual(second.value, first.value, "every check writes a fresh value");
    assert.equal((await kv.get(healthKey("i2"))).versionstamp, null, "one key per isolate");
  } finally {
    kv.close();
  }
});

Deno.test("a KV that throws fails the check at the write, with what to check", async () => {
  const kv = await Deno.openKv(":memory:");
  kv.close();
  const before = kvHealth.errors["health write"] ?? 0;
  const store = new RoomStore({ kv });
  const report = await new HealthCheck({ ping: () => store.ping("i") }).check();
  assert.ok(!report.ok);
  assert.equal(report.step, "write");
  assert.equal(report.error, "The room store cannot be written.");
  assert.match(report.reason, /Writing to KV failed \(.+\)/);
  assert.match(report.reason, /disk space/);
  assert.equal(kvHealth.errors["health write"], before + 1);
  assert.equal(kvHealth.ok, false);
  // Restore the shared state for the other tests: a write that goes through.
  const good = await Deno.openKv(":memory:");
  await new RoomStore({ kv: good }).ping("i");
  good.close();
  assert.equal(kvHealth.ok, true);
});

Deno.test("a write that reads back something else fails the check at the read", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // A KV that loses what was written (a damaged file, an inconsistent replica).
    const forgetful = new Proxy(kv, {
      get(target, prop) {
        if (prop === "get") {
          return () => Promise.resolve({ key: [], value: null, versionstamp: null });
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const store = new RoomStore({ kv: forgetful });
    const report = await new HealthCheck({ ping: () => store.ping("i") }).check();
    assert.ok(!report.ok);
    assert.equal(report.step, "read");
    assert.match(report.reason, /read back null, not the value just written/);
    await store.ping("i").catch(() => {});
  } finally {
    // Leave the shared state working for the other tests.
    await new RoomStore({ kv }).ping("i");
    kv.close();
  }
});

Deno.test("a hung KV gives a timeout answer in time; concurrent checks share one probe", async () => {
  let probes = 0;
  let release!: () => void;
  const hung = new Promise<void>((resolve) => (release = resolve));
  const check = new HealthCheck({
    ping: () => {
      probes++;
      return hung;
    },
    timeoutMs: 100,
  });
  const started = performance.now();
  const reports = await Promise.all(Array.from({ length: 10 }, () => check.check()));
  const took = performance.now() - started;
  for (const report of reports) {
    assert.ok(!report.ok);
    assert.equal(report.step, "timeout");
    assert.match(report.reason, /within 100 ms/);
  }
  assert.ok(took < 2_000, `answered after ${took} ms`);
  // A later check while the probe still hangs joins it rather than starting another.
  assert.equal((await check.check()).ok, false);
  assert.equal(probes, 1);
  release();
  assert.equal((await check.check()).ok, true, "the probe went through in the end");
  await check.check();
  assert.equal(probes, 2, "a finished probe is not reused: the next check writes anew");
  // Restore the shared state (the timeouts counted as failures) for the other tests.
  const kv = await Deno.openKv(":memory:");
  await new RoomStore({ kv }).ping("i");
  kv.close();
});
