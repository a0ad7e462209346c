/** Small helpers shared by the benches: percentiles and human-readable numbers. */

export interface Summary {
  n: number;
  min: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (no interpolation: every value was observed). */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summary of millisecond samples, rounded to microseconds so the JSON stays readable. */
export function summarize(samples: number[]): Summary {
  const sorted = samples.toSorted((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: round(sorted[0] ?? NaN),
    median: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? NaN),
    mean: round(sum / sorted.length),
  };
}

/** One decimal, for figures whose noise is far above a tenth (CPU %, KiB, µs). */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Bytes as KiB with one decimal (what browser devtools show), e.g. "12.3 KiB". */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** Milliseconds with two decimals, e.g. "0.42 ms". */
export function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

/** Integer with thousands separators, e.g. "12,345". */
export function int(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}
