/**
 * What the signaling server's background work costs as rooms pile up (issue 11: work that does not
 * grow with the number of rooms). Not part of `deno task bench`; run it on its own:
 *
 *   deno run -A bench/sweep_cost.ts [rooms...]     (default: 0 5000)
 *
 * For each count, that many idle rooms of two members each (connected, on a live isolate) are
 * written to a KV file, then it measures, with every KV call counted (`signaling/kv_counter.ts`):
 * - a sweep pass of another isolate (`DueSweeper.pass`, what every isolate runs every
 *   max(1 s, heartbeat timeout / 2)): KV calls, entries listed, time;
 * - a heartbeat of the isolate holding all the members (every `MOOZ_HEARTBEAT_MS`), and its
 *   comparison of KV with its sockets (once per heartbeat timeout);
 * - a snapshot of a room of four on two isolates (the read behind every roster).
 * Times are medians of 5 (sweeps, heartbeats) or 500 (snapshots) runs.
 */
import { DueSweeper } from "../signaling/due_sweep.ts";
import { countingKv, type KvCounts, totalCalls, zeroCounts } from "../signaling/kv_counter.ts";
import { RoomStore } from "../signaling/store.ts";
import type { PeerId } from "../signaling/types.ts";

const counts = Deno.args.length ? Deno.args.map(Number) : [0, 5_000];
const HEARTBEAT_TIMEOUT_MS = 20_000;

interface Cost {
  kvCalls: number;
  listed: number;
  ms: number;
}

/** Median cost of `runs` calls of `work`, KV calls counted in `c` (reset before each). */
async function measure(c: KvCounts, runs: number, work: () => Promise<unknown>): Promise<Cost> {
  const costs: Cost[] = [];
  for (let i = 0; i < runs; i++) {
    Object.assign(c, zeroCounts());
    const t0 = performance.now();
    await work();
    costs.push({ kvCalls: totalCalls(c), listed: c.listed, ms: performance.now() - t0 });
  }
  costs.sort((a, b) => a.ms - b.ms);
  const mid = costs[Math.floor(runs / 2)];
  return { ...mid, ms: Math.round(mid.ms * 100) / 100 };
}

async function fill(store: RoomStore, rooms: number): Promise<{ room: string; peer: PeerId }[]> {
  const places: { room: string; peer: PeerId }[] = [];
  for (let i = 0; i < rooms; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, rooms - i) }, async (_, j) => {
        const room = `idle-${i + j}`;
        const out = [];
        for (const name of ["A", "B"]) {
          const r = await store.join(room, { name, isolate: "live" });
          if (!r.ok) throw new Error(`join failed: ${r.code}`);
          out.push({ room, peer: r.member.peer });
        }
        return out;
      }),
    );
    places.push(...batch.flat());
  }
  return places;
}

const rows: Record<string, unknown>[] = [];
for (const rooms of counts) {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  try {
    const c = zeroCounts();
    const counted = countingKv(kv, c);
    const opts = { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS };
    const places = await fill(new RoomStore({ kv, ...opts }), rooms);
    const live = new RoomStore({ kv: counted, ...opts });
    await live.heartbeat(places, "live");
    const sweeper = new DueSweeper({
      kv: counted,
      store: new RoomStore({ kv: counted, ...opts }),
      isolate: "sweeper",
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    });
    // The first pass of a store sweeps rooms of older versions once; measured apart.
    const first = await measure(c, 1, () => sweeper.pass());
    const sweep = await measure(c, 5, () => sweeper.pass());
    const heartbeat = await measure(c, 5, () => live.heartbeat(places, "live"));
    // A fresh store compares KV with the sockets at its first beat, as after every timeout.
    const reconcile = await measure(
      c,
      5,
      () => new RoomStore({ kv: counted, ...opts }).heartbeat(places, "live"),
    );
    const mixed = new RoomStore({ kv, ...opts });
    for (const isolate of ["live", "live", "other", "other"]) {
      await mixed.join("mixed", { name: "n", isolate });
    }
    await mixed.heartbeat([], "other");
    const snapshot = await measure(c, 500, () => live.snapshot("mixed"));
    rows.push({ rooms, members: places.length, first, sweep, heartbeat, reconcile, snapshot });
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

for (const row of rows) console.log(JSON.stringify(row));
console.log("\n| idle rooms | sweep pass | heartbeat | heartbeat + comparison | snapshot |");
console.log("|---|---|---|---|---|");
const cell = (c: Cost) => `${c.kvCalls} KV calls, ${c.listed} listed, ${c.ms} ms`;
for (const r of rows) {
  const [s, h, rc, sn] = [r.sweep, r.heartbeat, r.reconcile, r.snapshot] as Cost[];
  console.log(`| ${r.rooms} | ${cell(s)} | ${cell(h)} | ${cell(rc)} | ${cell(sn)} |`);
}
