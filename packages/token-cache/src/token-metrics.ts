import type { WaitForRefreshResult } from "./token-store";

/** How a refresh attempt (one call to `TokenRefresher.refresh`) ended. */
export type RefreshOutcome =
  /** New credentials were issued, saved and cached. */
  | "refreshed"
  /** The endpoint failed in a way that may pass (5xx, 429, network, timeout); the old token is served while valid. */
  | "transient_failure"
  /** The endpoint refused for good (invalid_grant & co.): a human must re-authorise the account. */
  | "permanent_failure"
  /** The refresh failed permanently, but another writer had already rotated the credentials: its token was used. */
  | "race_recovered";

/**
 * Counters TokenManager reports, for wiring to prom-client or similar. Every method is optional and
 * called synchronously; it must not throw. Labels are low-cardinality on purpose (platform, not account
 * id) and never carry token values.
 */
export interface TokenMetrics {
  /** getAccessToken answered from the shared cache. */
  cacheHit?(platform: string): void;
  /** getAccessToken did not find a usable token in the shared cache (or the cache was unreachable). */
  cacheMiss?(platform: string): void;
  /** One refresh attempt finished; `durationMs` is the time spent in `TokenRefresher.refresh`. */
  refresh?(platform: string, outcome: RefreshOutcome, durationMs: number): void;
  /** This process waited for another process's refresh; `durationMs` is the time spent waiting. */
  lockWait?(platform: string, result: WaitForRefreshResult | "store_error", durationMs: number): void;
  /** A TokenStore call failed or timed out (Redis down or slow); TokenManager carried on without it. */
  storeError?(operation: string, code: string): void;
}
