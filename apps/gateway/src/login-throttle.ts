export interface LoginThrottleOptions {
  /** Failed attempts a client address may make at once (`ADMIN_LOGIN_BURST`). */
  burst: number;
  /** One more failed attempt is allowed per this many ms (`ADMIN_LOGIN_REFILL`). */
  refillMs: number;
  /** Addresses tracked at most (default 10,000); past it, the longest-tracked goes. */
  maxEntries?: number;
  now?: () => number;
}

interface Bucket {
  /** Failed attempts still allowed, as of `at`. */
  tokens: number;
  at: number;
}

/**
 * A token bucket of failed logins per client address, in memory. An address that has used its burst is
 * refused (before its token is even compared) until the bucket refills; a success costs nothing.
 */
export class LoginThrottle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: LoginThrottleOptions) {
    this.burst = options.burst;
    this.refillMs = options.refillMs;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `address` may try again; 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const bucket = this.current(address);
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * this.refillMs) / 1000));
  }

  /** Counts a failed attempt; true when it used the address's last allowed attempt (now locked out). */
  fail(address: string): boolean {
    const bucket = this.current(address) ?? this.insert(address);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    return bucket.tokens < 1;
  }

  /** Addresses tracked (for tests: the map stays bounded). */
  get size(): number {
    return this.buckets.size;
  }

  private current(address: string): Bucket | undefined {
    const bucket = this.buckets.get(address);
    if (!bucket) return undefined;
    const now = this.now();
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) / this.refillMs);
    bucket.at = now;
    if (bucket.tokens >= this.burst) {
      // Refilled: it holds nothing worth keeping.
      this.buckets.delete(address);
      return undefined;
    }
    return bucket;
  }

  private insert(address: string): Bucket {
    // Full: the longest-tracked address goes (Map order is insertion order), in O(1).
    while (this.buckets.size >= this.maxEntries) this.buckets.delete(this.buckets.keys().next().value!);
    const bucket = { tokens: this.burst, at: this.now() };
    this.buckets.set(address, bucket);
    return bucket;
  }
}
