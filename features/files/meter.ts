/**
 * Rate and time left for a progress bar: bytes over a sliding window of recent samples, so the
 * figure follows a link that slows down or speeds up within seconds, without jumping at every
 * chunk.
 */

/** How far back the rate looks. */
const WINDOW_MS = 3_000;

/** Bytes done over time for one transfer (or one receiver of it). */
export class RateMeter {
  readonly #samples: { at: number; done: number }[] = [];
  #done = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Total bytes done so far (monotonic: a smaller value is ignored). */
  update(done: number): void {
    if (done < this.#done) return;
    this.#done = done;
    const at = this.now();
    const last = this.#samples.at(-1);
    // One sample per 100 ms is plenty, and keeps the window short.
    if (last && at - last.at < 100) last.done = done;
    else this.#samples.push({ at, done });
    while (this.#samples.length > 2 && at - this.#samples[1].at > WINDOW_MS) this.#samples.shift();
  }

  /** Bytes a second over the window, or null before there are two samples far enough apart. */
  rate(): number | null {
    const first = this.#samples[0], last = this.#samples.at(-1);
    if (!first || !last || last.at - first.at < 400) return null;
    const elapsed = this.now() - first.at;
    return (last.done - first.done) / (elapsed / 1000);
  }

  /** Seconds left to reach `total`, or null while the rate is unknown or zero. */
  secondsLeft(total: number): number | null {
    const rate = this.rate();
    if (rate === null || rate <= 0) return null;
    return Math.max(0, (total - this.#done) / rate);
  }
}

/** "12.3 MB", "999 KB", "5 bytes": decimal units, as file managers show sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return bytes === 1 ? "1 byte" : `${bytes} bytes`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1000, unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  // One decimal below 100 ("10.5 MB"), none above ("300 MB"), and never a trailing ".0".
  const text = value < 99.95 ? value.toFixed(1).replace(/\.0$/, "") : String(Math.round(value));
  return `${text} ${units[unit]}`;
}

/** "4.2 MB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** "5 s left", "3 min left", "1 h 5 min left". */
export function formatTimeLeft(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s left`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min left`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}
