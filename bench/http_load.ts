/**
 * Closed-loop load generator: `concurrency` fetch loops, each sending the next request as soon as
 * the previous body has been read, over keep-alive connections. Only requests that complete inside
 * the measuring window (after the warm-up) count. Bounded by time and by a request cap.
 */
import { summarize, type Summary } from "./stats.ts";

export interface LoadOptions {
  url: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Hard cap on requests sent (warm-up included), so a run can never grow without bound. */
  maxRequests: number;
  timeoutMs: number;
}

export interface LoadResult {
  url: string;
  concurrency: number;
  durationS: number;
  requests: number;
  errors: number;
  /** A few distinct error messages, for the report. */
  errorSamples: string[];
  rps: number;
  latencyMs: Summary;
  capped: boolean;
}

export async function loadTest(opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(opts.url);
  if (url.hostname !== "127.0.0.1") throw new Error(`refusing to load-test ${url.host}`);
  // A private client: its connection pool is closed afterwards, so no socket outlives the run.
  const client = Deno.createHttpClient({});
  const start = performance.now();
  const windowStart = start + opts.warmupMs;
  const windowEnd = windowStart + opts.durationMs;
  const latencies: number[] = [];
  const errorSamples = new Set<string>();
  let sent = 0;
  let errors = 0;

  const worker = async () => {
    while (performance.now() < windowEnd && sent < opts.maxRequests) {
      sent++;
      const t0 = performance.now();
      let error: string | null = null;
      try {
        const res = await fetch(url, { client, signal: AbortSignal.timeout(opts.timeoutMs) });
        await res.arrayBuffer();
        if (res.status !== 200) error = `status ${res.status}`;
      } catch (err) {
        error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
      const t1 = performance.now();
      if (t1 < windowStart || t1 > windowEnd) continue;
      if (error === null) latencies.push(t1 - t0);
      else {
        errors++;
        if (errorSamples.size < 5) errorSamples.add(error);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    client.close();
  }
  // Shorter than durationMs only when the request cap stopped the run early.
  const durationS = Math.max(0, Math.min(performance.now(), windowEnd) - windowStart) / 1000;
  return {
    url: url.href,
    concurrency: opts.concurrency,
    durationS: Math.round(durationS * 1000) / 1000,
    requests: latencies.length,
    errors,
    errorSamples: [...errorSamples],
    rps: durationS > 0 ? Math.round(latencies.length / durationS) : 0,
    latencyMs: summarize(latencies),
    capped: sent >= opts.maxRequests,
  };
}
