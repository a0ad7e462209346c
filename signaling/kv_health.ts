/**
 * Whether this isolate's KV works, as its KV calls find out: every failed operation is counted by
 * name (`mooz_kv_errors_total`), and the state (`mooz_kv_ok`) is logged when it changes, not per
 * call, so a full disk does not flood the log with one error per join and heartbeat.
 *
 * KV is failing from the first failed operation until a write succeeds again (`commitUnchecked`,
 * the health probe, the metrics publish): a successful read proves nothing on a full disk or a
 * read-only file, where reads still work and every write fails.
 *
 * `retryKv` and `commitUnchecked` (kv_retry.ts) report to `kvHealth`, the one instance of this
 * isolate; tests may make their own.
 */

/** What the log says an operator should look at when KV fails. */
export const KV_CHECK_HINT = "check free disk space and permissions (a read-only mount) where " +
  "the KV file lives, MOOZ_KV (the path or URL), and for a remote KV its reachability and " +
  "DENO_KV_ACCESS_TOKEN";

/**
 * Failed KV operations by name and the state they add up to.
 *
 * @example
 * ```ts
 * const health = new KvHealth({ log: () => {} });
 * health.failed("join", new Error("database or disk is full"));
 * health.ok; // false, until a write succeeds:
 * health.writeSucceeded("heartbeat");
 * health.ok; // true
 * ```
 */
export class KvHealth {
  /** Failed operations by name (the names `retryKv` is given), since the isolate started. */
  readonly errors: Record<string, number> = {};
  #ok = true;
  #failingSince = 0;
  #failuresSince = 0;
  readonly #reported = new WeakSet<object>();
  readonly #log: (message: string, error?: unknown) => void;
  readonly #now: () => number;

  constructor(opts: { log?: (message: string, error?: unknown) => void; now?: () => number } = {}) {
    // Failing is an error (with the error's stack); working again is news.
    this.#log = opts.log ??
      ((message, error) =>
        error === undefined ? console.info(message) : console.error(message, error));
    this.#now = opts.now ?? Date.now;
  }

  /** False from a failed operation until the next successful write. */
  get ok(): boolean {
    return this.#ok;
  }

  /** Counts a failed operation; logs only if KV was working until now. */
  failed(operation: string, error: unknown): void {
    this.errors[operation] = (this.errors[operation] ?? 0) + 1;
    if (typeof error === "object" && error !== null) this.#reported.add(error);
    this.#failuresSince++;
    if (!this.#ok) return;
    this.#ok = false;
    this.#failingSince = this.#now();
    this.#failuresSince = 1;
    this.#log(
      `KV is failing: ${operation} failed with "${messageOf(error)}"; ${KV_CHECK_HINT}. ` +
        "Further failures are counted in mooz_kv_errors_total, not logged, until KV works again.",
      error,
    );
  }

  /** A write went through: KV works (again). */
  writeSucceeded(operation: string): void {
    if (this.#ok) return;
    this.#ok = true;
    const seconds = Math.round((this.#now() - this.#failingSince) / 100) / 10;
    this.#log(
      `KV works again (${operation} succeeded) after ${this.#failuresSince} failed ` +
        `operation(s) in ${seconds} s.`,
    );
  }

  /**
   * Whether `error` is a failure counted here (and so logged once already): callers that log
   * every failure of their own may skip these.
   */
  reported(error: unknown): boolean {
    return typeof error === "object" && error !== null && this.#reported.has(error);
  }
}

/** This isolate's KV health, fed by kv_retry.ts; read by `/healthz` and `/metrics`. */
export const kvHealth: KvHealth = new KvHealth();

/** The message of an error, or the thing itself as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A health probe that failed, and at which step: `write` (disk full, read-only file, no access),
 * `read` (the write went through but reading it back failed or returned something else).
 */
export class KvProbeError extends Error {
  constructor(readonly step: "write" | "read", cause: unknown) {
    super(`health probe ${step} failed: ${messageOf(cause)}`, { cause });
    this.name = "KvProbeError";
  }
}
