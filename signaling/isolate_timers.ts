/**
 * The two timers every isolate runs whatever rooms it serves: the heartbeat, which records that
 * this isolate is alive (one key, which keeps every member it holds alive; see
 * isolate_beats.ts), publishes its metrics, and looks after the sockets waiting in its lobbies
 * (their knocks' beat, and a decision whose bus note was lost); and the sweep, which looks after
 * rooms whose servers all stopped (nobody else serves them, so no room timer would ever look at
 * them): their members start their grace period, and are removed if they do not come back within
 * it. The sweep visits only rooms with something due (`due_sweep.ts`): its cost does not grow
 * with the number of rooms, and idle rooms cost nothing.
 */
import type { Connection } from "./connection.ts";
import { DueSweeper } from "./due_sweep.ts";
import { bump, type IsolateMetrics, publishMetrics } from "./metrics.ts";
import type { RoomCache } from "./room_cache.ts";
import type { RoomStore } from "./store.ts";
import type { TaskTracker } from "./task_tracker.ts";

/** The sweep runs at least this far apart, however short the heartbeat timeout. */
const MIN_SWEEP_EVERY_MS = 1_000;

/** What `IsolateTimers` works with. */
export interface IsolateTimersOptions {
  kv: Deno.Kv;
  /** This isolate's id, as written in the member records of its sockets. */
  isolate: string;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  store: RoomStore;
  cache: RoomCache;
  /** Every open socket of this isolate (the `connections` gauge). */
  connections: ReadonlySet<Connection>;
  metrics: IsolateMetrics;
  tasks: TaskTracker;
  /**
   * Each heartbeat: beat the knocks of the sockets waiting in lobbies here and carry out any
   * decision taken about them (hub_lobby.ts).
   */
  beatLobby: () => Promise<void>;
}

/**
 * Heartbeat, sweep and gauges of one isolate.
 *
 * @example
 * ```ts
 * const timers = new IsolateTimers({ kv, heartbeatMs, heartbeatTimeoutMs, ...parts });
 * timers.start();
 * timers.stop();
 * ```
 */
export class IsolateTimers {
  readonly #opts: IsolateTimersOptions;
  readonly #sweeper: DueSweeper;
  #intervals: ReturnType<typeof setInterval>[] = [];
  /** The pass in progress: a slow pass is not joined by a second one. */
  #sweeping: Promise<void> | null = null;

  constructor(opts: IsolateTimersOptions) {
    this.#opts = opts;
    this.#sweeper = new DueSweeper({
      kv: opts.kv,
      store: opts.store,
      isolate: opts.isolate,
      heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
      stopped: () => opts.tasks.stopped,
    });
  }

  /** Starts the heartbeat and the sweep. */
  start(): void {
    const { heartbeatMs, heartbeatTimeoutMs, tasks } = this.#opts;
    this.#intervals.push(setInterval(() => tasks.track(this.#beat()), heartbeatMs));
    // Rooms whose server died are nobody's local room: look for those with something due.
    const sweepEvery = Math.max(MIN_SWEEP_EVERY_MS, heartbeatTimeoutMs / 2);
    this.#intervals.push(setInterval(() => tasks.track(this.sweep()), sweepEvery));
  }

  /** Stops both timers; work they started is the task tracker's to wait for. */
  stop(): void {
    this.#intervals.forEach(clearInterval);
    this.#intervals = [];
  }

  /** Brings the `connections` and `rooms` gauges up to date. */
  updateGauges(): void {
    const { metrics, connections, cache } = this.#opts;
    metrics.connections = connections.size;
    metrics.rooms = cache.activeRoomCount();
  }

  /**
   * One sweep pass (`DueSweeper`), unless one is still running; rosters of the rooms it changed
   * are refreshed here and on the isolates serving them.
   */
  sweep(): Promise<void> {
    return this.#sweeping ??= (async () => {
      try {
        const { cache, metrics } = this.#opts;
        const pass = await this.#sweeper.pass();
        if (pass.removed) bump(metrics.evictions, "grace-expired", pass.removed);
        for (const room of pass.changed) cache.changed(room);
      } finally {
        this.#sweeping = null;
      }
    })();
  }

  /** Records that this isolate (and so every member it holds) is alive: one key. */
  async #beat(): Promise<void> {
    const { store, cache, kv, metrics } = this.#opts;
    // Also with no members: a sweep must be able to tell this isolate from a stopped one.
    await store.heartbeat(cache.servedMembers(), this.#opts.isolate);
    await this.#opts.beatLobby();
    this.updateGauges();
    await publishMetrics(kv, metrics);
  }
}
