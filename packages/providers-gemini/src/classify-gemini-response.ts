import { headerValue, parseRetryAfter, type UpstreamResponseInfo, type Verdict } from "@subrelay/providers-core";
import { findDetail, type GoogleError, parseGoogleError } from "./parse-google-error";
import { parseGoogleDuration } from "./parse-google-duration";

export interface GeminiVerdictOptions {
  /** Milliseconds a 429 lasts when neither the body nor `retry-after` says. */
  rateLimitFallbackMs: number;
  /** Milliseconds an overloaded answer cools the account down when neither the body nor `retry-after` says. */
  overloadedCooldownMs: number;
}

/** ErrorInfo reasons on a 400 that mean the account's API key itself is bad, not the client's request. */
const badApiKeyReasons = new Set(["API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"]);
const badApiKeyMessage = /api key (?:not valid|expired|is invalid)/i;
const overloadedMessage = /overloaded/i;

/**
 * Judges a Gemini or Code Assist answer:
 * - < 400: ok.
 * - 401: auth.
 * - 403 (PERMISSION_DENIED, SERVICE_DISABLED, "has been disabled", VALIDATION_REQUIRED, ...): forbidden.
 * - 400 whose ErrorInfo reason is API_KEY_INVALID / API_KEY_EXPIRED / API_KEY_SERVICE_BLOCKED (or whose message
 *   says "API key not valid" / "API key expired"): forbidden. Google answers a bad key with 400, not 401, and a
 *   key cannot be refreshed, so the account must be marked, not the client blamed.
 * - 429 whose ErrorInfo reason is MODEL_CAPACITY_EXHAUSTED (Code Assist's "No capacity available for model"):
 *   overloaded. It is server capacity, not this account's quota.
 * - other 429: rate_limited until now + the first of: `google.rpc.RetryInfo.retryDelay`, "Please retry in 12.3s"
 *   in the message, Code Assist's "quota will reset after 2h36m24s", `retry-after`; else `rateLimitFallbackMs`.
 * - 503, and any 5xx whose message says "overloaded": overloaded until now + RetryInfo / `retry-after`, else
 *   `overloadedCooldownMs`.
 * - other 5xx: server. Other 4xx: client.
 * Reasons carry the status, Google's status name and at most 200 characters of its message; never a key.
 */
export function classifyGeminiResponse(
  response: UpstreamResponseInfo,
  now: number,
  options: GeminiVerdictOptions,
): Verdict {
  const { status } = response;
  if (status < 400) return { kind: "ok" };
  const error = parseGoogleError(response.bodyText);
  const reason = describe(status, error);
  const errorInfoReason = stringField(findDetail(error, "google.rpc.ErrorInfo")?.reason);

  if (status === 401) return { kind: "auth", reason };
  if (status === 403) return { kind: "forbidden", reason };
  if (
    status === 400 &&
    ((errorInfoReason !== undefined && badApiKeyReasons.has(errorInfoReason)) ||
      badApiKeyMessage.test(error?.message ?? ""))
  ) {
    return { kind: "forbidden", reason };
  }
  if (status === 429) {
    if (errorInfoReason === "MODEL_CAPACITY_EXHAUSTED") {
      return { kind: "overloaded", until: now + (retryDelayMs(error) ?? options.overloadedCooldownMs), reason };
    }
    const delay = retryDelayMs(error) ?? messageDelayMs(error?.message);
    const until = delay !== undefined ? now + delay : parseRetryAfter(headerValue(response.headers, "retry-after"), now);
    return { kind: "rate_limited", until: until ?? now + options.rateLimitFallbackMs, reason };
  }
  if (status === 503 || (status >= 500 && overloadedMessage.test(error?.message ?? ""))) {
    const delay = retryDelayMs(error);
    const until = delay !== undefined ? now + delay : parseRetryAfter(headerValue(response.headers, "retry-after"), now);
    return { kind: "overloaded", until: until ?? now + options.overloadedCooldownMs, reason };
  }
  if (status >= 500) return { kind: "server", reason };
  return { kind: "client", reason };
}

function retryDelayMs(error: GoogleError | undefined): number | undefined {
  return parseGoogleDuration(findDetail(error, "google.rpc.RetryInfo")?.retryDelay);
}

function messageDelayMs(message: string | undefined): number | undefined {
  if (message === undefined) return undefined;
  const match = /(?:retry in|reset after)\s+((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)/i.exec(message);
  return match?.[1] === undefined ? undefined : parseGoogleDuration(match[1]);
}

function describe(status: number, error: GoogleError | undefined): string {
  const parts = [String(status)];
  if (error?.status !== undefined) parts.push(error.status);
  const message = error?.message?.replace(/\s+/g, " ").trim();
  const head = parts.join(" ");
  if (message === undefined || message === "") return head;
  return `${head}: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`;
}

function stringField(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
