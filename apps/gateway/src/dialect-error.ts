import type { Dialect } from "@subrelay/providers-core";

/** What went wrong, independent of dialect. */
export type GatewayErrorKind =
  | "invalid_request" // 400
  | "authentication" // 401
  | "permission" // 403
  | "not_found" // 404
  | "too_large" // 413
  | "rate_limited" // 429
  | "upstream" // 502
  | "overloaded" // 529 / 503
  | "unavailable" // 503
  | "timeout" // 504
  | "internal"; // 500

const statusOf: Record<GatewayErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  too_large: 413,
  rate_limited: 429,
  upstream: 502,
  overloaded: 529,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

const anthropicType: Record<GatewayErrorKind, string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  not_found: "not_found_error",
  too_large: "request_too_large",
  rate_limited: "rate_limit_error",
  upstream: "api_error",
  overloaded: "overloaded_error",
  unavailable: "api_error",
  timeout: "api_error",
  internal: "api_error",
};

const openaiType: Record<GatewayErrorKind, string> = {
  invalid_request: "invalid_request_error",
  authentication: "invalid_request_error",
  permission: "invalid_request_error",
  not_found: "invalid_request_error",
  too_large: "invalid_request_error",
  rate_limited: "rate_limit_exceeded",
  upstream: "server_error",
  overloaded: "server_error",
  unavailable: "server_error",
  timeout: "server_error",
  internal: "server_error",
};

const openaiCode: Partial<Record<GatewayErrorKind, string>> = {
  authentication: "invalid_api_key",
  not_found: "model_not_found",
  rate_limited: "rate_limit_exceeded",
};

const googleStatus: Record<GatewayErrorKind, string> = {
  invalid_request: "INVALID_ARGUMENT",
  authentication: "UNAUTHENTICATED",
  permission: "PERMISSION_DENIED",
  not_found: "NOT_FOUND",
  too_large: "INVALID_ARGUMENT",
  rate_limited: "RESOURCE_EXHAUSTED",
  upstream: "UNAVAILABLE",
  overloaded: "UNAVAILABLE",
  unavailable: "UNAVAILABLE",
  timeout: "DEADLINE_EXCEEDED",
  internal: "INTERNAL",
};

/** An error a client gets, rendered in its own API's dialect. Messages never carry secrets. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly status: number;
  /** Sent as `Retry-After` when set. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    readonly kind: GatewayErrorKind,
    message: string,
    options: { status?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = options.status ?? statusOf[kind];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The JSON body of an error in `dialect`. */
export function errorBody(dialect: Dialect, error: GatewayError): unknown {
  switch (dialect) {
    case "anthropic":
      return { type: "error", error: { type: anthropicType[error.kind], message: error.message } };
    case "openai":
      return {
        error: { message: error.message, type: openaiType[error.kind], param: null, code: openaiCode[error.kind] ?? null },
      };
    case "gemini":
      return { error: { code: error.status, message: error.message, status: googleStatus[error.kind] } };
  }
}

/** The SSE event that ends a stream which failed after its first byte, in `dialect`. */
export function errorEvent(dialect: Dialect, error: GatewayError): string {
  const data = JSON.stringify(errorBody(dialect, error));
  return dialect === "anthropic" ? `event: error\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/** Maps an upstream status to the closest kind, for relaying the last upstream error after failover. */
export function kindOfStatus(status: number): GatewayErrorKind {
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
