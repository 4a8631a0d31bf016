const marker = Symbol.for("@subrelay/token-cache/TokenRefreshError");

/** Why a refresh failed, as far as the platform let us tell. */
export type TokenRefreshErrorCode =
  | "invalid_grant" // refresh token expired, revoked or already used: permanent
  | "unauthorized_client" // client not allowed to refresh: permanent
  | "no_refresh_token" // the account has nothing to refresh with: permanent
  | "rate_limited" // the token endpoint said 429: transient
  | "server" // the token endpoint failed (5xx): transient
  | "network" // connection failed or was cut: transient
  | "timeout" // no answer in time: transient
  | "aborted" // the caller's signal aborted: transient
  | "invalid_response" // the endpoint answered something we cannot read: transient
  | "lock_timeout" // another process held the refresh lock longer than we could wait: transient
  | "no_valid_token" // a refresh or a wait ended and still left no unexpired token to serve: transient
  | "account_not_found" // the AccountStore no longer has the account: permanent
  | "unknown";

export interface TokenRefreshErrorOptions {
  code: TokenRefreshErrorCode;
  /** True when retrying cannot help (a human must re-authorise the account). */
  permanent: boolean;
  /** How long the server asked us to wait, when it said. */
  retryAfterMs?: number;
  /** HTTP status of the token endpoint's answer, when there was one. */
  status?: number;
  cause?: unknown;
}

/**
 * A refresh that failed. Thrown by TokenRefresher implementations and by TokenManager.
 * The message never contains a token.
 */
export class TokenRefreshError extends Error {
  override readonly name = "TokenRefreshError";
  readonly code: TokenRefreshErrorCode;
  readonly permanent: boolean;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  private readonly [marker] = true;

  constructor(message: string, options: TokenRefreshErrorOptions) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.permanent = options.permanent;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is TokenRefreshError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}
