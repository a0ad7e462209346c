/**
 * A token bucket: `burst` actions at once, refilled at `perSecond`. The feature host uses one per
 * peer and topic to drop floods; features use one to pace what they send.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ burst: 3, perSecond: 1 });
 * bucket.take(); // true, three times in a row; then false until a second has passed
 * ```
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: { burst: number; perSecond: number },
    readonly now: () => number = Date.now,
  ) {
    this.#tokens = rate.burst;
    this.#at = now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether a token is there, without taking it (for a button's disabled state). */
  get ready(): boolean {
    this.#refill();
    return this.#tokens >= 1;
  }

  /** Milliseconds until the next token, 0 when one is there. */
  get waitMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * 1000 / this.rate.perSecond);
  }

  #refill(): void {
    const now = this.now();
    // A wall clock can be set back: that is no time passing, not negative time draining tokens.
    const elapsed = Math.max(0, now - this.#at);
    this.#tokens = Math.min(this.rate.burst, this.#tokens + elapsed * this.rate.perSecond / 1000);
    this.#at = now;
  }
}
