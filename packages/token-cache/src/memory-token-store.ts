import { RefreshWaiters } from "./refresh-waiters";
import type { CachedToken, SetTokenResult, TokenLookup, TokenStore, WaitForRefreshResult } from "./token-store";

export interface MemoryTokenStoreOptions {
  /** Clock for TTLs, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  token: CachedToken | undefined;
  /** Version of the token, or of the invalidation when `token` is undefined. */
  tokenVersion: number;
  expiresAt: number;
}

/**
 * A TokenStore inside one process: the default of TokenManager, and enough for a single gateway
 * replica. Same contract as RedisTokenStore (same test suite); waiters are woken by in-process events.
 * Expired entries are dropped when read, so memory stays proportional to live keys that are read.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #now: () => number;
  readonly #tokens = new Map<string, Entry>();
  readonly #locks = new Map<string, { owner: string; expiresAt: number }>();
  readonly #waiters = new RefreshWaiters();

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  #entry(key: string): Entry | undefined {
    const entry = this.#tokens.get(key);
    if (entry !== undefined && entry.expiresAt <= this.#now()) {
      this.#tokens.delete(key);
      return undefined;
    }
    return entry;
  }

  #lockOwner(key: string): string | undefined {
    const lock = this.#locks.get(key);
    if (lock !== undefined && lock.expiresAt <= this.#now()) {
      this.#locks.delete(key);
      return undefined;
    }
    return lock?.owner;
  }

  getToken(key: string): Promise<TokenLookup> {
    const entry = this.#entry(key);
    if (entry === undefined) return Promise.resolve({ state: "miss" });
    if (entry.token === undefined) return Promise.resolve({ state: "invalidated", tokenVersion: entry.tokenVersion });
    return Promise.resolve({ state: "hit", token: { ...entry.token } });
  }

  setTokenIfNewer(key: string, token: CachedToken, ttlMs: number): Promise<SetTokenResult> {
    const entry = this.#entry(key);
    if (entry !== undefined) {
      if (entry.token === undefined && token.tokenVersion <= entry.tokenVersion) return Promise.resolve("invalidated");
      if (entry.token !== undefined && token.tokenVersion < entry.tokenVersion) return Promise.resolve("stale");
    }
    this.#tokens.set(key, { token: { ...token }, tokenVersion: token.tokenVersion, expiresAt: this.#now() + ttlMs });
    return Promise.resolve("written");
  }

  invalidateToken(key: string, tokenVersion: number, ttlMs: number): Promise<void> {
    const entry = this.#entry(key);
    // A newer token (or a marker at a newer version) is kept: the 401 was for an older token.
    if (entry !== undefined && entry.tokenVersion > tokenVersion) return Promise.resolve();
    this.#tokens.set(key, { token: undefined, tokenVersion, expiresAt: this.#now() + ttlMs });
    return Promise.resolve();
  }

  acquireLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const holder = this.#lockOwner(key);
    if (holder !== undefined && holder !== owner) return Promise.resolve(false);
    this.#locks.set(key, { owner, expiresAt: this.#now() + ttlMs });
    return Promise.resolve(true);
  }

  extendLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    if (this.#lockOwner(key) !== owner) return Promise.resolve(false);
    this.#locks.set(key, { owner, expiresAt: this.#now() + ttlMs });
    return Promise.resolve(true);
  }

  releaseLock(key: string, owner: string): Promise<boolean> {
    const released = this.#lockOwner(key) === owner;
    if (released) this.#locks.delete(key);
    this.#waiters.notify(key);
    return Promise.resolve(released);
  }

  waitForRefresh(key: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitForRefreshResult> {
    return this.#waiters.wait(key, timeoutMs, signal, () => Promise.resolve(this.#lockOwner(key) !== undefined));
  }
}
