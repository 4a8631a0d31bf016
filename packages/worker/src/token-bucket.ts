/** Options of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second, > 0. */
  ratePerSecond: number;
  /** Most tokens kept (the burst). Default `ratePerSecond` (at least 1). */
  capacity?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * A rate limiter by reservation: `reserve()` takes a token at once and says how long the caller must wait
 * before using it (0 while the bucket holds tokens). Reservations queue up in call order, so N concurrent
 * callers are spread `1 / ratePerSecond` apart without polling.
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError("ratePerSecond must be > 0");
    this.#ratePerMs = options.ratePerSecond / 1000;
    this.#capacity = Math.max(1, options.capacity ?? options.ratePerSecond);
    this.#now = options.now ?? Date.now;
    this.#tokens = this.#capacity;
    this.#updatedAt = this.#now();
  }

  /** Takes one token; resolves to the ms to wait before acting on it (0: act now). */
  reserve(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + Math.max(0, now - this.#updatedAt) * this.#ratePerMs);
    this.#updatedAt = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil(-this.#tokens / this.#ratePerMs);
  }
}
