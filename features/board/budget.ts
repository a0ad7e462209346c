/**
 * A byte budget per peer: `burst` bytes at once, refilled at `perSecond`. Unlike a token bucket of
 * messages, one take may spend many (a whole board arriving at once).
 */
export class ByteBudget {
  #bytes: number;
  #at: number;

  constructor(
    readonly rate: { burst: number; perSecond: number },
    readonly now: () => number = Date.now,
  ) {
    this.#bytes = rate.burst;
    this.#at = now();
  }

  /** Spends `bytes` if that many are left; false (spending nothing) otherwise. */
  take(bytes: number): boolean {
    const now = this.now();
    const elapsed = Math.max(0, now - this.#at);
    this.#bytes = Math.min(this.rate.burst, this.#bytes + elapsed * this.rate.perSecond / 1000);
    this.#at = now;
    if (bytes > this.#bytes) return false;
    this.#bytes -= bytes;
    return true;
  }
}
