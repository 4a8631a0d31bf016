/**
 * A cached access token. Never carries the refresh token: the cache only ever holds what a request
 * needs to call upstream, so a leaked cache entry cannot mint new tokens.
 */
export interface CachedToken {
  accessToken: string;
  /** Epoch milliseconds at which the token stops working; absent when the platform did not say. */
  expiresAt?: number;
  /** The credentials' `tokenVersion` (0 for credentials never refreshed by TokenManager). Integer >= 0. */
  tokenVersion: number;
}

/** What {@link TokenStore.getToken} found. */
export type TokenLookup =
  | { state: "hit"; token: CachedToken }
  | { state: "miss" }
  /**
   * {@link TokenStore.invalidateToken} ran: every token with `tokenVersion <= tokenVersion` is known bad
   * and must not be served or cached again; the next caller must refresh.
   */
  | { state: "invalidated"; tokenVersion: number };

/** Outcome of {@link TokenStore.setTokenIfNewer}. */
export type SetTokenResult =
  /** Stored, replacing whatever was cached. */
  | "written"
  /** Refused: a token with a higher `tokenVersion` is cached. */
  | "stale"
  /** Refused: the key was invalidated at this `tokenVersion` or a later one. */
  | "invalidated";

/** Outcome of {@link TokenStore.waitForRefresh}. */
export type WaitForRefreshResult =
  /** The lock holder announced a finished refresh (successful or not): read the cache again. */
  | "announced"
  /** Nobody held the lock when the wait started: the refresh had already finished (or its lock expired). */
  | "unlocked"
  /** Neither happened within the timeout. */
  | "timeout";

/**
 * The port to the cache TokenManager shares between processes: cached tokens, a refresh lock per key, and
 * a "refresh finished" announcement. `key` is a TokenRefresher's cache key (e.g. `"claude:account:42"`),
 * never a secret. Implementations: {@link MemoryTokenStore} (one process), {@link RedisTokenStore}.
 *
 * Every method may reject (the store is unreachable or slow); TokenManager treats a rejection as "the
 * store cannot help right now" and carries on with the database alone. Implementations must bound every
 * call in time (RedisTokenStore: `commandTimeoutMs`).
 */
export interface TokenStore {
  /** The cached token for `key`, a miss, or the invalidation marker left by {@link invalidateToken}. */
  getToken(key: string): Promise<TokenLookup>;

  /**
   * Atomically caches `token` for `ttlMs` milliseconds (integer > 0) unless the key holds a token with a
   * higher `tokenVersion` ("stale") or an invalidation marker at the same or a higher version
   * ("invalidated"). An equal version overwrites (same token, new TTL). This version guard is what stops a
   * request that read the account before a refresh from putting the old token back.
   */
  setTokenIfNewer(key: string, token: CachedToken, ttlMs: number): Promise<SetTokenResult>;

  /**
   * Drops the cached token and leaves an invalidation marker for `ttlMs` at `tokenVersion`: no token of
   * that version or older can be cached again, and the next caller refreshes (used after an upstream 401).
   * A no-op when the key already holds a token or a marker with a higher version: a late 401 on an old token
   * never throws away a newer one.
   */
  invalidateToken(key: string, tokenVersion: number, ttlMs: number): Promise<void>;

  /**
   * Takes the refresh lock for `key` for `ttlMs` milliseconds if nobody holds it. `owner` is a random
   * token unique to this attempt; only the owner can extend or release. Resolves true when taken, and also
   * when `owner` already holds it (the TTL is reset): the call is safe to re-send after a reconnect.
   */
  acquireLock(key: string, owner: string, ttlMs: number): Promise<boolean>;

  /** Resets the lock's TTL to `ttlMs` if `owner` still holds it (compare-and-pexpire). True when extended. */
  extendLock(key: string, owner: string, ttlMs: number): Promise<boolean>;

  /**
   * Deletes the lock if `owner` holds it (compare-and-delete) and, in the same atomic step, announces to
   * every {@link waitForRefresh} on any process that the refresh of `key` finished. The announcement is
   * sent even when the lock was no longer ours, because the cache may still have changed. True when the
   * lock was ours.
   */
  releaseLock(key: string, owner: string): Promise<boolean>;

  /**
   * Waits until the lock on `key` is released with an announcement, at most `timeoutMs` milliseconds.
   * Resolves "unlocked" at once when nobody holds the lock (the listener is registered before the check,
   * so a release between the caller's failed {@link acquireLock} and this call is never missed).
   * Rejects with `signal.reason` when `signal` aborts. Waiting costs no polling: waiters are woken by an
   * event (RedisTokenStore: one pub/sub subscriber connection per store, fanned out in-process).
   */
  waitForRefresh(key: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitForRefreshResult>;
}
