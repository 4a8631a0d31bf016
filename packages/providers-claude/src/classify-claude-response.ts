import { headerValue, type IncomingHeaders, parseRetryAfter, type UpstreamResponseInfo, type Verdict } from "@subrelay/providers-core";

export interface ClaudeClassifyOptions {
  /** Cool-down (ms) after a 429 that names no reset time. */
  rateLimitFallbackMs: number;
  /** Cool-down (ms) after a 529 / 503 "overloaded". */
  overloadedCooldownMs: number;
}

/**
 * Refusals that name the account, whatever 4xx carries them: a disabled, suspended or banned organisation /
 * account / workspace, no credit left, an organisation that may not use OAuth, a revoked credential. Anthropic
 * also answers 403 for what one request asks (a resource the key may not use) and Cloudflare for where it came
 * from: those do not match, so they stay the client's and the account serves on.
 */
const accountRefused = new RegExp(
  [
    String.raw`(?:organization|account|workspace)[^.]{0,40}\b(?:has been |is |was )?(?:disabled|suspended|banned|deactivated|terminated)`,
    String.raw`(?:disabled|suspended|banned|deactivated) (?:organization|account|workspace)`,
    String.raw`credit balance is too low`,
    String.raw`(?:billing|payment)[^.]{0,40}\b(?:required|overdue|failed|past due)`,
    String.raw`not allowed for this organization`,
    String.raw`(?:token|key|credential)s?\b[^.]{0,20}\b(?:has|have) been revoked`,
  ].join("|"),
  "i",
);

/**
 * Judges an Anthropic answer:
 * - < 400: ok;
 * - 401: auth;
 * - a 4xx (403 or 400 mostly) whose message names the account: organisation / account disabled, suspended or
 *   banned, out of credit, OAuth not allowed for the organisation, a revoked token or key: forbidden;
 * - 429: rate_limited, scoped to a model family when the window it exhausted is per family (the representative
 *   claim `seven_day_opus` / `seven_day_sonnet`: `family:opus` / `family:sonnet` until that window's reset; see
 *   `exhaustedWindow`), account-wide otherwise, until `anthropic-ratelimit-unified-reset`, else the latest rejected (else the
 *   earliest future) `anthropic-ratelimit-unified-<window>-reset`, else `retry-after`, else the latest
 *   exhausted `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset`, else now + fallback;
 * - 529, or 503 mentioning "overloaded": overloaded until now + cool-down;
 * - other 5xx: server; other 4xx (a 403 about the request or naming nothing, a Cloudflare page included): client.
 */
export function classifyClaudeResponse(response: UpstreamResponseInfo, now: number, options: ClaudeClassifyOptions): Verdict {
  const { status, headers } = response;
  if (status < 400) return { kind: "ok" };
  const reason = describeError(status, response.bodyText);
  if (status === 401) return { kind: "auth", reason };
  if (status === 429) {
    const limit = exhaustedWindow(headers, now);
    const scoped = limit?.scope === undefined ? {} : { scope: limit.scope };
    const named = limit?.window === undefined ? {} : { window: limit.window };
    // A family's weekly window ends at its own reset; the overall reset may name another window's.
    const end = (limit?.scope !== undefined ? limit.reset : undefined) ?? rateLimitEnd(headers, now);
    return end === undefined
      ? { kind: "rate_limited", until: now + options.rateLimitFallbackMs, untilFrom: "fallback", reason, ...scoped, ...named }
      : { kind: "rate_limited", until: end, untilFrom: "upstream", reason, ...scoped, ...named };
  }
  if (status === 529 || (status === 503 && /overloaded/i.test(response.bodyText ?? ""))) {
    return { kind: "overloaded", until: now + options.overloadedCooldownMs, untilFrom: "fallback", reason };
  }
  if (status >= 500) return { kind: "server", cause: "status", reason };
  if (accountRefused.test(errorMessage(response.bodyText))) return { kind: "forbidden", reason };
  return { kind: "client", reason };
}

/** When a 429 ends (epoch ms), from Anthropic's headers; undefined when none names a future moment. */
export function rateLimitEnd(headers: IncomingHeaders, now: number): number | undefined {
  const unified = parseResetTime(headerValue(headers, "anthropic-ratelimit-unified-reset"));
  if (unified !== undefined && unified > now) return unified;

  // Subscription windows (5h, 7d, 7d_opus, ...): a rejected window is the one that ends the limit.
  const rejected: number[] = [];
  const future: number[] = [];
  const windowReset = /^anthropic-ratelimit-unified-(.+)-reset$/;
  for (const name of Object.keys(headers)) {
    const window = windowReset.exec(name.toLowerCase())?.[1];
    if (window === undefined) continue;
    const reset = parseResetTime(headerValue(headers, name));
    if (reset === undefined || reset <= now) continue;
    future.push(reset);
    if (headerValue(headers, `anthropic-ratelimit-unified-${window}-status`) === "rejected") rejected.push(reset);
  }
  if (rejected.length > 0) return Math.max(...rejected);
  // Without status we cannot tell which window ran out; the earliest end is retried first, and a fresh 429
  // then tells more.
  if (future.length > 0) return Math.min(...future);

  const retryAfter = parseRetryAfter(headers["retry-after"], now);
  if (retryAfter !== undefined && retryAfter > now) return retryAfter;

  const exhausted: number[] = [];
  for (const limit of ["requests", "tokens", "input-tokens", "output-tokens"]) {
    if (headerValue(headers, `anthropic-ratelimit-${limit}-remaining`) !== "0") continue;
    const reset = parseResetTime(headerValue(headers, `anthropic-ratelimit-${limit}-reset`));
    if (reset !== undefined && reset > now) exhausted.push(reset);
  }
  return exhausted.length > 0 ? Math.max(...exhausted) : undefined;
}

/** The unified windows' claim names (`representative-claim`) and the header infix each reports under. */
const claimWindows: Record<string, string> = {
  five_hour: "5h",
  seven_day: "7d",
  seven_day_opus: "7d_opus",
  seven_day_sonnet: "7d_sonnet",
};

/** The windows that limit one model family only; every other window (5h, 7d) is account-wide. */
const familyOfWindow: Record<string, string> = { "7d_opus": "family:opus", "7d_sonnet": "family:sonnet" };

/**
 * Which subscription window a 429 exhausted, from the unified rate-limit headers: the one
 * `anthropic-ratelimit-unified-representative-claim` names (`five_hour`, `seven_day`, `seven_day_opus`,
 * `seven_day_sonnet`), else the only rejected `anthropic-ratelimit-unified-<window>-status` (a per-family
 * window only when no account-wide window is rejected too). `scope` is set for a per-family window
 * (`family:opus`, `family:sonnet`) and absent for the account-wide 5h and 7d windows. Undefined when the
 * headers name no window (an API-key account's per-minute limits).
 */
export function exhaustedWindow(
  headers: IncomingHeaders,
  now: number,
): { window: string; scope?: string; reset?: number } | undefined {
  const windowOf = (window: string) => {
    const reset = parseResetTime(headerValue(headers, `anthropic-ratelimit-unified-${window}-reset`));
    const future = reset !== undefined && reset > now ? reset : undefined;
    return { window, scope: familyOfWindow[window], reset: future };
  };
  const claim = headerValue(headers, "anthropic-ratelimit-unified-representative-claim")?.trim().toLowerCase();
  if (claim) {
    const window = claimWindows[claim];
    if (window !== undefined) return windowOf(window);
  }
  const rejected: string[] = [];
  const statusName = /^anthropic-ratelimit-unified-(.+)-status$/;
  for (const name of Object.keys(headers)) {
    const window = statusName.exec(name.toLowerCase())?.[1];
    if (window === undefined || window === "overage") continue;
    if (headerValue(headers, name)?.trim() === "rejected") rejected.push(window);
  }
  const accountWide = rejected.filter((window) => familyOfWindow[window] === undefined);
  if (accountWide.length > 0) return { window: accountWide.length === 1 ? accountWide[0]! : accountWide.sort().join("+") };
  if (rejected.length === 1) return windowOf(rejected[0]!);
  return undefined;
}

/** Epoch seconds (or ms when it is that large) or an RFC 3339 date, as epoch ms. */
function parseResetTime(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const number = Number(text);
    return number > 1e12 ? Math.round(number) : Math.round(number * 1000);
  }
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : date;
}

/** `error.message` of an Anthropic error body; the whole text when it is not one (a body cut at 64 KiB). */
function errorMessage(bodyText: string | undefined): string {
  if (!bodyText) return "";
  try {
    const body = JSON.parse(bodyText) as { error?: { message?: unknown } };
    return typeof body.error?.message === "string" ? body.error.message : "";
  } catch {
    return bodyText;
  }
}

/** `<status> <error.type>: <error.message>` from an Anthropic error body, bounded. */
function describeError(status: number, bodyText: string | undefined): string {
  let detail = "";
  if (bodyText) {
    try {
      const body = JSON.parse(bodyText) as { error?: { type?: unknown; message?: unknown } };
      const type = typeof body.error?.type === "string" ? body.error.type : undefined;
      const message = typeof body.error?.message === "string" ? body.error.message : undefined;
      detail = [type, message].filter(Boolean).join(": ");
    } catch {
      detail = bodyText.replace(/\s+/g, " ").trim();
    }
  }
  const reason = detail ? `${status} ${detail}` : String(status);
  return reason.length > 300 ? `${reason.slice(0, 297)}...` : reason;
}
