/**
 * The health check behind `/healthz`: proves that this isolate's KV can be written and read
 * (`RoomStore.ping`), within a time limit, and says what failed and what to check when it cannot.
 * Load balancers check often: concurrent checks share one probe, and a hung KV costs one pending
 * probe, not one per check.
 */
import { KV_CHECK_HINT, kvHealth, KvProbeError, messageOf } from "./kv_health.ts";

/**
 * A check answers within this long even when KV hangs: below the 5 s most load balancers wait,
 * far above a healthy write and read (a few ms, tens over a remote KV).
 */
export const HEALTH_TIMEOUT_MS = 3_000;

/** What failed: opening KV, writing the probe, reading it back, or the time limit. */
export type HealthStep = "open" | "write" | "read" | "timeout";

/** The outcome of one check, as `/healthz` answers it (`error` short, `reason` for operators). */
export type HealthReport =
  | { ok: true; kvMs: number }
  | { ok: false; step: HealthStep; error: string; reason: string };

const RECOVERS = "The server recovers by itself once KV works again.";

/**
 * Health checks of one isolate's KV.
 *
 * @example
 * ```ts
 * const health = new HealthCheck({ ping: () => store.ping(isolate) });
 * const report = await health.check();
 * if (!report.ok) console.log(report.reason);
 * ```
 */
export class HealthCheck {
  readonly #ping: () => Promise<void>;
  readonly #timeoutMs: number;
  #probe: Promise<void> | null = null;

  constructor(opts: { ping: () => Promise<void>; timeoutMs?: number }) {
    this.#ping = opts.ping;
    this.#timeoutMs = opts.timeoutMs ?? HEALTH_TIMEOUT_MS;
  }

  /** Writes and reads KV (or joins the probe in flight); answers within the time limit. */
  async check(): Promise<HealthReport> {
    const started = performance.now();
    const probe = this.#probe ??= this.#ping().finally(() => (this.#probe = null));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#timeoutMs);
    });
    try {
      if (await Promise.race([probe, timedOut]) === "timeout") {
        const error = new Error(`no answer within ${this.#timeoutMs} ms`);
        kvHealth.failed("health timeout", error);
        return {
          ok: false,
          step: "timeout",
          error: "The room store did not answer in time.",
          reason: `KV did not complete a write and a read within ${this.#timeoutMs} ms: the ` +
            `disk or the remote KV is overloaded, hung or unreachable; ${KV_CHECK_HINT}. ` +
            RECOVERS,
        };
      }
      return { ok: true, kvMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch (error) {
      return probeFailed(error);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The report for a KV that could not even be opened (`getHub()` rejected). */
export function openFailed(error: unknown): HealthReport {
  kvHealth.failed("open", error);
  return {
    ok: false,
    step: "open",
    error: "The room store cannot be opened.",
    reason: `Opening KV failed (${messageOf(error)}): check that MOOZ_KV names a file whose ` +
      "directory exists and is writable (permissions, a read-only mount), free disk space, " +
      `and for a remote KV its URL and DENO_KV_ACCESS_TOKEN. ${RECOVERS}`,
  };
}

function probeFailed(error: unknown): HealthReport {
  const cause = error instanceof KvProbeError ? error.cause : error;
  if (error instanceof KvProbeError && error.step === "read") {
    return {
      ok: false,
      step: "read",
      error: "The room store cannot be read.",
      reason: `Reading back what was just written to KV failed (${messageOf(cause)}): the KV ` +
        `file may be damaged or the remote KV inconsistent; ${KV_CHECK_HINT}. ${RECOVERS}`,
    };
  }
  return {
    ok: false,
    step: "write",
    error: "The room store cannot be written.",
    reason: `Writing to KV failed (${messageOf(cause)}): ${KV_CHECK_HINT}. ${RECOVERS}`,
  };
}
