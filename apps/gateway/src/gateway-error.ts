const marker = Symbol.for("@subrelay/gateway/GatewayError");

/** What went wrong, independent of the client's dialect; each dialect renders it in its own shape. */
export type GatewayErrorCode =
  | "invalid_request" // 400
  | "authentication" // 401
  | "permission" // 403
  | "forbidden" // 403, admin API: a request refused whatever the credentials (a cross-site request)
  | "not_found" // 404
  | "conflict" // 409, admin API: the change would break what depends on it
  | "too_large" // 413
  | "rate_limited" // 429
  | "upstream" // 502
  | "overloaded" // 529
  | "unavailable" // 503
  | "timeout" // 504
  | "internal"; // 500

const statusOf: Record<GatewayErrorCode, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  upstream: 502,
  overloaded: 529,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

export interface GatewayErrorOptions {
  /** The HTTP status, when it is not the code's own (a 409 conflict is an `invalid_request`). */
  status?: number;
  /** Sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /**
   * A finer machine-readable reason than `code`, for dialects whose errors carry one (OpenAI's `code`):
   * e.g. "model_not_found" against an unknown route's "not_found", "no_account_available" for a 503.
   */
  reason?: string;
  /** For a refused input: each wrong field with what is wrong with it; sent as `error.problems`. */
  problems?: readonly InputProblem[];
  cause?: unknown;
}

/** One thing wrong with a request body: the field (`name`, `credentials.apiKey`, `groupIds[0]`) and why. */
export interface InputProblem {
  field: string;
  message: string;
}

/**
 * An error a client gets, rendered in its own API's dialect (see `dialects/`). The message is shown to
 * the client: it never carries a secret or an account id.
 */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly code: GatewayErrorCode;
  readonly status: number;
  /** Sent as `Retry-After` when set. */
  readonly retryAfterSeconds: number | undefined;
  /** See `GatewayErrorOptions.reason`. */
  readonly reason: string | undefined;
  /** See `GatewayErrorOptions.problems`; empty when the error is not about fields. */
  readonly problems: readonly InputProblem[];
  private readonly [marker] = true;

  constructor(code: GatewayErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status ?? statusOf[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.reason = options.reason;
    this.problems = options.problems ?? [];
  }

  /** `instanceof` that also holds across duplicate copies of this module. */
  static isInstance(value: unknown): value is GatewayError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}

/** The closest code to an upstream status, for an upstream refusal a client of another dialect is told about. */
export function codeOfStatus(status: number): GatewayErrorCode {
  if (status === 400 || status === 422) return "invalid_request";
  if (status === 401) return "authentication";
  if (status === 403) return "permission";
  if (status === 404) return "not_found";
  if (status === 413) return "too_large";
  if (status === 429) return "rate_limited";
  if (status === 529) return "overloaded";
  if (status === 503) return "unavailable";
  if (status === 504) return "timeout";
  if (status >= 500) return "upstream";
  return "invalid_request";
}

/**
 * A 400 listing every problem of an input, each naming its field. The message is the problem's own when
 * there is one, else every message in turn, so a client that shows only the message still sees them all.
 */
export function invalidInput(problems: readonly InputProblem[]): GatewayError {
  const message =
    problems.length === 1 ? problems[0]!.message : `${problems.length} problems: ${problems.map((problem) => problem.message).join(" ")}`;
  return new GatewayError("invalid_request", message, { problems });
}
