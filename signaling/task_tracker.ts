/**
 * The hub's background work: every promise a socket event or timer starts without awaiting it is
 * tracked here, so `stop()` and tests can wait until everything started has finished, and a
 * failure is logged instead of becoming an unhandled rejection that ends the process.
 */
import { kvHealth } from "./kv_health.ts";

/**
 * Work in flight, and whether the owner is stopping (then timers and refreshes start nothing new).
 *
 * @example
 * ```ts
 * const tasks = new TaskTracker();
 * tasks.track(store.heartbeat(entries, isolate));
 * await tasks.settle(); // the heartbeat has been written (or its failure logged)
 * ```
 */
export class TaskTracker {
  readonly #pending = new Set<Promise<unknown>>();
  #stopped = false;

  /** True once `stop()` was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Marks the owner as stopping; work already tracked still runs to its end. */
  stop(): void {
    this.#stopped = true;
  }

  /** Tracks `p` until it settles and logs its failure; returns `p` for the caller to await. */
  track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    // A KV failure was logged once already by kv_health.ts, and only counted from then on.
    p.catch((err) => kvHealth.reported(err) || console.error("Signaling task failed:", err))
      .finally(() => this.#pending.delete(p));
    return p;
  }

  /** Waits until every piece of work tracked so far, and any it started, has settled. */
  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }
}
