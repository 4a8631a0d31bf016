const marker = Symbol.for("@subrelay/scheduler-cache/SchedulerCacheError");

/** Why a scheduler cache call failed. */
export type SchedulerCacheErrorCode =
  | "invalid_bucket" // the bucket does not format to a string parseBucket accepts: permanent
  | "invalid_account" // an account without a non-empty string id, or listed twice in one snapshot: permanent
  | "invalid_argument" // a ttl, time or watermark that is not a non-negative safe integer: permanent
  | "staging_expired" // a snapshot's staged keys expired before it could be activated: retryable
  | "unexpected_reply"; // Redis answered something the scripts never return: retryable

export interface SchedulerCacheErrorOptions {
  code: SchedulerCacheErrorCode;
  cause?: unknown;
}

const retryableCodes: ReadonlySet<SchedulerCacheErrorCode> = new Set(["staging_expired", "unexpected_reply"]);

/** A scheduler cache call that failed for a reason other than the Redis connection (those are rethrown as-is). */
export class SchedulerCacheError extends Error {
  override readonly name = "SchedulerCacheError";
  readonly code: SchedulerCacheErrorCode;
  /** True when trying the same call again can succeed. */
  readonly retryable: boolean;
  private readonly [marker] = true;

  constructor(message: string, options: SchedulerCacheErrorOptions) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.retryable = retryableCodes.has(options.code);
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is SchedulerCacheError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}
