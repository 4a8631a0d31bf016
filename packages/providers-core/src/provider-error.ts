const marker = Symbol.for("@subrelay/providers-core/ProviderError");

/**
 * - unsupported: the account type cannot serve the operation (e.g. an OpenAI operation on a Claude account).
 * - invalid_request: the client request lacks what the platform needs (e.g. no model), or, from
 *   `prepareCredentials`, the platform says the account cannot be set up as it is.
 * - misconfigured: the account lacks what the platform needs (no API key, no access token, no project):
 *   the account's fault, not the client's. The gateway fails over to another account and never shows the
 *   message (which may name the account) to the client.
 * - upstream: the platform could not be asked (network failure, timeout, a 5xx), from `prepareCredentials`.
 */
export type ProviderErrorCode = "unsupported" | "invalid_request" | "misconfigured" | "upstream";

export interface ProviderErrorOptions {
  code: ProviderErrorCode;
  cause?: unknown;
}

/**
 * A request a provider refuses to shape. Thrown by `Provider.buildRequest`; the gateway answers the client
 * with a 400 in its dialect and does not fail over (no other account of the same type would do better).
 * The message never contains a token or key.
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly code: ProviderErrorCode;
  private readonly [marker] = true;

  constructor(message: string, options: ProviderErrorOptions) {
    super(message, { cause: options.cause });
    this.code = options.code;
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is ProviderError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}
