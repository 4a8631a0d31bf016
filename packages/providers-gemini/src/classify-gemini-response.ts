import { headerValue, isRecord, parseRetryAfter, type UpstreamResponseInfo, type Verdict } from "@subrelay/providers-core";
import { normalizeModelName } from "./normalize-model-name";
import { findDetail, type GoogleError, parseGoogleError } from "./parse-google-error";
import { parseGoogleDuration } from "./parse-google-duration";

export interface GeminiVerdictOptions {
  /** Milliseconds a 429 lasts when neither the body nor `retry-after` says. */
  rateLimitFallbackMs: number;
  /** Milliseconds an overloaded answer cools the account down when neither the body nor `retry-after` says. */
  overloadedCooldownMs: number;
}

/**
 * ErrorInfo reasons that name the account (its key, token, project or billing), not the client's request.
 * Google sends them with 403 mostly, a bad key with 400.
 */
const accountReasons = new Set([
  "API_KEY_INVALID",
  "API_KEY_EXPIRED",
  "API_KEY_SERVICE_BLOCKED",
  "API_KEY_HTTP_REFERRER_BLOCKED",
  "API_KEY_IP_ADDRESS_BLOCKED",
  "API_KEY_ANDROID_APP_BLOCKED",
  "API_KEY_IOS_APP_BLOCKED",
  "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
  "CONSUMER_SUSPENDED",
  "CONSUMER_INVALID",
  "SERVICE_DISABLED",
  "BILLING_DISABLED",
  "ACCOUNT_STATE_INVALID",
  "USER_PROJECT_DENIED",
  "VALIDATION_REQUIRED",
]);
/** The same in messages that carry no ErrorInfo (a leaked key is reported so, a suspended consumer often). */
const accountMessage =
  /api key (?:not valid|expired|is invalid|was reported as leaked)|has been (?:suspended|disabled)|unregistered callers|requires billing|billing (?:is )?(?:disabled|not enabled)|violation of (?:the )?terms of service/i;
const overloadedMessage = /overloaded/i;

/**
 * Judges a Gemini or Code Assist answer:
 * - < 400: ok.
 * - a 4xx other than 429 whose ErrorInfo reason names the account (CONSUMER_SUSPENDED, SERVICE_DISABLED,
 *   API_KEY_INVALID / _EXPIRED / _SERVICE_BLOCKED / _*_BLOCKED, ACCESS_TOKEN_SCOPE_INSUFFICIENT, BILLING_DISABLED,
 *   VALIDATION_REQUIRED, ...) or whose message does ("API key not valid", "reported as leaked", "has been
 *   suspended"): forbidden. Google answers a bad key with 400, not 401, and a key cannot be refreshed, so the
 *   account must be marked, not the client blamed.
 * - other 401: auth.
 * - other 403 (a bare "The caller does not have permission", a file or cached content of another project, a
 *   proxy's page): client — PERMISSION_DENIED alone names no account, and the account serves on.
 * - 429 whose ErrorInfo reason is MODEL_CAPACITY_EXHAUSTED (Code Assist's "No capacity available for model"):
 *   overloaded. It is server capacity, not this account's quota.
 * - other 429: rate_limited until now + the first of: `google.rpc.RetryInfo.retryDelay`, "Please retry in 12.3s"
 *   in the message, Code Assist's "quota will reset after 2h36m24s", `retry-after`; else `rateLimitFallbackMs`.
 *   Scoped to `model:<id>` when the quota is per model (see `quotaScope`), account-wide otherwise.
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

  if (
    status < 500 &&
    status !== 429 &&
    ((errorInfoReason !== undefined && accountReasons.has(errorInfoReason)) || accountMessage.test(error?.message ?? ""))
  ) {
    return { kind: "forbidden", reason };
  }
  if (status === 401) return { kind: "auth", reason };
  if (status === 429) {
    if (errorInfoReason === "MODEL_CAPACITY_EXHAUSTED") {
      const delay = retryDelayMs(error);
      return delay === undefined
        ? { kind: "overloaded", until: now + options.overloadedCooldownMs, untilFrom: "fallback", reason }
        : { kind: "overloaded", until: now + delay, untilFrom: "upstream", reason };
    }
    const delay = retryDelayMs(error) ?? messageDelayMs(error?.message);
    const until = delay !== undefined ? now + delay : parseRetryAfter(headerValue(response.headers, "retry-after"), now);
    const quota = quotaScope(error);
    return until === undefined
      ? { kind: "rate_limited", until: now + options.rateLimitFallbackMs, untilFrom: "fallback", reason, ...quota }
      : { kind: "rate_limited", until, untilFrom: "upstream", reason, ...quota };
  }
  if (status === 503 || (status >= 500 && overloadedMessage.test(error?.message ?? ""))) {
    const delay = retryDelayMs(error);
    const until = delay !== undefined ? now + delay : parseRetryAfter(headerValue(response.headers, "retry-after"), now);
    return until === undefined
      ? { kind: "overloaded", until: now + options.overloadedCooldownMs, untilFrom: "fallback", reason }
      : { kind: "overloaded", until, untilFrom: "upstream", reason };
  }
  if (status >= 500) return { kind: "server", cause: "status", reason };
  return { kind: "client", reason };
}

/**
 * What a quota 429 limits. `model:<id>` when the quota is per model: every `google.rpc.QuotaFailure` violation
 * names one and the same model in `quotaDimensions.model` (the Gemini API's
 * `GenerateRequestsPerDayPerProjectPerModel`, ...), or Code Assist's `QUOTA_EXHAUSTED` ErrorInfo names it in
 * `metadata.model`. Otherwise (a per-project quota, no details) nothing: the whole account. `window` from the
 * violations' `quotaId`: `1d`, `1h` or `1m` (the longest named).
 */
export function quotaScope(error: GoogleError | undefined): { scope?: string; window?: string } {
  const found: { scope?: string; window?: string } = {};
  const violations = findDetail(error, "google.rpc.QuotaFailure")?.violations;
  if (Array.isArray(violations) && violations.length > 0) {
    const models = new Set<string | undefined>();
    const windows: string[] = [];
    for (const violation of violations) {
      const fields = isRecord(violation) ? violation : {};
      const dimensions = isRecord(fields.quotaDimensions) ? fields.quotaDimensions : {};
      const model = stringField(dimensions.model);
      models.add(model === undefined || model.trim() === "" ? undefined : normalizeModelName(model));
      const quotaId = stringField(fields.quotaId) ?? "";
      const window = /PerDay/i.test(quotaId) ? "1d" : /PerHour/i.test(quotaId) ? "1h" : /PerMinute/i.test(quotaId) ? "1m" : undefined;
      if (window !== undefined) windows.push(window);
    }
    const [only] = models;
    if (models.size === 1 && only !== undefined) found.scope = `model:${only}`;
    const longest = ["1d", "1h", "1m"].find((window) => windows.includes(window));
    if (longest !== undefined) found.window = longest;
    return found;
  }
  const info = findDetail(error, "google.rpc.ErrorInfo");
  const metadata = isRecord(info?.metadata) ? info.metadata : {};
  const model = stringField(metadata.model);
  if (stringField(info?.reason) === "QUOTA_EXHAUSTED" && model !== undefined && model.trim() !== "") {
    found.scope = `model:${normalizeModelName(model)}`;
  }
  return found;
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
