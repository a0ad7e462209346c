/**
 * The two timers every isolate runs whatever rooms it serves: the heartbeat, which records in one
 * batch that this isolate's sockets are alive (and publishes its metrics) and looks after the
 * sockets waiting in its lobbies (their knocks' beat, and a decision whose bus note was lost), and
 * the sweep of every
 * room in the store, which looks after rooms whose servers all stopped (nobody else serves them,
 * so no room timer would ever look at them): their members start their grace period, and are
 * removed if they do not come back within it.
 */
import type { Connection } from "./connection.ts";
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
  #intervals: ReturnType<typeof setInterval>[] = [];

  constructor(opts: IsolateTimersOptions) {
    this.#opts = opts;
  }

  /** Starts the heartbeat and the sweep. */
  start(): void {
    const { heartbeatMs, heartbeatTimeoutMs, tasks } = this.#opts;
    this.#intervals.push(setInterval(() => tasks.track(this.#beat()), heartbeatMs));
    // Rooms whose server died are nobody's local room: sweep all of them now and then.
    const sweepEvery = Math.max(MIN_SWEEP_EVERY_MS, heartbeatTimeoutMs / 2);
    this.#intervals.push(setInterval(() => tasks.track(this.#sweepAll()), sweepEvery));
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

  /** Records that this isolate's sockets are alive, in one batch. */
  async #beat(): Promise<void> {
    const { store, cache, kv, metrics } = this.#opts;
    const entries = cache.servedMembers();
    if (entries.length) await store.heartbeat(entries, this.#opts.isolate);
    await this.#opts.beatLobby();
    this.updateGauges();
    await publishMetrics(kv, metrics);
  }

  async #sweepAll(): Promise<void> {
    const { store, cache, metrics, tasks } = this.#opts;
    for await (const room of store.rooms()) {
      if (tasks.stopped) return;
      if (cache.get(room)) continue; // maintained by its own timer
      const { removed, lost } = await store.sweep(room);
      if (removed.length === 0 && lost.length === 0) continue;
      if (removed.length) bump(metrics.evictions, "grace-expired", removed.length);
      cache.changed(room);
    }
  }
}
