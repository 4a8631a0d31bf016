import { headerValue, parseRetryAfter } from "@subrelay/providers-core";
import type { IncomingHeaders, UpstreamResponseInfo, Verdict } from "@subrelay/providers-core";
import { parseOpenAIDuration } from "./parse-openai-duration";

export interface ClassifyOptions {
  /** How long an account is benched after a 429 that says nothing about when it ends, in ms. */
  rateLimitFallbackMs: number;
  /** How long an account cools down after "overloaded" when the server gives no retry-after, in ms. */
  overloadedCooldownMs: number;
}

/** The parts of an OpenAI / Codex error body that decide a verdict. */
interface ErrorFields {
  type?: string;
  code?: string;
  message?: string;
  resetsAt?: number;
  resetsInSeconds?: number;
}

/**
 * Judges an answer from the OpenAI API or the Codex backend (table in README.md):
 * - 2xx/3xx: ok.
 * - 402 (payment required), and any 4xx whose code names the account (`account_deactivated`,
 *   `deactivated_workspace`, `access_terminated`, `insufficient_quota`, `billing_hard_limit_reached`,
 *   `billing_not_active`, `usage_not_included`, `unsupported_country_region_territory`) or whose message says
 *   the account was deactivated / banned: forbidden, since none ends by waiting and a human must act.
 * - other 401: auth.
 * - other 403 (a project without access to the model asked for, a Cloudflare page, no body): client — the
 *   request's, not the account's.
 * - other 429: rate_limited until the first of: body `resets_at` (epoch s), body `resets_in_seconds`,
 *   the latest reset of the exhausted `x-codex-{primary,secondary}-*` windows, `retry-after`,
 *   `x-ratelimit-reset-{requests,tokens}`, else `now + rateLimitFallbackMs`. Account-wide (no `scope`); `window`
 *   names the exhausted Codex window by its length (`5h`, `7d`; see `codexExhaustedWindow`).
 * - 503 or 529 saying "overloaded" / `server_is_overloaded` / `slow_down`: overloaded until `retry-after`
 *   or `now + overloadedCooldownMs`.
 * - other 5xx: server. Other 4xx: client.
 * Reasons carry error types, codes and status numbers only, never body text (it may echo the prompt).
 */
export function classifyOpenAIResponse(
  response: UpstreamResponseInfo,
  now: number,
  options: ClassifyOptions,
): Verdict {
  const { status, headers } = response;
  if (status < 400) return { kind: "ok" };
  const error = readErrorFields(response.bodyText);
  const label = error.code ?? error.type;
  const reason = label === undefined ? `http ${status}` : `http ${status} ${label}`;

  if (status < 500 && (status === 402 || refusesAccount(error))) return { kind: "forbidden", reason };
  if (status === 401) return { kind: "auth", reason };
  if (status === 429) {
    const end = rateLimitEnd(error, headers, now);
    // Both Codex windows limit the whole account: the verdict only names the one that ran out.
    const window = codexExhaustedWindow(headers, now);
    const named = window === undefined ? {} : { window };
    return end === undefined
      ? { kind: "rate_limited", until: now + options.rateLimitFallbackMs, untilFrom: "fallback", reason, ...named }
      : { kind: "rate_limited", until: end, untilFrom: "upstream", reason, ...named };
  }
  if ((status === 503 || status === 529) && isOverloaded(error)) {
    const retryAfter = retryAfterUntil(headers, now);
    return retryAfter === undefined
      ? { kind: "overloaded", until: now + options.overloadedCooldownMs, untilFrom: "fallback", reason }
      : { kind: "overloaded", until: retryAfter, untilFrom: "upstream", reason };
  }
  if (status >= 500) return { kind: "server", cause: "status", reason };
  return { kind: "client", reason };
}

/** When a 429 ends (epoch ms), from the body or the headers; undefined when nothing names a moment. */
function rateLimitEnd(error: ErrorFields, headers: IncomingHeaders, now: number): number | undefined {
  if (error.resetsAt !== undefined && error.resetsAt * 1000 > now) return error.resetsAt * 1000;
  if (error.resetsInSeconds !== undefined && error.resetsInSeconds > 0)
    return now + error.resetsInSeconds * 1000;
  return codexWindowsEnd(headers, now) ?? retryAfterUntil(headers, now) ?? openAIResetEnd(headers, now);
}

/**
 * Codex reports its 5-hour (primary) and weekly (secondary) windows on every answer. The account is
 * free again when every exhausted window has reset, so take the latest reset among exhausted ones; when
 * no window says how full it is, we cannot tell which ran out and take the latest of all.
 */
function codexWindowsEnd(headers: IncomingHeaders, now: number): number | undefined {
  const windows = (["primary", "secondary"] as const).map((window) => ({
    usedPercent: numberHeader(headers, `x-codex-${window}-used-percent`),
    resetAt: codexWindowReset(headers, window, now),
  }));
  const withReset = windows.filter((window) => window.resetAt !== undefined);
  if (withReset.length === 0) return undefined;
  const knowsUsage = withReset.some((window) => window.usedPercent !== undefined);
  const exhausted = knowsUsage
    ? withReset.filter((window) => window.usedPercent !== undefined && window.usedPercent >= 100)
    : withReset;
  if (exhausted.length === 0) return undefined;
  return Math.max(...exhausted.map((window) => window.resetAt ?? now));
}

/**
 * The name of the Codex window a 429 exhausted: its length from `x-codex-<slot>-window-minutes` (`5h` for 300,
 * `7d` for 10080: the slots are not fixed, a plan may report its weekly window as the primary one), else the
 * slot's name (`primary`, `secondary`). The exhausted one is the full one (used >= 100 %) that resets last;
 * undefined when no window says it is full.
 */
export function codexExhaustedWindow(headers: IncomingHeaders, now: number): string | undefined {
  let found: { name: string; reset: number } | undefined;
  for (const slot of ["primary", "secondary"] as const) {
    const used = numberHeader(headers, `x-codex-${slot}-used-percent`);
    if (used === undefined || used < 100) continue;
    const reset = codexWindowReset(headers, slot, now) ?? now;
    const minutes = numberHeader(headers, `x-codex-${slot}-window-minutes`);
    const name = minutes !== undefined && minutes > 0 ? windowName(minutes) : slot;
    if (found === undefined || reset > found.reset) found = { name, reset };
  }
  return found?.name;
}

/** A window's length as its name: `5h`, `7d`, `90m`. */
function windowName(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440}d`;
  if (minutes % 60 === 0) return `${minutes / 60}h`;
  return `${Math.round(minutes)}m`;
}

function codexWindowReset(
  headers: IncomingHeaders,
  window: "primary" | "secondary",
  now: number,
): number | undefined {
  const after = numberHeader(headers, `x-codex-${window}-reset-after-seconds`);
  if (after !== undefined && after >= 0) return now + after * 1000;
  const at = numberHeader(headers, `x-codex-${window}-reset-at`);
  return at !== undefined && at * 1000 > now ? at * 1000 : undefined;
}

function retryAfterUntil(headers: IncomingHeaders, now: number): number | undefined {
  return parseRetryAfter(headers["retry-after"], now);
}

/**
 * The API's per-minute limits: `x-ratelimit-reset-requests` / `-tokens` say when each bucket refills.
 * The bucket with nothing remaining is the one that refused us; when that is unknown, wait for both.
 */
function openAIResetEnd(headers: IncomingHeaders, now: number): number | undefined {
  const buckets = (["requests", "tokens"] as const).map((bucket) => ({
    remaining: numberHeader(headers, `x-ratelimit-remaining-${bucket}`),
    resetMs: parseOpenAIDuration(headerValue(headers, `x-ratelimit-reset-${bucket}`)),
  }));
  const withReset = buckets.filter((bucket) => bucket.resetMs !== undefined);
  if (withReset.length === 0) return undefined;
  const empty = withReset.filter((bucket) => bucket.remaining === 0);
  const chosen = empty.length > 0 ? empty : withReset;
  return now + Math.max(...chosen.map((bucket) => bucket.resetMs ?? 0));
}

function isOverloaded(error: ErrorFields): boolean {
  if (hasLabel(error, "server_is_overloaded") || hasLabel(error, "slow_down")) return true;
  return /overloaded/i.test(error.message ?? "") || /overloaded/i.test(error.type ?? "");
}

/**
 * Error codes (or types) that name the account, not the request: it is deactivated, banned, out of credit or
 * billing, its workspace is gone, its plan lacks Codex, or it sends from a region OpenAI does not serve (no
 * request through it can succeed until an operator acts). Whatever status carries them, waiting or refreshing
 * mends none.
 */
const accountLabels = new Set([
  "account_deactivated",
  "deactivated_workspace",
  "access_terminated",
  "insufficient_quota",
  "billing_hard_limit_reached",
  "billing_not_active",
  "usage_not_included",
  "unsupported_country_region_territory",
]);
const accountMessage = /\baccount\b[^.]{0,40}\b(?:has been |was |is )(?:deactivated|disabled|suspended|banned|terminated)\b/i;

function refusesAccount(error: ErrorFields): boolean {
  if ((error.code !== undefined && accountLabels.has(error.code)) || (error.type !== undefined && accountLabels.has(error.type))) {
    return true;
  }
  return accountMessage.test(error.message ?? "");
}

function hasLabel(error: ErrorFields, label: string): boolean {
  return error.code === label || error.type === label;
}

function numberHeader(headers: IncomingHeaders, name: string): number | undefined {
  const value = headerValue(headers, name);
  if (value === undefined || value.trim() === "") return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

/**
 * Reads `{"error": {...}}` (API and Codex) and `{"detail": {...}}` / `{"detail": "..."}` (ChatGPT backend).
 * A body cut at the 64 KiB prefix, or not JSON at all, yields whatever a plain-text scan can tell.
 */
function readErrorFields(bodyText: string | undefined): ErrorFields {
  if (bodyText === undefined || bodyText === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return /overloaded/i.test(bodyText) ? { message: "overloaded" } : {};
  }
  if (typeof parsed !== "object" || parsed === null) return {};
  const root = parsed as Record<string, unknown>;
  const inner = root.error ?? root.detail;
  if (typeof inner === "string") return { message: inner };
  if (typeof inner !== "object" || inner === null) return {};
  const fields = inner as Record<string, unknown>;
  return {
    type: stringField(fields.type),
    code: stringField(fields.code),
    message: stringField(fields.message),
    resetsAt: numberField(fields.resets_at),
    resetsInSeconds: numberField(fields.resets_in_seconds),
  };
}

function stringField(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function numberField(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
