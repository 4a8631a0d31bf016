import { join } from "node:path";
import type { IncomingHeaders, Verdict } from "@subrelay/providers-core";
import { readFixture } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { classifyOpenAIResponse, codexExhaustedWindow } from "./classify-openai-response";

const errors = join(import.meta.dirname, "__fixtures__", "errors");
const now = 1_763_733_600_000; // 2025-11-21T14:00:00Z
const options = { rateLimitFallbackMs: 60_000, overloadedCooldownMs: 30_000 };

const codexPrimaryExhausted: IncomingHeaders = {
  "x-codex-primary-used-percent": "100",
  "x-codex-primary-window-minutes": "300",
  "x-codex-primary-reset-after-seconds": "7200",
  "x-codex-secondary-used-percent": "41",
  "x-codex-secondary-window-minutes": "10080",
  "x-codex-secondary-reset-after-seconds": "432000",
};

interface Row {
  name: string;
  status: number;
  headers?: IncomingHeaders;
  /** A file in __fixtures__/errors, or literal text. */
  fixture?: string;
  body?: string;
  expected: Verdict;
}

const table: Row[] = [
  { name: "200", status: 200, expected: { kind: "ok" } },
  {
    name: "invalid API key",
    status: 401,
    fixture: "invalid-api-key.json",
    expected: { kind: "auth", reason: "http 401 invalid_api_key" },
  },
  {
    name: "expired Codex token",
    status: 401,
    fixture: "codex-token-expired.json",
    expected: { kind: "auth", reason: "http 401 token_expired" },
  },
  {
    name: "unsupported country",
    status: 403,
    fixture: "unsupported-country.json",
    expected: { kind: "forbidden", reason: "http 403 unsupported_country_region_territory" },
  },
  {
    name: "deactivated ChatGPT workspace",
    status: 402,
    fixture: "deactivated-workspace.json",
    expected: { kind: "forbidden", reason: "http 402 deactivated_workspace" },
  },
  {
    name: "deactivated account (401: no refresh mends it)",
    status: 401,
    fixture: "account-deactivated.json",
    expected: { kind: "forbidden", reason: "http 401 account_deactivated" },
  },
  {
    name: "deactivated account answered with 403",
    status: 403,
    fixture: "account-deactivated.json",
    expected: { kind: "forbidden", reason: "http 403 account_deactivated" },
  },
  {
    name: "banned account",
    status: 403,
    fixture: "access-terminated.json",
    expected: { kind: "forbidden", reason: "http 403 access_terminated" },
  },
  {
    name: "billing hard limit reached",
    status: 400,
    fixture: "billing-hard-limit.json",
    expected: { kind: "forbidden", reason: "http 400 billing_hard_limit_reached" },
  },
  {
    name: "billing not active",
    status: 429,
    fixture: "billing-not-active.json",
    expected: { kind: "forbidden", reason: "http 429 billing_not_active" },
  },
  { name: "402 without a body (payment required)", status: 402, expected: { kind: "forbidden", reason: "http 402" } },
  {
    name: "403 project without access to the model asked for",
    status: 403,
    fixture: "project-model-access.json",
    expected: { kind: "client", reason: "http 403 model_not_found" },
  },
  {
    name: "403 Cloudflare challenge page",
    status: 403,
    fixture: "cloudflare-challenge.html",
    expected: { kind: "client", reason: "http 403" },
  },
  { name: "403 without a body", status: 403, expected: { kind: "client", reason: "http 403" } },
  {
    name: "Codex usage_limit_reached: resets_at wins over headers",
    status: 429,
    headers: codexPrimaryExhausted,
    fixture: "codex-usage-limit-reached.json",
    expected: { kind: "rate_limited", until: 1_763_742_600_000, untilFrom: "upstream", reason: "http 429 usage_limit_reached", window: "5h" },
  },
  {
    name: "Codex usage_limit_reached with resets_in_seconds only",
    status: 429,
    fixture: "codex-usage-limit-seconds-only.json",
    expected: { kind: "rate_limited", until: now + 1_800_000, untilFrom: "upstream", reason: "http 429 usage_limit_reached" },
  },
  {
    name: "Codex 429 with the 5-hour window exhausted",
    status: 429,
    headers: codexPrimaryExhausted,
    fixture: "codex-too-many-requests.json",
    expected: { kind: "rate_limited", until: now + 7_200_000, untilFrom: "upstream", reason: "http 429", window: "5h" },
  },
  {
    name: "Codex 429 with both windows exhausted: the later reset",
    status: 429,
    headers: { ...codexPrimaryExhausted, "x-codex-secondary-used-percent": "100.0" },
    fixture: "codex-too-many-requests.json",
    expected: { kind: "rate_limited", until: now + 432_000_000, untilFrom: "upstream", reason: "http 429", window: "7d" },
  },
  {
    name: "Codex 429 with reset times but no usage percentages: the later reset",
    status: 429,
    headers: { "x-codex-primary-reset-after-seconds": "60", "x-codex-secondary-reset-after-seconds": "3600" },
    body: "",
    expected: { kind: "rate_limited", until: now + 3_600_000, untilFrom: "upstream", reason: "http 429" },
  },
  {
    name: "Codex 429 with absolute reset-at headers",
    status: 429,
    headers: { "x-codex-primary-used-percent": "100", "x-codex-primary-reset-at": "1763737200" },
    fixture: "codex-too-many-requests.json",
    expected: { kind: "rate_limited", until: 1_763_737_200_000, untilFrom: "upstream", reason: "http 429", window: "primary" },
  },
  {
    name: "Codex 429 with no window exhausted falls back to retry-after",
    status: 429,
    headers: { ...codexPrimaryExhausted, "x-codex-primary-used-percent": "97", "retry-after": "12" },
    fixture: "codex-too-many-requests.json",
    expected: { kind: "rate_limited", until: now + 12_000, untilFrom: "upstream", reason: "http 429" },
  },
  {
    name: "Codex plan without Codex",
    status: 429,
    fixture: "codex-usage-not-included.json",
    expected: { kind: "forbidden", reason: "http 429 usage_not_included" },
  },
  {
    name: "API tokens-per-minute limit: the empty bucket's reset",
    status: 429,
    headers: {
      "x-ratelimit-limit-requests": "500",
      "x-ratelimit-remaining-requests": "499",
      "x-ratelimit-reset-requests": "120ms",
      "x-ratelimit-limit-tokens": "30000",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "6m0s",
    },
    fixture: "rate-limit-tokens.json",
    expected: { kind: "rate_limited", until: now + 360_000, untilFrom: "upstream", reason: "http 429 rate_limit_exceeded" },
  },
  {
    name: "API requests-per-minute limit with retry-after preferred",
    status: 429,
    headers: {
      "retry-after": "1",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": "120ms",
    },
    fixture: "rate-limit-requests.json",
    expected: { kind: "rate_limited", until: now + 1_000, untilFrom: "upstream", reason: "http 429 rate_limit_exceeded" },
  },
  {
    name: "API limit with reset durations but no remaining counts: the later reset",
    status: 429,
    headers: { "x-ratelimit-reset-requests": "1.5s", "x-ratelimit-reset-tokens": "1m30s" },
    fixture: "rate-limit-tokens.json",
    expected: { kind: "rate_limited", until: now + 90_000, untilFrom: "upstream", reason: "http 429 rate_limit_exceeded" },
  },
  {
    name: "429 saying nothing: the fallback",
    status: 429,
    body: "Too Many Requests",
    expected: { kind: "rate_limited", until: now + 60_000, untilFrom: "fallback", reason: "http 429" },
  },
  {
    name: "insufficient_quota (no credit left on the key)",
    status: 429,
    fixture: "insufficient-quota.json",
    expected: { kind: "forbidden", reason: "http 429 insufficient_quota" },
  },
  {
    name: "503 engine overloaded",
    status: 503,
    fixture: "engine-overloaded.json",
    expected: { kind: "overloaded", until: now + 30_000, untilFrom: "fallback", reason: "http 503 server_error" },
  },
  {
    name: "503 server_is_overloaded with retry-after",
    status: 503,
    headers: { "retry-after": "5" },
    fixture: "server-is-overloaded.json",
    expected: { kind: "overloaded", until: now + 5_000, untilFrom: "upstream", reason: "http 503 server_is_overloaded" },
  },
  {
    name: "503 slow_down",
    status: 503,
    fixture: "slow-down.json",
    expected: { kind: "overloaded", until: now + 30_000, untilFrom: "fallback", reason: "http 503 slow_down" },
  },
  {
    name: "503 from a proxy",
    status: 503,
    fixture: "service-unavailable.html",
    expected: { kind: "server", cause: "status", reason: "http 503" },
  },
  {
    name: "500",
    status: 500,
    fixture: "server-error.json",
    expected: { kind: "server", cause: "status", reason: "http 500 server_error" },
  },
  {
    name: "502 from Cloudflare",
    status: 502,
    fixture: "bad-gateway.html",
    expected: { kind: "server", cause: "status", reason: "http 502" },
  },
  {
    name: "context length exceeded",
    status: 400,
    fixture: "context-length-exceeded.json",
    expected: { kind: "client", reason: "http 400 context_length_exceeded" },
  },
  {
    name: "unknown model",
    status: 404,
    fixture: "model-not-found.json",
    expected: { kind: "client", reason: "http 404 model_not_found" },
  },
  {
    name: "Codex unsupported parameter",
    status: 400,
    fixture: "codex-unsupported-parameter.json",
    expected: { kind: "client", reason: "http 400" },
  },
  { name: "413 without a body", status: 413, expected: { kind: "client", reason: "http 413" } },
];

describe("classifyOpenAIResponse", () => {
  it.each(table)("$name -> $expected.kind", ({ status, headers, fixture, body, expected }) => {
    const bodyText = fixture === undefined ? body : readFixture(errors, fixture);
    expect(classifyOpenAIResponse({ status, headers: headers ?? {}, bodyText }, now, options)).toEqual(
      expected,
    );
  });

  it("reads a body cut at the prefix limit as well as it can", () => {
    const bodyText = readFixture(errors, "engine-overloaded.json").slice(0, 100);
    expect(classifyOpenAIResponse({ status: 503, headers: {}, bodyText }, now, options)).toEqual({
      kind: "overloaded",
      until: now + 30_000,
      untilFrom: "fallback",
      reason: "http 503",
    });
  });

  it("never puts body text in a reason", () => {
    for (const row of table) {
      const bodyText = row.fixture === undefined ? row.body : readFixture(errors, row.fixture);
      const verdict = classifyOpenAIResponse(
        { status: row.status, headers: row.headers ?? {}, bodyText },
        now,
        options,
      );
      if ("reason" in verdict) expect(verdict.reason).toMatch(/^http \d{3}( [\w.-]+)?$/);
    }
  });
});

describe("Codex rate-limit windows", () => {
  // A Plus account's 429 as the Codex CLI gets it from chatgpt.com/backend-api/codex/responses.
  const plusWeeklyExhausted: IncomingHeaders = {
    "x-codex-primary-used-percent": "23",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-after-seconds": "9154",
    "x-codex-primary-over-secondary-limit-percent": "0",
    "x-codex-secondary-used-percent": "100",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-after-seconds": "302400",
    "x-codex-plan-type": "plus",
    "x-codex-active-limit": "codex",
  };

  it("the weekly window is named 7d and limits the whole account (no scope)", () => {
    const verdict = classifyOpenAIResponse({ status: 429, headers: plusWeeklyExhausted, bodyText: "" }, now, options);
    expect(verdict).toEqual({ kind: "rate_limited", until: now + 302_400_000, untilFrom: "upstream", reason: "http 429", window: "7d" });
  });

  it("a plan reporting its weekly window in the primary slot: named by length, not by slot", () => {
    const headers: IncomingHeaders = {
      "x-codex-primary-used-percent": "100",
      "x-codex-primary-window-minutes": "10080",
      "x-codex-primary-reset-after-seconds": "86400",
    };
    expect(codexExhaustedWindow(headers, now)).toBe("7d");
    expect(classifyOpenAIResponse({ status: 429, headers, bodyText: "" }, now, options)).toMatchObject({ window: "7d", until: now + 86_400_000 });
  });

  it("no window is full: none is named", () => {
    expect(codexExhaustedWindow({ ...plusWeeklyExhausted, "x-codex-secondary-used-percent": "99.5" }, now)).toBeUndefined();
  });
});
