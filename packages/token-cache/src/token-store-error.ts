const marker = Symbol.for("@subrelay/token-cache/TokenStoreError");

export type TokenStoreErrorCode =
  /** The store did not answer within its command timeout. */
  | "timeout"
  /** The store is disconnected or the command failed. */
  | "unavailable"
  /** A cached value could not be decrypted or parsed (wrong `encryptionKey`, corrupted entry). */
  | "corrupt_entry";

/**
 * A TokenStore operation failed. TokenManager never lets this reach its callers while the database can
 * serve; it is exported for code that uses a store directly. The message never contains a token.
 */
export class TokenStoreError extends Error {
  override readonly name = "TokenStoreError";
  readonly code: TokenStoreErrorCode;
  /** The store operation that failed (`"getToken"`, `"acquireLock"`, ...). */
  readonly operation: string;
  readonly retryable = true;
  private readonly [marker] = true;

  constructor(message: string, options: { code: TokenStoreErrorCode; operation: string; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.operation = options.operation;
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is TokenStoreError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}
