import { join } from "node:path";
import type { IncomingHeaders, Verdict } from "@subrelay/providers-core";
import { readFixture } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { createClaudeProvider } from "./claude-provider";

const fixture = (name: string) => readFixture(join(import.meta.dirname, "__fixtures__"), name);
const now = Date.UTC(2025, 9, 6, 14, 30, 0);
const seconds = (ms: number) => String(Math.floor(ms / 1000));
const provider = createClaudeProvider({ rateLimitFallbackMs: 45_000, overloadedCooldownMs: 30_000 });

interface Row {
  name: string;
  status: number;
  headers?: IncomingHeaders;
  body?: string;
  expected: Verdict["kind"];
  until?: number;
  reasonContains?: string;
}

const rows: Row[] = [
  { name: "200 message", status: 200, body: fixture("message.json"), expected: "ok" },
  { name: "200 stream (body not read)", status: 200, headers: { "content-type": "text/event-stream" }, expected: "ok" },
  { name: "401 expired OAuth token", status: 401, body: fixture("error-authentication.json"), expected: "auth", reasonContains: "authentication_error: OAuth token has expired" },
  { name: "401 invalid x-api-key", status: 401, body: fixture("error-invalid-api-key.json"), expected: "auth" },
  { name: "401 without body", status: 401, expected: "auth", reasonContains: "401" },
  { name: "403 permission_error", status: 403, body: fixture("error-permission.json"), expected: "forbidden", reasonContains: "permission_error" },
  // Was "403 cloudflare page" (any 403 marked the account): the row keeps its verdict with an account-level 403.
  { name: "403 revoked OAuth token", status: 403, body: fixture("error-oauth-revoked.json"), expected: "forbidden", reasonContains: "revoked" },
  { name: "403 organization disabled", status: 403, body: fixture("error-403-organization-disabled.json"), expected: "forbidden", reasonContains: "disabled" },
  { name: "403 account banned", status: 403, body: fixture("error-account-banned.json"), expected: "forbidden", reasonContains: "banned" },
  // 403s about the request (a resource the key may not use), or that name nothing: the client's, the account untouched.
  { name: "403 key may not use the resource", status: 403, body: fixture("error-permission-resource.json"), expected: "client", reasonContains: "permission_error" },
  { name: "403 request not allowed", status: 403, body: fixture("error-request-not-allowed.json"), expected: "client" },
  { name: "403 cloudflare page", status: 403, body: fixture("error-cloudflare-403.html"), expected: "client" },
  { name: "403 without body", status: 403, expected: "client", reasonContains: "403" },
  { name: "400 organization disabled", status: 400, body: fixture("error-organization-disabled.json"), expected: "forbidden", reasonContains: "disabled" },
  { name: "400 credit balance too low", status: 400, body: fixture("error-credit-balance.json"), expected: "forbidden" },
  {
    name: "429 unified reset (subscription)",
    status: 429,
    headers: {
      "anthropic-ratelimit-unified-status": "rejected",
      "anthropic-ratelimit-unified-reset": seconds(now + 3 * 3_600_000),
      "anthropic-ratelimit-unified-5h-status": "rejected",
      "anthropic-ratelimit-unified-5h-reset": seconds(now + 3 * 3_600_000),
      "anthropic-ratelimit-unified-7d-status": "allowed",
      "anthropic-ratelimit-unified-7d-reset": seconds(now + 4 * 86_400_000),
      "retry-after": "10",
    },
    body: fixture("error-rate-limit.json"),
    expected: "rate_limited",
    until: Math.floor((now + 3 * 3_600_000) / 1000) * 1000,
    reasonContains: "rate_limit_error",
  },
  {
    name: "429 7d window rejected, no unified reset",
    status: 429,
    headers: {
      "anthropic-ratelimit-unified-5h-status": "allowed",
      "anthropic-ratelimit-unified-5h-reset": seconds(now + 3_600_000),
      "anthropic-ratelimit-unified-7d-status": "rejected",
      "anthropic-ratelimit-unified-7d-reset": seconds(now + 2 * 86_400_000),
    },
    body: fixture("error-rate-limit.json"),
    expected: "rate_limited",
    until: Math.floor((now + 2 * 86_400_000) / 1000) * 1000,
  },
  {
    name: "429 window resets without status: the earliest future one",
    status: 429,
    headers: {
      "anthropic-ratelimit-unified-5h-reset": seconds(now + 3_600_000),
      "anthropic-ratelimit-unified-7d-reset": seconds(now + 2 * 86_400_000),
      "anthropic-ratelimit-unified-7d_opus-reset": seconds(now - 60_000),
    },
    expected: "rate_limited",
    until: Math.floor((now + 3_600_000) / 1000) * 1000,
  },
  {
    name: "429 stale unified reset falls through to retry-after",
    status: 429,
    headers: { "anthropic-ratelimit-unified-reset": seconds(now - 5_000), "retry-after": "25" },
    expected: "rate_limited",
    until: now + 25_000,
  },
  { name: "429 retry-after seconds (API key)", status: 429, headers: { "retry-after": "17", "x-should-retry": "true" }, body: fixture("error-rate-limit.json"), expected: "rate_limited", until: now + 17_000 },
  { name: "429 retry-after HTTP date", status: 429, headers: { "retry-after": new Date(now + 120_000).toUTCString() }, expected: "rate_limited", until: now + 120_000 },
  {
    name: "429 exhausted token bucket (RFC 3339 reset)",
    status: 429,
    headers: {
      "anthropic-ratelimit-requests-remaining": "12",
      "anthropic-ratelimit-requests-reset": new Date(now + 5_000).toISOString(),
      "anthropic-ratelimit-input-tokens-remaining": "0",
      "anthropic-ratelimit-input-tokens-reset": new Date(now + 40_000).toISOString(),
    },
    expected: "rate_limited",
    until: now + 40_000,
  },
  { name: "429 without any reset: fallback", status: 429, body: fixture("error-rate-limit.json"), expected: "rate_limited", until: now + 45_000 },
  { name: "529 overloaded", status: 529, body: fixture("error-overloaded.json"), expected: "overloaded", until: now + 30_000, reasonContains: "overloaded_error" },
  { name: "503 overloaded", status: 503, body: fixture("error-overloaded.json"), expected: "overloaded", until: now + 30_000 },
  { name: "503 cloudflare page", status: 503, body: fixture("error-cloudflare-503.html"), expected: "server", reasonContains: "503 Service Temporarily Unavailable" },
  { name: "500 api_error", status: 500, body: fixture("error-api.json"), expected: "server" },
  { name: "502 without body", status: 502, expected: "server" },
  { name: "504", status: 504, body: "upstream request timeout", expected: "server" },
  { name: "400 invalid request", status: 400, body: fixture("error-invalid-request.json"), expected: "client", reasonContains: "messages.1.content" },
  { name: "404 unknown model", status: 404, body: fixture("error-not-found.json"), expected: "client" },
  { name: "413 request too large", status: 413, body: fixture("error-request-too-large.json"), expected: "client" },
];

describe("Claude verdicts", () => {
  for (const row of rows) {
    it(`${row.name} -> ${row.expected}`, () => {
      const verdict = provider.classify({ status: row.status, headers: row.headers ?? {}, bodyText: row.body }, now);
      expect(verdict.kind).toBe(row.expected);
      if (row.until !== undefined) expect(verdict).toMatchObject({ until: row.until });
      // The configured fallbacks (45 s, 30 s) are the only ends no header named.
      if (row.until !== undefined) {
        const fallback = row.until === now + 45_000 || row.until === now + 30_000;
        expect(verdict).toMatchObject({ untilFrom: fallback ? "fallback" : "upstream" });
      }
      if (verdict.kind === "server") expect(verdict.cause).toBe("status");
      if (row.reasonContains !== undefined) expect(verdict).toMatchObject({ reason: expect.stringContaining(row.reasonContains) });
    });
  }

  it("uses the default fallbacks of 60 s", () => {
    const defaults = createClaudeProvider();
    expect(defaults.classify({ status: 429, headers: {} }, now)).toMatchObject({ kind: "rate_limited", until: now + 60_000 });
    expect(defaults.classify({ status: 529, headers: {} }, now)).toMatchObject({ kind: "overloaded", until: now + 60_000 });
  });

  it("bounds the reason", () => {
    const verdict = provider.classify({ status: 400, headers: {}, bodyText: "x".repeat(10_000) }, now);
    expect(verdict.kind === "client" && verdict.reason.length).toBeLessThanOrEqual(300);
  });

  it("judges network failures as server failures", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(provider.classifyNetworkError(refused)).toEqual({ kind: "server", cause: "network", reason: "network: ECONNREFUSED" });
    expect(provider.classifyNetworkError("weird")).toEqual({ kind: "server", cause: "network", reason: "network: connection failed" });
  });
});

/**
 * A subscription account's 429 as Claude Code sees it: the unified headers report every window (status,
 * reset in epoch seconds, utilization as a fraction), the representative claim names the one that binds.
 */
function unified429(claim: string, rejected: string, resets: Record<string, number>): IncomingHeaders {
  const headers: IncomingHeaders = {
    "anthropic-ratelimit-unified-status": "rejected",
    "anthropic-ratelimit-unified-representative-claim": claim,
    "anthropic-ratelimit-unified-reset": seconds(resets[rejected]!),
    "anthropic-ratelimit-unified-fallback-percentage": "0.5",
    "anthropic-ratelimit-unified-overage-status": "rejected",
    "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
    "request-id": "req_011CUdvTx8Yw3hmZbDbRqj3L",
  };
  for (const [window, reset] of Object.entries(resets)) {
    headers[`anthropic-ratelimit-unified-${window}-status`] = window === rejected ? "rejected" : "allowed";
    headers[`anthropic-ratelimit-unified-${window}-reset`] = seconds(reset);
    headers[`anthropic-ratelimit-unified-${window}-utilization`] = window === rejected ? "1.0" : "0.37";
  }
  return headers;
}

describe("Claude rate-limit scopes", () => {
  const at = (ms: number) => Math.floor(ms / 1000) * 1000;
  const resets = { "5h": now + 2 * 3_600_000, "7d": now + 3 * 86_400_000, "7d_opus": now + 5 * 86_400_000, "7d_sonnet": now + 6 * 86_400_000 };
  const judge = (headers: IncomingHeaders) => provider.classify({ status: 429, headers, bodyText: fixture("error-rate-limit.json") }, now);

  it("the weekly Opus window (seven_day_opus) limits the Opus family until its own reset", () => {
    expect(judge(unified429("seven_day_opus", "7d_opus", resets))).toMatchObject({
      kind: "rate_limited",
      scope: "family:opus",
      window: "7d_opus",
      until: at(resets["7d_opus"]),
      untilFrom: "upstream",
    });
  });

  it("the weekly Sonnet window (seven_day_sonnet) limits the Sonnet family", () => {
    expect(judge(unified429("seven_day_sonnet", "7d_sonnet", resets))).toMatchObject({
      scope: "family:sonnet",
      window: "7d_sonnet",
      until: at(resets["7d_sonnet"]),
    });
  });

  it("the 5-hour and the overall weekly windows are account-wide (no scope)", () => {
    const fiveHour = judge(unified429("five_hour", "5h", resets));
    expect(fiveHour).toMatchObject({ kind: "rate_limited", window: "5h", until: at(resets["5h"]) });
    expect(fiveHour).not.toHaveProperty("scope");
    const weekly = judge(unified429("seven_day", "7d", resets));
    expect(weekly).toMatchObject({ window: "7d", until: at(resets["7d"]) });
    expect(weekly).not.toHaveProperty("scope");
  });

  it("without a representative claim, a lone rejected family window still scopes; an account-wide one wins", () => {
    const opusOnly = unified429("", "7d_opus", resets);
    delete opusOnly["anthropic-ratelimit-unified-representative-claim"];
    expect(judge(opusOnly)).toMatchObject({ scope: "family:opus", window: "7d_opus" });
    const both = { ...opusOnly, "anthropic-ratelimit-unified-5h-status": "rejected" };
    const verdict = judge(both);
    expect(verdict).toMatchObject({ window: "5h" });
    expect(verdict).not.toHaveProperty("scope");
  });

  it("an API key's per-minute 429 names no window and stays account-wide", () => {
    const verdict = judge({ "retry-after": "17", "anthropic-ratelimit-requests-remaining": "0" });
    expect(verdict).toMatchObject({ kind: "rate_limited", until: now + 17_000 });
    expect(verdict).not.toHaveProperty("scope");
    expect(verdict).not.toHaveProperty("window");
  });
});
