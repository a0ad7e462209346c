/**
 * The sweep every isolate runs now and then for rooms that no running server may be looking at
 * (all their servers stopped): members of a stopped server start their grace period, members
 * whose grace ran out are removed, stale knocks and leftover keys go (`RoomStore.sweep` does the
 * work of one room). It touches only rooms that have something due, so idle rooms cost nothing:
 *
 * 1. **Lost isolates.** Each server isolate beats one key (`["isolates", id]`, isolate_beats.ts)
 *    and indexes the connected members it holds (`["served", id, room, peer]`, written in the same
 *    atomic operation as the join or resume). A pass lists the isolates (a few keys, however many
 *    rooms), and for one whose beat is older than the heartbeat timeout, or that stopped cleanly,
 *    claims it (so concurrent passes elsewhere leave it alone for `LOST_ISOLATE_LEASE_MS`) and
 *    sweeps only the rooms in its index; then deletes its index and its beat. Every delete is
 *    checked against the claim: if the isolate beats again meanwhile (it was only slow to write),
 *    its index stays, and its next beat puts back its members that were marked disconnected.
 * 2. **Due rooms.** Whatever becomes due at a known time is indexed as `["due", time, room]` by
 *    the atomic operation that makes it so (a member disconnects or is marked lost: its grace
 *    period's end). A pass lists the entries up to now, sweeps their rooms and deletes them.
 *
 * A room's sweep decides everything again inside its own transactions, so an entry that is stale
 * (the member resumed) or a room swept twice by two isolates is harmless; an entry is deleted only
 * after its room was swept, so a pass that fails or an isolate that dies midway loses nothing.
 *
 * Rooms stored by a version without these indexes are swept once, in full, by the first pass that
 * finds no such older server running (`["sweep", "indexed"]` records that it was done); their
 * sweeps index what they leave pending (`RoomStore.sweep`'s `reindex`). A server of that older
 * version started again later (a rollback) is not noticed: delete `["sweep", "indexed"]` after one.
 */
import { type IsolateBeat, isolateLive } from "./isolate_beats.ts";
import { dueUntil, ISOLATES_PREFIX, METRICS_PREFIX, sweepKeys } from "./keys.ts";
import { commitUnchecked, retryKv } from "./kv_retry.ts";
import type { IsolateMetrics } from "./metrics.ts";
import type { RoomStore } from "./store.ts";

/** Due entries read at a time. */
export const DUE_BATCH = 500;

/** Isolates whose published metrics are older than this have stopped (as in metrics.ts). */
const METRICS_STALE_MS = 30_000;

/** What a `DueSweeper` works with. */
export interface DueSweeperOptions {
  kv: Deno.Kv;
  store: RoomStore;
  /** This isolate's id: its claims on lost isolates carry it. */
  isolate: string;
  /** A member whose isolate has not beaten for longer than this has lost its server. */
  heartbeatTimeoutMs: number;
  /** Clock (the store's), for tests. Default Date.now. */
  now?: () => number;
  /** Checked between rooms: true once the owner is stopping (the pass ends early). */
  stopped?: () => boolean;
}

/** What one pass did. */
export interface SweepPass {
  /** Rooms swept. */
  rooms: number;
  /** Rooms whose members changed (removed, or marked disconnected): their rosters are stale. */
  changed: Set<string>;
  /** Members removed because their grace period ran out. */
  removed: number;
  /** Members marked disconnected because their server stopped. */
  lost: number;
}

/** The claim on a lost isolate: its beat entry as this pass wrote it. */
type Claim = { key: Deno.KvKey; versionstamp: string };

/**
 * The periodic sweep of one isolate (see the module doc).
 *
 * @example
 * ```ts
 * const sweeper = new DueSweeper({ kv, store, isolate, heartbeatTimeoutMs });
 * const pass = await sweeper.pass();
 * for (const room of pass.changed) cache.changed(room);
 * ```
 */
export class DueSweeper {
  readonly #opts: DueSweeperOptions;
  readonly #now: () => number;
  /** Whether rooms of the version before the indexes were all swept (`["sweep", "indexed"]`). */
  #indexed = false;

  constructor(opts: DueSweeperOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** One pass: lost isolates' rooms, due rooms, and (once per store) rooms never indexed. */
  async pass(): Promise<SweepPass> {
    const pass: SweepPass = { rooms: 0, changed: new Set(), removed: 0, lost: 0 };
    const beats = await this.#sweepLostIsolates(pass);
    await this.#sweepDue(pass);
    if (!this.#indexed) await this.#indexOlderRooms(beats, pass);
    return pass;
  }

  /** Sweeps the rooms of every isolate whose beat stopped; returns the ids of all beats seen. */
  async #sweepLostIsolates(pass: SweepPass): Promise<Set<string>> {
    const { kv, isolate: self, heartbeatTimeoutMs } = this.#opts;
    const entries = await retryKv(
      "sweep",
      () => Array.fromAsync(kv.list<IsolateBeat>({ prefix: ISOLATES_PREFIX })),
    );
    for (const entry of entries) {
      const now = this.#now();
      if (this.#stopping() || isolateLive(entry.value, now, heartbeatTimeoutMs)) continue;
      const { sweep } = entry.value;
      if (sweep && sweep.by !== self && sweep.until > now) continue; // another pass has it
      const claimed: IsolateBeat = {
        ...entry.value,
        lostAt: entry.value.lostAt ?? now,
        sweep: { by: self, until: now + lostIsolateLeaseMs(heartbeatTimeoutMs) },
      };
      const res = await retryKv(
        "sweep",
        () => kv.atomic().check(entry).set(entry.key, claimed).commit(),
      );
      // It beat meanwhile, or another pass claimed it first: the next pass looks again.
      if (!res.ok) continue;
      await this.#sweepIsolate(entry.key[1] as string, { key: entry.key, ...res }, pass);
    }
    return new Set(entries.map((e) => e.key[1] as string));
  }

  /** Sweeps the rooms `isolate` held members in, then forgets its index and beat. */
  async #sweepIsolate(isolate: string, claim: Claim, pass: SweepPass): Promise<void> {
    const { kv } = this.#opts;
    const rooms = new Map<string, Deno.KvKey[]>();
    const served = await retryKv(
      "sweep",
      () => Array.fromAsync(kv.list<number>({ prefix: sweepKeys.served(isolate) })),
    );
    for (const { key } of served) {
      const room = key[2] as string;
      rooms.set(room, [...rooms.get(room) ?? [], key]);
    }
    for (const [room, keys] of rooms) {
      if (this.#stopping()) return;
      await this.#sweepRoom(room, pass);
      // A room holds at most MAX_CAPACITY members, far below the mutation limit.
      const ok = await retryKv("sweep", async () => {
        const op = kv.atomic().check(claim);
        for (const key of keys) op.delete(key);
        return (await op.commit()).ok;
      });
      // The isolate beat again (it is alive) or another pass took over: leave the rest.
      if (!ok) return;
    }
    await retryKv("sweep", () => kv.atomic().check(claim).delete(claim.key).commit());
  }

  /**
   * Sweeps the rooms with something due by now and deletes their entries, `DUE_BATCH` at a time
   * until none is left (a burst of disconnects is handled in one pass, not one batch per pass).
   */
  async #sweepDue(pass: SweepPass): Promise<void> {
    const { kv } = this.#opts;
    const until = this.#now();
    for (let full = true; full && !this.#stopping();) {
      const due = await retryKv(
        "sweep",
        () => Array.fromAsync(kv.list<number>(dueUntil(until), { limit: DUE_BATCH })),
      );
      full = due.length === DUE_BATCH;
      const rooms = new Map<string, Deno.KvEntry<number>[]>();
      for (const entry of due) {
        const room = entry.key[2] as string;
        rooms.set(room, [...rooms.get(room) ?? [], entry]);
      }
      let deleted = 0;
      for (const [room, entries] of rooms) {
        if (this.#stopping()) return;
        await this.#sweepRoom(room, pass);
        // Checked: an entry written again meanwhile is newer work, and stays.
        // Retried when several processes share the KV file ("database is locked"); a lost
        // check is an answer, not an error.
        const done = await retryKv("sweep", async () => {
          const op = kv.atomic();
          for (const entry of entries) op.check(entry).delete(entry.key);
          return (await op.commit()).ok;
        });
        if (done) deleted += entries.length;
      }
      // Nothing of a full batch could be deleted: the next pass tries again, not this one forever.
      if (deleted === 0) return;
    }
  }

  /**
   * Once per store: sweeps every room (reading all of them, once) so that rooms written by a
   * version without the indexes get due entries, unless a server of that version still runs
   * (published metrics without a beat of its own: it sweeps every room itself meanwhile).
   */
  async #indexOlderRooms(beats: Set<string>, pass: SweepPass): Promise<void> {
    const { kv, store, isolate } = this.#opts;
    if ((await retryKv("sweep", () => kv.get(sweepKeys.indexed))).value !== null) {
      this.#indexed = true;
      return;
    }
    const now = this.#now();
    const published = await retryKv(
      "sweep",
      () => Array.fromAsync(kv.list<IsolateMetrics>({ prefix: METRICS_PREFIX })),
    );
    const older = published.some((e) =>
      !beats.has(e.value.isolate) && now - e.value.updatedAt <= METRICS_STALE_MS
    );
    if (older) return;
    for await (const room of store.rooms()) {
      if (this.#stopping()) return;
      await this.#sweepRoom(room, pass);
    }
    await commitUnchecked("sweep", () => kv.atomic().set(sweepKeys.indexed, { at: now, isolate }));
    this.#indexed = true;
  }

  async #sweepRoom(room: string, pass: SweepPass): Promise<void> {
    const { removed, lost } = await this.#opts.store.sweep(room, { reindex: true });
    pass.rooms++;
    pass.removed += removed.length;
    pass.lost += lost.length;
    if (removed.length + lost.length > 0) pass.changed.add(room);
  }

  #stopping(): boolean {
    return this.#opts.stopped?.() ?? false;
  }
}

/**
 * How long a claim on a lost isolate keeps other passes away: long enough for a pass to sweep
 * thousands of rooms, short enough that a pass that died midway delays the rest by little.
 */
export function lostIsolateLeaseMs(heartbeatTimeoutMs: number): number {
  return Math.max(60_000, 3 * heartbeatTimeoutMs);
}
