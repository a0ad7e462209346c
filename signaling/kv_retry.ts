/**
 * The one retry loop for Deno KV work, used by every read-check-commit of the store and every
 * write of the bus. It covers the two ways a correct KV operation fails and should simply run
 * again: a version check that lost against a concurrent writer (the step returns `CONFLICT`), and
 * "database is locked", which KV throws when several processes share one local sqlite file.
 *
 * It is also where KV failures are seen: every operation that fails for good is counted and logged
 * once per change of state by `kvHealth` (kv_health.ts), and every unchecked commit that goes
 * through tells it KV can be written (again).
 */
import { kvHealth } from "./kv_health.ts";

/** Returned by a retry step when its atomic commit lost a version check: read again and redo. */
export const CONFLICT: unique symbol = Symbol("conflict");

/** Attempts before giving up: far beyond any contention seen with 50 concurrent joiners. */
const MAX_ATTEMPTS = 64;
/** Cap of the backoff window, in ms: contenders spread out without a caller waiting long. */
const MAX_BACKOFF_MS = 50;

/**
 * Runs a read-check-commit `step` until it returns something other than `CONFLICT`, also when KV
 * throws "database is locked". Backs off with jitter so contenders spread out; gives up after
 * `MAX_ATTEMPTS` with an error that says what was tried. Any other error passes through at once.
 * A step must be safe to run again: it reads what it checks within itself. A failure is counted
 * under `what` (`mooz_kv_errors_total{operation}`), so `what` is a fixed name, never an id.
 *
 * @example
 * ```ts
 * const meta = await retryKv("rename", async () => {
 *   const entry = await kv.get<RoomMeta>(key);
 *   if (!entry.value) return null;
 *   const next = { ...entry.value, name };
 *   const res = await kv.atomic().check(entry).set(key, next).commit();
 *   return res.ok ? next : CONFLICT;
 * });
 * ```
 */
export async function retryKv<T>(
  what: string,
  step: () => Promise<T | typeof CONFLICT>,
): Promise<T> {
  try {
    return await retrySteps(what, step);
  } catch (error) {
    kvHealth.failed(what, error);
    throw error;
  }
}

async function retrySteps<T>(
  what: string,
  step: () => Promise<T | typeof CONFLICT>,
): Promise<T> {
  let locked = 0;
  for (let attempt = 1;; attempt++) {
    let lastError: unknown = undefined;
    try {
      const result = await step();
      if (result !== CONFLICT) return result;
    } catch (error) {
      if (!isDatabaseLocked(error)) throw error;
      lastError = error;
      locked++;
    }
    if (attempt >= MAX_ATTEMPTS) {
      const hint = locked > 0
        ? "other processes keep the database locked: put processes that share rooms on a KV " +
          "server (MOOZ_KV=https://...) rather than on one local file"
        : "too many writers contend for the same room at once";
      throw new Error(
        `${what}: gave up after ${attempt} attempts (${
          attempt - locked
        } conflicts, ${locked} "database is locked"); ${hint}`,
        { cause: lastError },
      );
    }
    await sleep(backoffMs(attempt));
  }
}

/**
 * Commits an atomic operation without version checks (so it cannot conflict), built anew by
 * `build` for every attempt, retrying only "database is locked".
 *
 * @example
 * ```ts
 * await commitUnchecked("heartbeat", () => kv.atomic().set(key, Date.now()));
 * ```
 */
export async function commitUnchecked(
  what: string,
  build: () => Deno.AtomicOperation,
): Promise<void> {
  await retryKv(what, async () => {
    // Without checks KV has no reason to refuse; if it ever does, say so rather than lose data.
    if (!(await build().commit()).ok) {
      throw new Error(`${what}: KV refused a commit without checks`);
    }
    return undefined;
  });
  kvHealth.writeSucceeded(what);
}

function isDatabaseLocked(error: unknown): boolean {
  return error instanceof Error && /database is locked/i.test(error.message);
}

/** Full jitter over an exponentially growing window: 2, 4, 8, … capped at MAX_BACKOFF_MS. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
