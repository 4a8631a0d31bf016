/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** Delay before the 2nd try, ms; doubles for each further try. */
  baseMs: number;
  /** Longest delay, ms (applied after jitter and after `retryAfterMs`). */
  capMs: number;
  /** Uniform [0, 1). The delay is scaled by `0.8 + 0.4 * random()` (±20 %) so replicas do not retry in step. */
  random: () => number;
  /** How long the server asked us to wait, ms; the delay is at least this (still capped). */
  retryAfterMs?: number;
}

/**
 * The wait after failed try number `failedTries` (1-based): `baseMs * 2^(failedTries - 1)`, jittered ±20 %,
 * raised to `retryAfterMs`, capped at `capMs`. With base 2 s and cap 30 s: ~2 s, ~4 s, ~8 s, ~16 s, 30 s...
 */
export function backoffDelay(failedTries: number, options: BackoffOptions): number {
  const exponential = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, failedTries - 1));
  const jittered = exponential * (0.8 + 0.4 * options.random());
  return Math.round(Math.min(options.capMs, Math.max(jittered, options.retryAfterMs ?? 0)));
}
