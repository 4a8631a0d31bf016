import { randomUUID } from "node:crypto";
import { Group } from "@subrelay/singleflight";
import { expectationOf, matchesExpectation } from "./credentials-expectation";
import { KeyedMutex } from "./keyed-mutex";
import { MemoryTokenStore } from "./memory-token-store";
import { TokenRefreshError } from "./token-refresh-error";
import type { RefreshOutcome, TokenMetrics } from "./token-metrics";
import type { CachedToken, SetTokenResult, TokenLookup, TokenStore } from "./token-store";
import { TokenStoreError } from "./token-store-error";
import type {
  AccessToken,
  AccountStore,
  CredentialsExpectation,
  Logger,
  OAuthCredentials,
  TokenAccount,
  TokenRefresher,
} from "./types";

export interface TokenManagerOptions {
  /** The database. Read on cache misses that need a refresh, written after every successful refresh. */
  accounts: AccountStore;
  /** Token endpoints by `account.platform`. An account whose platform has none fails with code `"unknown"`. */
  refreshers: Record<string, TokenRefresher>;
  /** Cache, lock and announcements shared between processes. Default: `new MemoryTokenStore()` (one process). */
  store?: TokenStore;
  /** getAccessToken refreshes a token that expires within this many ms (or whose expiry is unknown). Default 180_000. */
  refreshSkewMs?: number;
  /**
   * A cached token's TTL is its time to expiry minus this many ms, and never reaches into the last
   * `refreshSkewMs` (so a token that getAccessToken would refresh is never served from the cache). Default 300_000.
   */
  cacheSkewMs?: number;
  /** TTL of the refresh lock in ms; a refresh that runs longer extends it every `lockTtlMs / 3`. Default 30_000. */
  lockTtlMs?: number;
  /** Longest a caller waits for another process's refresh, in ms, before reading the cache and the database. Default 5_000. */
  lockWaitMs?: number;
  /** After a transient refresh failure, the still-valid old token is cached for this many ms only. Default 60_000. */
  failureTtlMs?: number;
  /** Cache TTL in ms for a token whose expiry is unknown, and of an invalidation marker. Default 1_800_000 (30 min). */
  unknownExpiryTtlMs?: number;
  /**
   * The signal given to `TokenRefresher.refresh` aborts after this many ms. It does not follow callers'
   * signals: a refresh that started runs to the end and is saved even when every caller left. Default 60_000.
   */
  refreshTimeoutMs?: number;
  /** At most one warning about an unreachable store per this many ms (the rest are counted). Default 10_000. */
  warningIntervalMs?: number;
  /** Clock, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /** Lock owner tokens. Default `crypto.randomUUID`. */
  createLockOwner?: () => string;
  /**
   * After a refresh, a failed `saveCredentials` is retried after each of these delays (ms) while the lock is
   * held. If every attempt fails, the credentials are kept in memory (served and refreshed from, instead of
   * the stale stored ones) and saved again in the background, every last delay, until written.
   * Default `[100, 500, 2_000]`.
   */
  saveRetryDelaysMs?: readonly number[];
  /** Waits `ms` (the save retries' backoff). Default: an unref'd `setTimeout`. */
  sleep?: (ms: number) => Promise<void>;
  /** Default: silent. Never receives token values. */
  logger?: Logger;
  metrics?: TokenMetrics;
}

/** Options of {@link TokenManager.getToken}. */
export interface GetTokenOptions {
  /** Stops this caller's wait (rejecting with its reason); a refresh that started goes on for the others. */
  signal?: AbortSignal;
  /**
   * After an upstream 401: the `tokenVersion` getToken served with the refused token. The token served is
   * newer than it: the cached or stored one when another caller (in this process or another) replaced the
   * refused token already, else a refresh, one for every caller in this process that asks past the same
   * version (and one across processes, as for expiry). The refused version is invalidated in the shared cache
   * first. Rejects (TokenRefreshError) rather than serve a token at or below it.
   */
  newerThan?: number;
}

/** What {@link TokenManager.refreshIfNeeded} did. */
export interface RefreshResult {
  /** True when this call (or the in-process call it joined) obtained new credentials from the token endpoint. */
  refreshed: boolean;
  /** True when this process held the shared refresh lock while deciding; false when another process held it or the store was unreachable. */
  lockHeld: boolean;
  /**
   * The account with the credentials in effect now. When the token came from the shared cache, only
   * `accessToken`, `expiresAt` and `tokenVersion` are new; the other credential fields are those passed in.
   */
  account: TokenAccount;
}

/** The shared lock this process holds; `lost` once an extension found it taken over. */
interface Lease {
  lost: boolean;
}

/** What this refresh holds while it runs, and where it reads and saves. */
interface Exclusion {
  /** The shared (token store) lock, when this process holds it. */
  lease: Lease | undefined;
  /** The database's refresh lock is held: no other process on this database refreshes the account now. */
  databaseLocked: boolean;
  accounts: Pick<AccountStore, "get" | "saveCredentials">;
}

/** The account as read for a refresh, and what its save must find still stored. */
interface AccountRead {
  account: TokenAccount;
  expected: CredentialsExpectation;
}

/** Refreshed credentials not yet written, and what they replace. */
interface Unsaved {
  credentials: OAuthCredentials;
  expected: CredentialsExpectation;
}

/** How a save ended; `failed` carries the store's error. */
type SaveResult = { state: "saved" } | { state: "conflict" } | { state: "failed"; error: unknown };

/** One run of the refresh procedure, shared by the callers that coalesced into it. */
interface Outcome {
  refreshed: boolean;
  lockHeld: boolean;
  account: TokenAccount;
  /** Why no usable token came out; getAccessToken may still serve a valid old token (transient failures). */
  failure?: unknown;
}

const noMetrics: TokenMetrics = {};

/**
 * Access tokens for upstream accounts: served from a shared cache, refreshed once per expiry across every
 * process sharing the store, never replaced in cache or database by an older token. See the package README
 * ("Guarantees") for the full contract.
 */
export class TokenManager {
  readonly #accounts: AccountStore;
  readonly #refreshers: Record<string, TokenRefresher>;
  readonly #store: TokenStore;
  readonly #refreshSkewMs: number;
  readonly #cacheSkewMs: number;
  readonly #lockTtlMs: number;
  readonly #lockWaitMs: number;
  readonly #failureTtlMs: number;
  readonly #unknownExpiryTtlMs: number;
  readonly #refreshTimeoutMs: number;
  readonly #warningIntervalMs: number;
  readonly #now: () => number;
  readonly #createLockOwner: () => string;
  readonly #logger: Logger | undefined;
  readonly #metrics: TokenMetrics;
  readonly #flights = new Group<Outcome>();
  /** Concurrent cache reads of one key share one store call: a herd costs one GET per process, not one per caller. */
  readonly #reads = new Group<TokenLookup>();
  /** Per cache key, moved on by every invalidation here: part of the read coalescing key (see #newReadEpoch). */
  readonly #readEpochs = new Map<string, number>();
  readonly #mutex = new KeyedMutex();
  readonly #saveRetryDelaysMs: readonly number[];
  readonly #sleep: (ms: number) => Promise<void>;
  /** Refreshed credentials not yet written to the database, per account id (newest only). */
  readonly #unsaved = new Map<string, Unsaved>();
  #lastWarningAt = Number.NEGATIVE_INFINITY;
  #suppressedWarnings = 0;

  constructor(options: TokenManagerOptions) {
    this.#accounts = options.accounts;
    this.#refreshers = options.refreshers;
    this.#store = options.store ?? new MemoryTokenStore({ now: options.now });
    this.#refreshSkewMs = options.refreshSkewMs ?? 180_000;
    this.#cacheSkewMs = options.cacheSkewMs ?? 300_000;
    this.#lockTtlMs = options.lockTtlMs ?? 30_000;
    this.#lockWaitMs = options.lockWaitMs ?? 5_000;
    this.#failureTtlMs = options.failureTtlMs ?? 60_000;
    this.#unknownExpiryTtlMs = options.unknownExpiryTtlMs ?? 1_800_000;
    this.#refreshTimeoutMs = options.refreshTimeoutMs ?? 60_000;
    this.#warningIntervalMs = options.warningIntervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#createLockOwner = options.createLockOwner ?? randomUUID;
    this.#saveRetryDelaysMs = options.saveRetryDelaysMs ?? [100, 500, 2_000];
    this.#sleep = options.sleep ?? sleepUnref;
    this.#logger = options.logger;
    this.#metrics = options.metrics ?? noMetrics;
  }

  /**
   * A valid access token for `account`. Cache hit: no database read, no lock. Otherwise the token in
   * `account.credentials` is used (and cached) unless it expires within `refreshSkewMs`, has no known
   * expiry, or was invalidated; then the account is refreshed, once per process and once across processes.
   *
   * Rejects with TokenRefreshError: `permanent: true` when the account must be re-authorised; transient
   * (`lock_timeout`, `no_valid_token`, `network`, ...) only when no valid token is left to serve. Never rejects because the
   * store is unreachable. Rejects with `signal.reason` when `signal` aborts; the refresh goes on for the others.
   */
  async getAccessToken(account: TokenAccount, options: { signal?: AbortSignal } = {}): Promise<string> {
    return (await this.getToken(account, options)).accessToken;
  }

  /**
   * `getAccessToken` with the token's expiry (epoch ms; undefined when unknown), for callers that keep the
   * token a while themselves and must not keep it past its end. Same guarantees and rejections. After an
   * upstream 401, pass the refused token's version as `newerThan` (see {@link GetTokenOptions.newerThan}).
   */
  async getToken(account: TokenAccount, options: GetTokenOptions = {}): Promise<AccessToken> {
    const { refresher, key } = this.#route(account);
    const lookup = await this.#lookup(key);
    const newerThan = options.newerThan;
    if (lookup.state === "hit" && this.#isValid(lookup.token.expiresAt) && lookup.token.tokenVersion > (newerThan ?? -1)) {
      this.#metrics.cacheHit?.(account.platform);
      return served(lookup.token);
    }
    this.#metrics.cacheMiss?.(account.platform);
    if (newerThan !== undefined) return this.#tokenNewerThan(account, refresher, key, lookup, newerThan, options.signal);
    const floor = lookup.state === "invalidated" ? lookup.tokenVersion : -1;
    const credentials = account.credentials;
    if (this.#isUsable(credentials, this.#refreshSkewMs, floor, versionOf(credentials))) {
      const written = await this.#cache(key, credentials);
      if (written === "stale") {
        // Our copy of the account predates a refresh: serve the newer cached token instead.
        const newer = await this.#lookup(key);
        if (newer.state === "hit" && this.#isValid(newer.token.expiresAt)) {
          return served(newer.token);
        }
      }
      if (written !== "invalidated") return served(credentials);
    }
    const outcome = await this.#refresh(account, refresher, key, this.#refreshSkewMs, options.signal);
    const result = outcome.account.credentials;
    if (outcome.failure !== undefined) {
      const permanent = TokenRefreshError.isInstance(outcome.failure) && outcome.failure.permanent;
      if (permanent || !outcome.refreshed && !this.#isValid(result.expiresAt)) throw outcome.failure;
    }
    if (!this.#isValid(result.expiresAt)) {
      throw new TokenRefreshError("no valid token is available", { code: "no_valid_token", permanent: false });
    }
    return served(result);
  }

  /**
   * getToken after a 401 on the token served with `newerThan`: the token in the cache or the database when it
   * is newer (another caller, here or elsewhere, replaced it already), else one refresh, shared by every caller
   * here that asks past the same version. The refused version is invalidated first, so no token at or below it
   * is cached again. Never serves a token at or below `newerThan`, whatever the failure.
   */
  async #tokenNewerThan(
    account: TokenAccount,
    refresher: TokenRefresher,
    key: string,
    lookup: TokenLookup,
    newerThan: number,
    signal: AbortSignal | undefined,
  ): Promise<AccessToken> {
    if (lookup.state !== "invalidated" || lookup.tokenVersion < newerThan) {
      await this.#storeCall("invalidateToken", () => this.#store.invalidateToken(key, newerThan, this.#unknownExpiryTtlMs));
      this.#newReadEpoch(key);
    }
    const outcome = await this.#refresh(account, refresher, key, this.#refreshSkewMs, signal, newerThan);
    const result = outcome.account.credentials;
    const usable = versionOf(result) > newerThan && this.#isValid(result.expiresAt);
    if (outcome.failure !== undefined) {
      const permanent = TokenRefreshError.isInstance(outcome.failure) && outcome.failure.permanent;
      if (permanent || !usable) throw outcome.failure;
    }
    if (!usable) throw new TokenRefreshError("no valid token is available", { code: "no_valid_token", permanent: false });
    return served(result);
  }

  /**
   * Makes sure `account`'s token stays valid for at least `windowMs` more ms (the refresh worker calls
   * this ahead of expiry). Coalesces in-process on cache key + window, so a long background window never
   * hands a short foreground window a result computed for the other window, and vice versa.
   * Rejects with the refresh failure (TokenRefreshError), transient ones included.
   */
  async refreshIfNeeded(
    account: TokenAccount,
    windowMs: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<RefreshResult> {
    const { refresher, key } = this.#route(account);
    const lookup = await this.#lookup(key);
    const since = versionOf(account.credentials);
    if (lookup.state === "hit" && this.#isUsable(lookup.token, windowMs, -1, since)) {
      return { refreshed: false, lockHeld: false, account: withToken(account, lookup.token) };
    }
    const floor = lookup.state === "invalidated" ? lookup.tokenVersion : -1;
    if (lookup.state !== "hit" && this.#isUsable(account.credentials, windowMs, floor, since)) {
      return { refreshed: false, lockHeld: false, account };
    }
    const outcome = await this.#refresh(account, refresher, key, windowMs, options.signal);
    if (outcome.failure !== undefined) throw outcome.failure;
    return { refreshed: outcome.refreshed, lockHeld: outcome.lockHeld, account: outcome.account };
  }

  /**
   * Marks the account's cached token bad (call it after an upstream 401): it is dropped from the cache
   * and neither it nor any older token is cached again; the next getAccessToken refreshes.
   * `failedVersion` is the `tokenVersion` {@link getToken} returned with the token that got the 401
   * (default: the version in `account.credentials`): when the cache already holds a newer token, it is kept
   * (a late 401 on an old token must not throw away the one just refreshed). A no-op (with a warning) while
   * the store is unreachable.
   */
  async invalidate(account: TokenAccount, failedVersion: number = versionOf(account.credentials)): Promise<void> {
    const { key } = this.#route(account);
    await this.#storeCall("invalidateToken", () =>
      this.#store.invalidateToken(key, failedVersion, this.#unknownExpiryTtlMs),
    );
    this.#newReadEpoch(key);
  }

  #route(account: TokenAccount): { refresher: TokenRefresher; key: string } {
    const refresher = this.#refreshers[account.platform];
    if (refresher === undefined) {
      throw new TokenRefreshError(`no token refresher for platform "${account.platform}"`, { code: "unknown", permanent: true });
    }
    return { refresher, key: refresher.cacheKey(account) };
  }

  #refresh(
    account: TokenAccount,
    refresher: TokenRefresher,
    key: string,
    windowMs: number,
    signal: AbortSignal | undefined,
    newerThan = -1,
  ): Promise<Outcome> {
    // Callers past different refused versions never share a flight: one that began before a 401 may end with the refused token.
    return this.#flights
      .do(
        `${key}\u0000${windowMs}\u0000${newerThan}`,
        (flightSignal) =>
          this.#mutex.run(key, () => this.#refreshWithLock(account, refresher, key, windowMs, flightSignal, newerThan), flightSignal),
        { signal },
      )
      .then((result) => result.value);
  }

  async #refreshWithLock(
    account: TokenAccount,
    refresher: TokenRefresher,
    key: string,
    windowMs: number,
    flightSignal: AbortSignal,
    newerThan: number,
  ): Promise<Outcome> {
    const owner = this.#createLockOwner();
    const acquired = await this.#storeCall("acquireLock", () => this.#store.acquireLock(key, owner, this.#lockTtlMs));
    if (acquired === false) return this.#awaitOtherProcess(account, refresher, key, windowMs, flightSignal, newerThan);
    // undefined: the store is unreachable, so whether another process holds the lock is unknown.
    const lease: Lease | undefined = acquired === true ? { lost: false } : undefined;
    const keeper = lease === undefined ? undefined : this.#keepLock(key, owner, account, lease);
    try {
      return await this.#refreshExclusive(account, refresher, key, windowMs, flightSignal, lease, newerThan);
    } finally {
      clearInterval(keeper);
      if (lease !== undefined) await this.#storeCall("releaseLock", () => this.#store.releaseLock(key, owner));
    }
  }

  /**
   * The refresh under the database's refresh lock when the AccountStore has one (every refresh takes it, so
   * a process that cannot tell who holds the shared lock still never refreshes beside another). Without a
   * database lock, an unknown shared-lock state first waits for another process's refresh and re-reads.
   */
  async #refreshExclusive(
    account: TokenAccount,
    refresher: TokenRefresher,
    key: string,
    windowMs: number,
    flightSignal: AbortSignal,
    lease: Lease | undefined,
    newerThan: number,
  ): Promise<Outcome> {
    const accounts = this.#accounts;
    if (accounts.withRefreshLock !== undefined) {
      const result = await accounts.withRefreshLock(account.id, this.#lockWaitMs, (locked) =>
        this.#refreshLocked(account, refresher, key, windowMs, flightSignal, { lease, databaseLocked: true, accounts: locked }, newerThan),
      );
      if (result.locked) return result.value;
      return this.#afterWait(account, key, lease !== undefined, newerThan);
    }
    if (lease === undefined) await this.#waitForRefreshElsewhere(key, flightSignal);
    return this.#refreshLocked(account, refresher, key, windowMs, flightSignal, { lease, databaseLocked: false, accounts }, newerThan);
  }

  async #refreshLocked(
    account: TokenAccount,
    refresher: TokenRefresher,
    key: string,
    windowMs: number,
    flightSignal: AbortSignal,
    exclusion: Exclusion,
    newerThan: number,
  ): Promise<Outcome> {
    const lockHeld = exclusion.lease !== undefined;
    const since = versionOf(account.credentials);
    const lookup = await this.#lookup(key);
    if (lookup.state === "hit" && this.#isUsable(lookup.token, windowMs, newerThan, since)) {
      return { refreshed: false, lockHeld, account: withToken(account, lookup.token) };
    }
    // Every caller left before anything irreversible started: no reason to spend a refresh token.
    flightSignal.throwIfAborted();
    const read = await this.#withUnsaved(await exclusion.accounts.get(account.id), exclusion.accounts);
    if (read === null) {
      throw new TokenRefreshError("account not found", { code: "account_not_found", permanent: true });
    }
    const floor = Math.max(lookup.state === "invalidated" ? lookup.tokenVersion : -1, newerThan);
    if (this.#isUsable(read.account.credentials, windowMs, floor, since)) {
      await this.#cache(key, read.account.credentials);
      return { refreshed: false, lockHeld, account: read.account };
    }
    const cachedVersion = Math.max(lookup.state === "hit" ? lookup.token.tokenVersion : floor, newerThan);
    return this.#refreshAccount(read, refresher, key, exclusion, cachedVersion);
  }

  async #refreshAccount(
    read: AccountRead,
    refresher: TokenRefresher,
    key: string,
    exclusion: Exclusion,
    cachedVersion: number,
  ): Promise<Outcome> {
    const lockHeld = exclusion.lease !== undefined;
    const current = read.account;
    const fields = { platform: current.platform, accountId: current.id };
    const started = this.#now();
    let issued: OAuthCredentials;
    try {
      // Deliberately not the callers' signal: once the endpoint may have rotated the refresh token, the answer must be saved.
      issued = await refresher.refresh(current, AbortSignal.timeout(this.#refreshTimeoutMs));
    } catch (error) {
      const failure = TokenRefreshError.isInstance(error)
        ? error
        : new TokenRefreshError("token refresh failed", { code: "unknown", permanent: false, cause: error });
      if (failure.permanent) {
        const latest = await this.#rotatedElsewhere(read, key, exclusion);
        if (latest !== null) {
          this.#recordRefresh(current.platform, "race_recovered", started);
          this.#logger?.info({ ...fields, code: failure.code }, "refresh refused, but another writer had already refreshed");
          await this.#cache(key, latest.credentials);
          return { refreshed: false, lockHeld, account: latest };
        }
        this.#recordRefresh(current.platform, "permanent_failure", started);
        this.#logger?.error({ ...fields, code: failure.code, status: failure.status }, "token refresh failed permanently");
        return { refreshed: false, lockHeld, account: current, failure };
      }
      this.#recordRefresh(current.platform, "transient_failure", started);
      this.#logger?.warn({ ...fields, code: failure.code, status: failure.status }, "token refresh failed");
      if (this.#isValid(current.credentials.expiresAt)) await this.#cache(key, current.credentials, true);
      return { refreshed: false, lockHeld, account: current, failure };
    }
    const tokenVersion = Math.max(versionOf(current.credentials), cachedVersion, 0) + 1;
    const credentials: OAuthCredentials = {
      ...current.credentials,
      ...definedFields(issued),
      tokenVersion: Math.max(tokenVersion, Math.floor(this.#now())),
    };
    const account: TokenAccount = { ...current, credentials };
    this.#recordRefresh(current.platform, "refreshed", started);
    // The endpoint may have rotated the refresh token: the new one exists only here until it is written.
    const pending: Unsaved = { credentials, expected: read.expected };
    this.#unsaved.set(current.id, pending);
    let saved: SaveResult;
    for (let attempt = 0; ; attempt++) {
      saved = await this.#saveUnsaved(current.id, pending, exclusion.accounts);
      if (saved.state !== "failed") break;
      const delay = this.#saveRetryDelaysMs[attempt];
      if (delay === undefined) break;
      await this.#sleep(delay);
    }
    if (saved.state === "conflict") {
      // Someone wrote credentials after our read (a holder whose lock we outlived, or an operator's
      // replacement): theirs stay, ours are dropped, and what is stored now is served.
      this.#logger?.warn(fields, "credentials changed while refreshing; the stored ones were kept");
      const latest = await this.#withUnsaved(await exclusion.accounts.get(current.id), exclusion.accounts);
      if (latest === null) throw new TokenRefreshError("account not found", { code: "account_not_found", permanent: true });
      if (this.#isValid(latest.account.credentials.expiresAt)) await this.#cache(key, latest.account.credentials);
      return { refreshed: false, lockHeld, account: latest.account };
    }
    if (saved.state === "failed") {
      this.#logger?.error(fields, "refreshed credentials could not be saved; kept in memory and retried until written");
      void this.#retryUnsavedInBackground(current.id, pending, fields);
    }
    await this.#cache(key, credentials);
    if (saved.state === "failed") return { refreshed: true, lockHeld, account, failure: saved.error };
    return { refreshed: true, lockHeld, account };
  }

  /**
   * After a permanent refusal: the account if another writer rotated its credentials since `read` (the
   * refusal was for a refresh token already spent), else null. Without exclusion (no database lock, and the
   * shared lock unknown or lost), a writer may still be saving: wait for its announcement and read again.
   */
  async #rotatedElsewhere(read: AccountRead, key: string, exclusion: Exclusion): Promise<TokenAccount | null> {
    const changed = async () => {
      // Through the lock's own store: a held database lock never waits for a second connection.
      const latest = await exclusion.accounts.get(read.account.id).catch(() => null);
      if (latest === null || matchesExpectation(latest.credentials, read.expected)) return null;
      return latest;
    };
    const latest = await changed();
    if (latest !== null) return latest;
    const exclusive = exclusion.databaseLocked || (exclusion.lease !== undefined && !exclusion.lease.lost);
    if (exclusive) return null;
    await this.#waitForRefreshElsewhere(key, undefined);
    return changed();
  }

  /** Waits (up to lockWaitMs) for another process's refresh to be announced; the store being down, for lockWaitMs. */
  async #waitForRefreshElsewhere(key: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#store.waitForRefresh(key, this.#lockWaitMs, signal ?? new AbortController().signal);
    } catch (error) {
      signal?.throwIfAborted();
      this.#storeFailed("waitForRefresh", error);
      await this.#sleep(this.#lockWaitMs);
    }
  }

  /** Writes `pending` unless newer credentials replaced it meanwhile (in memory, or in the database: "conflict"). */
  async #saveUnsaved(
    id: string,
    pending: Unsaved,
    accounts: Pick<AccountStore, "saveCredentials"> = this.#accounts,
  ): Promise<SaveResult> {
    if (this.#unsaved.get(id) !== pending) return { state: "saved" };
    let written: boolean | void;
    try {
      written = await accounts.saveCredentials(id, pending.credentials, pending.expected);
    } catch (error) {
      return { state: "failed", error: error ?? new Error("saveCredentials failed") };
    }
    if (this.#unsaved.get(id) === pending) this.#unsaved.delete(id);
    return { state: written === false ? "conflict" : "saved" };
  }

  async #retryUnsavedInBackground(id: string, pending: Unsaved, fields: Record<string, unknown>): Promise<void> {
    const delay = this.#saveRetryDelaysMs.at(-1) ?? 1_000;
    while (this.#unsaved.get(id) === pending) {
      await this.#sleep(delay);
      const saved = await this.#saveUnsaved(id, pending);
      if (saved.state === "saved") {
        this.#logger?.info(fields, "refreshed credentials saved after a retry");
        return;
      }
      if (saved.state === "conflict") {
        this.#logger?.warn(fields, "credentials changed before the refreshed ones could be saved; the stored ones were kept");
        return;
      }
    }
  }

  /**
   * The stored account and what a save must find stored (the compare-and-set), with credentials this
   * process refreshed but could not save yet in place of the stored ones (which still hold the refresh token
   * the endpoint already rotated away) while the database still holds what that refresh read. Tries the
   * save again.
   */
  async #withUnsaved(
    stored: TokenAccount | null,
    accounts: Pick<AccountStore, "saveCredentials"> = this.#accounts,
  ): Promise<AccountRead | null> {
    if (stored === null) return null;
    const expected = expectationOf(stored.credentials);
    const pending = this.#unsaved.get(stored.id);
    if (pending === undefined) return { account: stored, expected };
    if (!matchesExpectation(stored.credentials, pending.expected)) {
      // The database moved on since that refresh (saved after all, or replaced): what it holds wins.
      this.#unsaved.delete(stored.id);
      return { account: stored, expected };
    }
    const saved = await this.#saveUnsaved(stored.id, pending, accounts);
    const account = { ...stored, credentials: pending.credentials };
    if (saved.state === "failed") return { account, expected: pending.expected };
    // Written now (or written just before by its background retry): the database holds these credentials.
    return { account, expected: expectationOf(pending.credentials) };
  }

  async #awaitOtherProcess(
    account: TokenAccount,
    refresher: TokenRefresher,
    key: string,
    windowMs: number,
    flightSignal: AbortSignal,
    newerThan: number,
  ): Promise<Outcome> {
    const started = this.#now();
    let result: Awaited<ReturnType<TokenStore["waitForRefresh"]>> | "store_error";
    try {
      result = await this.#store.waitForRefresh(key, this.#lockWaitMs, flightSignal);
    } catch (error) {
      if (flightSignal.aborted) throw error;
      this.#storeFailed("waitForRefresh", error);
      result = "store_error";
    }
    this.#metrics.lockWait?.(account.platform, result, this.#now() - started);
    // The store failed mid-wait: nothing will announce the holder's refresh, so carry on as with an
    // unknown lock state (the database lock, or a wait, then a re-read; a refresh only if still needed).
    if (result === "store_error") {
      return this.#refreshExclusive(account, refresher, key, windowMs, flightSignal, undefined, newerThan);
    }
    return this.#afterWait(account, key, false, newerThan);
  }

  /** After waiting for another holder: its token when it left one (newer than `newerThan`), else the stored one if valid, else lock_timeout. */
  async #afterWait(account: TokenAccount, key: string, lockHeld: boolean, newerThan: number): Promise<Outcome> {
    const lookup = await this.#lookup(key);
    if (lookup.state === "hit" && lookup.token.tokenVersion > newerThan && this.#isValid(lookup.token.expiresAt)) {
      return { refreshed: false, lockHeld, account: withToken(account, lookup.token) };
    }
    const read = await this.#withUnsaved(await this.#accounts.get(account.id));
    if (read === null) {
      throw new TokenRefreshError("account not found", { code: "account_not_found", permanent: true });
    }
    const current = read.account;
    const floor = Math.max(lookup.state === "invalidated" ? lookup.tokenVersion : -1, newerThan);
    if (versionOf(current.credentials) > floor && this.#isValid(current.credentials.expiresAt)) {
      return { refreshed: false, lockHeld, account: current };
    }
    const failure = new TokenRefreshError("another process is refreshing this account and has not finished", {
      code: "lock_timeout",
      permanent: false,
    });
    return { refreshed: false, lockHeld, account: current, failure };
  }

  #keepLock(key: string, owner: string, account: TokenAccount, lease: Lease): NodeJS.Timeout {
    const timer = setInterval(() => {
      void this.#storeCall("extendLock", () => this.#store.extendLock(key, owner, this.#lockTtlMs)).then((extended) => {
        if (extended === false) {
          // Another process may take it now: the save's compare-and-set keeps its credentials from being overwritten.
          lease.lost = true;
          this.#logger?.warn({ platform: account.platform, accountId: account.id }, "refresh lock lost while refreshing");
        }
      });
    }, Math.max(1, Math.floor(this.#lockTtlMs / 3)));
    timer.unref();
    return timer;
  }

  /** A usable token for `windowMs` more: not invalidated, and expiring later than the window (unknown expiry: only if newer than `since`). */
  #isUsable(token: Pick<CachedToken, "expiresAt"> & { tokenVersion?: number }, windowMs: number, floor: number, since: number): boolean {
    const version = token.tokenVersion ?? 0;
    if (version <= floor) return false;
    if (token.expiresAt === undefined) return version > since;
    return token.expiresAt - this.#now() > windowMs;
  }

  #isValid(expiresAt: number | undefined): boolean {
    return expiresAt === undefined || expiresAt > this.#now();
  }

  /**
   * Rule 2: TTL = expiry - cacheSkew, and never past expiry - refreshSkew (a hit is served without a clock
   * check against the skew, so the TTL is what keeps a token inside its refresh skew out of the cache);
   * 0 (not cached) when the token is already inside the skew. After a failed refresh (`afterFailure`) the
   * still-valid token is cached for failureTtl at most, and never past its expiry. Unknown expiry: 30 min;
   * expired: failureTtl.
   */
  #cacheTtl(expiresAt: number | undefined, afterFailure: boolean): number {
    if (expiresAt === undefined) return this.#unknownExpiryTtlMs;
    const remaining = expiresAt - this.#now();
    if (remaining <= 0) return this.#failureTtlMs;
    if (afterFailure) return Math.min(remaining, this.#failureTtlMs);
    const beforeSkew = remaining - this.#refreshSkewMs;
    if (beforeSkew <= 0) return 0;
    if (remaining < this.#cacheSkewMs) return beforeSkew;
    return Math.min(remaining - this.#cacheSkewMs, beforeSkew);
  }

  async #cache(key: string, credentials: OAuthCredentials, afterFailure = false): Promise<SetTokenResult | undefined> {
    const token: CachedToken = { accessToken: credentials.accessToken, tokenVersion: versionOf(credentials) };
    if (credentials.expiresAt !== undefined) token.expiresAt = credentials.expiresAt;
    const ttlMs = this.#cacheTtl(credentials.expiresAt, afterFailure);
    if (ttlMs <= 0) return undefined;
    return this.#storeCall("setTokenIfNewer", () => this.#store.setTokenIfNewer(key, token, ttlMs));
  }

  async #lookup(key: string): Promise<TokenLookup> {
    const { value } = await this.#reads.do(
      `${key}\u0000${this.#readEpochs.get(key) ?? 0}`,
      async () => (await this.#storeCall("getToken", () => this.#store.getToken(key))) ?? { state: "miss" },
    );
    return value;
  }

  /** Reads of `key` from now on do not join one that began before: it may have seen a token just invalidated. */
  #newReadEpoch(key: string): void {
    this.#readEpochs.set(key, (this.#readEpochs.get(key) ?? 0) + 1);
  }

  /** Runs a store call; a failure is counted, warned about (rate-limited) and turned into undefined. */
  async #storeCall<T>(operation: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (error) {
      this.#storeFailed(operation, error);
      return undefined;
    }
  }

  #storeFailed(operation: string, error: unknown): void {
    const code = TokenStoreError.isInstance(error) ? error.code : "unknown";
    this.#metrics.storeError?.(operation, code);
    const now = this.#now();
    if (now - this.#lastWarningAt < this.#warningIntervalMs) {
      this.#suppressedWarnings++;
      return;
    }
    this.#logger?.warn(
      { operation, code, suppressedWarnings: this.#suppressedWarnings },
      "token store unavailable; continuing without the shared cache and lock",
    );
    this.#lastWarningAt = now;
    this.#suppressedWarnings = 0;
  }

  #recordRefresh(platform: string, outcome: RefreshOutcome, started: number): void {
    this.#metrics.refresh?.(platform, outcome, this.#now() - started);
  }
}

function versionOf(credentials: { tokenVersion?: number }): number {
  return credentials.tokenVersion ?? 0;
}

function sleepUnref(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function served(token: { accessToken: string; expiresAt?: number; tokenVersion?: number }): AccessToken {
  return { accessToken: token.accessToken, expiresAt: token.expiresAt, tokenVersion: versionOf(token) };
}

function withToken(account: TokenAccount, token: CachedToken): TokenAccount {
  const credentials: OAuthCredentials = { ...account.credentials, accessToken: token.accessToken, tokenVersion: token.tokenVersion };
  if (token.expiresAt === undefined) delete credentials.expiresAt;
  else credentials.expiresAt = token.expiresAt;
  return { ...account, credentials };
}

/** Fields a refresher left undefined must not erase what the account had (e.g. a refresh token that was not rotated). */
function definedFields(credentials: OAuthCredentials): Partial<OAuthCredentials> {
  return Object.fromEntries(Object.entries(credentials).filter(([, value]) => value !== undefined));
}
