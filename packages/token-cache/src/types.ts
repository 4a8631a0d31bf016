/**
 * OAuth credentials, normalised. Each providers-* package maps its platform's wire format to this.
 * Secrets (`accessToken`, `refreshToken`, `idToken`) must never reach logs, metrics or error messages.
 */
export interface OAuthCredentials {
  /** The bearer token sent upstream. */
  accessToken: string;
  /** Absent for platforms or grants that issue none; kept across refreshes that do not rotate it. */
  refreshToken?: string;
  /** Epoch milliseconds at which `accessToken` stops working; absent when the platform did not say. */
  expiresAt?: number;
  /** Stamped by TokenManager on every successful refresh; strictly increasing per account. */
  tokenVersion?: number;
  /** Platform fields (scope, idToken, accountId, projectId, ...). Kept across refreshes unless replaced. */
  [extra: string]: unknown;
}

/** A served access token and when it stops working (epoch ms; undefined when the platform did not say). */
export interface AccessToken {
  accessToken: string;
  expiresAt?: number;
  /**
   * The served token's `tokenVersion`. Pass it to `TokenManager.invalidate` after an upstream 401, so a late
   * 401 on an older token cannot throw away a newer one.
   */
  tokenVersion: number;
}

/** An upstream account as token-cache sees it. */
export interface TokenAccount {
  id: string;
  /** Selects the TokenRefresher (`"claude"`, `"openai"`, `"gemini"`, ...). */
  platform: string;
  credentials: OAuthCredentials;
}

/**
 * What a refresher read from the database: the refresh token and token version it is about to spend.
 * `saveCredentials` writes only while the stored credentials still carry both (compare-and-set).
 */
export interface CredentialsExpectation {
  refreshToken: string | undefined;
  tokenVersion: number;
}

/** What {@link AccountStore.withRefreshLock} did: ran the critical section, or gave up after `waitMs`. */
export type RefreshLockResult<T> = { locked: true; value: T } | { locked: false };

/** The database, as token-cache needs it. Implemented by `@subrelay/db`. */
export interface AccountStore {
  /** The account as stored now, or null when it no longer exists. */
  get(id: string): Promise<TokenAccount | null>;
  /**
   * Persists refreshed credentials. Implementations should write only the credentials (not the whole
   * account record) so a concurrent write of other columns cannot drop a rotated refresh token.
   *
   * With `expected`, a compare-and-set: the write happens only while the stored credentials still hold
   * `expected.refreshToken` and `expected.tokenVersion`, and resolves `false` when they do not (another
   * refresher, or an operator, wrote since the read; their credentials stay). Resolving `true` or nothing
   * means written. An implementation that ignores `expected` works, without that fence.
   */
  saveCredentials(id: string, credentials: OAuthCredentials, expected?: CredentialsExpectation): Promise<boolean | void>;
  /**
   * Optional: runs `critical` while holding a database lock on the account's refresh, one holder per account
   * across every process using the database (Postgres: a session advisory lock). `critical` gets a store to
   * read and save through while holding it. Resolves `{ locked: false }` without running `critical` when
   * another holder kept the lock for `waitMs`. TokenManager takes it around every refresh, so a process that
   * cannot reach the shared token store (and so cannot tell whether another process holds its lock) still
   * never refreshes beside another.
   */
  withRefreshLock?<T>(
    id: string,
    waitMs: number,
    critical: (locked: Pick<AccountStore, "get" | "saveCredentials">) => Promise<T>,
  ): Promise<RefreshLockResult<T>>;
}

/** A platform's token endpoint. Implemented by each providers-* package. */
export interface TokenRefresher {
  /** The account's cache and lock key, stable and platform-qualified, e.g. `"claude:account:42"`. */
  cacheKey(account: TokenAccount): string;
  /**
   * Exchanges the account's refresh token for new credentials. Must honour `signal` and have its own
   * timeout. Throws TokenRefreshError (`permanent: true` for invalid_grant and the like).
   * The result may omit fields that did not change (e.g. a refresh token that was not rotated).
   */
  refresh(account: TokenAccount, signal: AbortSignal): Promise<OAuthCredentials>;
}

/** Structured logger (pino-compatible call shape). Messages and fields never carry token values. */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
