import assert from "node:assert/strict";
import { HealthCheck } from "./health.ts";
import { metricsKey, STATS_KEYS } from "./keys.ts";
import { kvHealth } from "./kv_health.ts";
import { commitUnchecked } from "./kv_retry.ts";
import { emptyMetrics, MetricsPage, publishMetrics, renderMetrics } from "./metrics.ts";
import { MINUS_ONE } from "./room_cleanup.ts";
import { RoomStore } from "./store.ts";

/** The value of an unlabelled sample, or null when the page has no such line. */
function sample(text: string, name: string, labels = ""): number | null {
  const escaped = labels.replace(/[{}"\\]/g, (c) => `\\${c}`);
  const m = text.match(new RegExp(`^${name}${escaped} (\\S+)$`, "m"));
  return m ? Number(m[1]) : null;
}

/** A KV whose `list` calls are counted (a scan of every room would show here). */
function countingLists(kv: Deno.Kv): { kv: Deno.Kv; lists: Deno.KvKey[] } {
  const lists: Deno.KvKey[] = [];
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          lists.push("prefix" in selector ? selector.prefix : []);
          return target.list(selector, options);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: wrapped, lists };
}

Deno.test("room and participant totals follow joins, leaves and sweeps, without a scan of the rooms", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = { t: 1_000_000 };
    const store = new RoomStore({ kv, graceMs: 30_000, now: () => clock.t });
    const counting = countingLists(kv);
    const totals = async () => {
      const text = await renderMetrics(counting.kv, emptyMetrics("i"));
      return [sample(text, "mooz_rooms"), sample(text, "mooz_participants")];
    };
    assert.deepEqual(
      await totals(),
      [0, 0],
      "an empty store (no counters yet) shows 0, not nothing",
    );

    const peers: string[] = [];
    for (const name of ["A", "B", "C"]) {
      const joined = await store.join("r1", { name, isolate: "i" });
      assert.ok(joined.ok);
      peers.push(joined.member.peer);
    }
    const d = await store.join("r2", { name: "D", isolate: "i" });
    assert.ok(d.ok);
    assert.deepEqual(await totals(), [2, 4]);

    await store.remove("r1", peers[0]); // leaves
    assert.deepEqual(await totals(), [2, 3]);
    await store.remove("r2", d.member.peer); // the last member: the room goes too
    assert.deepEqual(await totals(), [1, 2]);

    // B's socket closed; once its grace period is over, a sweep removes it.
    await store.disconnect("r1", peers[1]);
    clock.t += 30_001;
    const swept = await store.sweep("r1");
    assert.deepEqual(swept.removed, [peers[1]]);
    assert.deepEqual(await totals(), [1, 1]);
    await store.disconnect("r1", peers[2]);
    clock.t += 30_001;
    await store.sweep("r1");
    assert.deepEqual(await totals(), [0, 0]);

    // Only the isolates' metrics are listed, never ["rooms"].
    assert.ok(counting.lists.length > 0);
    for (const prefix of counting.lists) assert.deepEqual(prefix, ["metrics"]);
  } finally {
    kv.close();
  }
});

Deno.test("the totals are the store's counters: missing is 0, a sum wrapped below zero shows 0", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(STATS_KEYS.rooms, new Deno.KvU64(5n));
    await kv.set(STATS_KEYS.participants, new Deno.KvU64(17n));
    let text = await renderMetrics(kv, emptyMetrics("i"));
    assert.equal(sample(text, "mooz_rooms"), 5);
    assert.equal(sample(text, "mooz_participants"), 17);

    // A decrement without its increment (a historic mismatch) wraps to 2^64 - 1.
    await kv.delete(STATS_KEYS.rooms);
    await kv.atomic().sum(STATS_KEYS.rooms, MINUS_ONE).commit();
    await kv.set(STATS_KEYS.participants, new Deno.KvU64((1n << 63n) + 1n));
    text = await renderMetrics(kv, emptyMetrics("i"));
    assert.equal(sample(text, "mooz_rooms"), 0);
    assert.equal(sample(text, "mooz_participants"), 0);
    await kv.set(STATS_KEYS.participants, new Deno.KvU64((1n << 63n) - 1n));
    text = await renderMetrics(kv, emptyMetrics("i"));
    assert.equal(sample(text, "mooz_participants"), 2 ** 63 - 1, "large but not wrapped");
  } finally {
    kv.close();
  }
});

Deno.test("every live isolate is shown, this one from memory, stopped ones left out", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const other = { ...emptyMetrics("other"), joins: 3 };
    await publishMetrics(kv, other);
    const stopped = { ...emptyMetrics("stopped"), joins: 9, updatedAt: Date.now() - 60_000 };
    await kv.set(metricsKey("stopped"), stopped);
    const self = emptyMetrics("self");
    await publishMetrics(kv, self);
    self.joins = 2; // not published yet: the page still shows it
    const text = await renderMetrics(kv, self);
    assert.equal(sample(text, "mooz_joins_total", '{isolate="self"}'), 2);
    assert.equal(sample(text, "mooz_joins_total", '{isolate="other"}'), 3);
    assert.equal(sample(text, "mooz_joins_total", '{isolate="stopped"}'), null);
    assert.equal(sample(text, "mooz_kv_ok", '{isolate="self"}'), 1);
  } finally {
    kv.close();
  }
});

Deno.test("a failed health probe is counted, and /metrics still answers when KV fails", async () => {
  const kv = await Deno.openKv(":memory:");
  const broken = await Deno.openKv(":memory:");
  try {
    const before = kvHealth.errors["health write"] ?? 0;
    broken.close(); // every call now throws
    const store = new RoomStore({ kv: broken });
    const report = await new HealthCheck({ ping: () => store.ping("i") }).check();
    assert.equal(report.ok, false);
    assert.ok(!report.ok && report.step === "write", JSON.stringify(report));
    assert.match(report.reason, /disk space/);
    assert.match(report.reason, /MOOZ_KV/);
    assert.equal(kvHealth.errors["health write"], before + 1);
    assert.equal(kvHealth.ok, false);

    // The page that tells KV fails must not need KV: this isolate's numbers, no totals.
    const self = { ...emptyMetrics("i"), joins: 4 };
    const text = await renderMetrics(broken, self);
    assert.equal(sample(text, "mooz_kv_ok", '{isolate="i"}'), 0);
    assert.equal(
      sample(text, "mooz_kv_errors_total", '{isolate="i",operation="health write"}'),
      before + 1,
    );
    assert.ok(
      (sample(text, "mooz_kv_errors_total", '{isolate="i",operation="metrics read"}') ?? 0) >= 1,
    );
    assert.equal(sample(text, "mooz_joins_total", '{isolate="i"}'), 4);
    assert.equal(sample(text, "mooz_rooms"), null, "no made-up totals");

    // KV works again (here: another database): the next successful write says so.
    const healthy = new RoomStore({ kv });
    assert.deepEqual(
      await new HealthCheck({ ping: () => healthy.ping("i") }).check().then((r) => r.ok),
      true,
    );
    assert.equal(kvHealth.ok, true);
    assert.equal(sample(await renderMetrics(kv, self), "mooz_kv_ok", '{isolate="i"}'), 1);
  } finally {
    kv.close();
  }
});

Deno.test("a hung KV: /metrics answers within its time limit, with this isolate alone", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const never = new Promise<never>(() => {});
    const hung = new Proxy(kv, {
      get(target, prop) {
        if (prop === "atomic") return () => ({ set: () => ({ commit: () => never }) });
        if (prop === "getMany") return () => never;
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const before = kvHealth.errors["metrics timeout"] ?? 0;
    const started = performance.now();
    const text = await renderMetrics(hung, { ...emptyMetrics("i"), joins: 1 });
    const took = performance.now() - started;
    assert.ok(took < 10_000, `answered after ${took} ms`);
    assert.equal(sample(text, "mooz_joins_total", '{isolate="i"}'), 1);
    assert.equal(sample(text, "mooz_kv_ok", '{isolate="i"}'), 0);
    assert.equal(sample(text, "mooz_rooms"), null);
    assert.equal(kvHealth.errors["metrics timeout"], before + 1);
    await commitUnchecked("test", () => kv.atomic()); // leaves kvHealth ok for the other tests
  } finally {
    kv.close();
  }
});

Deno.test("MetricsPage: concurrent scrapes share one render, reused for the cache time", async () => {
  const clock = { t: 0 };
  let renders = 0;
  let release!: () => void;
  const page = new MetricsPage(async () => {
    renders++;
    await new Promise<void>((resolve) => (release = resolve));
    return `page ${renders}\n`;
  }, { ttlMs: 1_000, now: () => clock.t });
  const scrapes = Array.from({ length: 20 }, () => page.text());
  release();
  assert.deepEqual(new Set(await Promise.all(scrapes)), new Set(["page 1\n"]));
  assert.equal(renders, 1);
  clock.t += 999;
  assert.equal(await page.text(), "page 1\n");
  clock.t += 1;
  const next = page.text();
  release();
  assert.equal(await next, "page 2\n");
  assert.equal(renders, 2);
});

Deno.test("MetricsPage: a failed render is not kept; the next scrape renders again", async () => {
  let calls = 0;
  const page = new MetricsPage(() => {
    calls++;
    return calls === 1 ? Promise.reject(new Error("boom")) : Promise.resolve("ok\n");
  });
  await assert.rejects(page.text(), /boom/);
  assert.equal(await page.text(), "ok\n");
});

Deno.test("20 concurrent /metrics scrapes of a hub-sized page cost one KV list", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const counting = countingLists(kv);
    const self = emptyMetrics("i");
    const page = new MetricsPage(() => renderMetrics(counting.kv, self));
    const pages = await Promise.all(Array.from({ length: 20 }, () => page.text()));
    assert.equal(new Set(pages).size, 1);
    assert.equal(counting.lists.length, 1);
    // And the publish of this isolate's metrics happened once.
    assert.ok((await kv.get(metricsKey("i"))).value);
    await commitUnchecked("test", () => kv.atomic()); // a write: leaves kvHealth ok for others
  } finally {
    kv.close();
  }
});
