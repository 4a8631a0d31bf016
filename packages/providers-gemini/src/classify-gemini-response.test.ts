import type { IncomingHeaders, VerdictKind } from "@subrelay/providers-core";
import { readFixture } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { createGeminiProvider } from "./gemini-provider";

const fixtures = new URL("./__fixtures__/", import.meta.url);
const fixture = (name: string) => readFixture(fixtures, name);
const now = 1_763_740_800_000;
const provider = createGeminiProvider({ rateLimitFallbackMs: 61_000, overloadedCooldownMs: 17_000 });

interface VerdictCase {
  name: string;
  status: number;
  body?: string;
  headers?: IncomingHeaders;
  kind: VerdictKind;
  /** Milliseconds after `now` the verdict ends, for rate_limited and overloaded. */
  untilIn?: number;
  /** Text the reason must contain. */
  reason?: string;
}

const cases: VerdictCase[] = [
  { name: "200 generateContent", status: 200, body: fixture("generate-content.json"), kind: "ok" },
  { name: "200 stream without a body read", status: 200, kind: "ok" },
  { name: "401 UNAUTHENTICATED (expired token)", status: 401, body: fixture("error-401-unauthenticated.json"), kind: "auth", reason: "UNAUTHENTICATED" },
  { name: "401 without a body", status: 401, kind: "auth", reason: "401" },
  // Was the bare "The caller does not have permission" (any 403 marked the account): the row keeps its verdict
  // with an account-level PERMISSION_DENIED.
  { name: "403 PERMISSION_DENIED", status: 403, body: fixture("error-403-api-key-leaked.json"), kind: "forbidden", reason: "PERMISSION_DENIED" },
  { name: "403 ACCESS_TOKEN_SCOPE_INSUFFICIENT", status: 403, body: fixture("error-403-scope-insufficient.json"), kind: "forbidden", reason: "insufficient authentication scopes" },
  { name: "403 API_KEY_SERVICE_BLOCKED", status: 403, body: fixture("error-403-key-service-blocked.json"), kind: "forbidden", reason: "blocked" },
  // 403s about what the request names, or that name nothing: the client's, the account untouched.
  { name: "403 bare 'caller does not have permission'", status: 403, body: fixture("error-403-permission-denied.json"), kind: "client", reason: "PERMISSION_DENIED" },
  { name: "403 a file of another project", status: 403, body: fixture("error-403-file-permission.json"), kind: "client", reason: "File" },
  { name: "403 cached content of another project", status: 403, body: fixture("error-403-cached-content.json"), kind: "client", reason: "cachedContents" },
  { name: "403 HTML from a proxy", status: 403, body: "<html><body>403 Forbidden</body></html>", kind: "client", reason: "403" },
  { name: "403 SERVICE_DISABLED", status: 403, body: fixture("error-403-service-disabled.json"), kind: "forbidden", reason: "has not been used" },
  { name: "403 consumer has been suspended", status: 403, body: fixture("error-403-key-suspended.json"), kind: "forbidden", reason: "suspended" },
  { name: "400 API_KEY_INVALID", status: 400, body: fixture("error-400-api-key-invalid.json"), kind: "forbidden", reason: "API key not valid" },
  { name: "400 INVALID_ARGUMENT", status: 400, body: fixture("error-400-invalid-argument.json"), kind: "client", reason: "INVALID_ARGUMENT" },
  { name: "404 model not found", status: 404, body: fixture("error-404-model-not-found.json"), kind: "client", reason: "NOT_FOUND" },
  { name: "429 RetryInfo 37s", status: 429, body: fixture("error-429-retry-info.json"), kind: "rate_limited", untilIn: 37_000, reason: "RESOURCE_EXHAUSTED" },
  {
    name: "429 RetryInfo wins over retry-after",
    status: 429,
    body: fixture("error-429-retry-info.json"),
    headers: { "retry-after": "5" },
    kind: "rate_limited",
    untilIn: 37_000,
  },
  { name: "429 RetryInfo 1.5s", status: 429, body: fixture("error-429-fractional-delay.json"), kind: "rate_limited", untilIn: 1_500 },
  { name: "429 'Please retry in 12.5s' in the message", status: 429, body: fixture("error-429-message-delay.json"), kind: "rate_limited", untilIn: 12_500 },
  {
    name: "429 Code Assist 'quota will reset after 2h36m24s'",
    status: 429,
    body: fixture("error-429-code-assist-quota.json"),
    kind: "rate_limited",
    untilIn: (2 * 3600 + 36 * 60 + 24) * 1000,
  },
  {
    name: "429 without details, retry-after seconds",
    status: 429,
    body: fixture("error-429-no-details.json"),
    headers: { "retry-after": "20" },
    kind: "rate_limited",
    untilIn: 20_000,
  },
  { name: "429 without details or retry-after: fallback", status: 429, body: fixture("error-429-no-details.json"), kind: "rate_limited", untilIn: 61_000 },
  { name: "429 with an empty body: fallback", status: 429, body: "", kind: "rate_limited", untilIn: 61_000 },
  {
    name: "429 MODEL_CAPACITY_EXHAUSTED (array body of the stream endpoint)",
    status: 429,
    body: fixture("error-429-capacity-stream.json"),
    kind: "overloaded",
    untilIn: 17_000,
    reason: "No capacity available",
  },
  { name: "503 UNAVAILABLE overloaded", status: 503, body: fixture("error-503-overloaded.json"), kind: "overloaded", untilIn: 17_000, reason: "UNAVAILABLE" },
  {
    name: "503 with retry-after",
    status: 503,
    body: fixture("error-503-overloaded.json"),
    headers: { "retry-after": "9" },
    kind: "overloaded",
    untilIn: 9_000,
  },
  { name: "503 plain-text body", status: 503, body: "upstream connect error or disconnect/reset before headers", kind: "overloaded", untilIn: 17_000 },
  { name: "500 'model is overloaded'", status: 500, body: fixture("error-500-overloaded.json"), kind: "overloaded", untilIn: 17_000 },
  { name: "500 INTERNAL", status: 500, body: fixture("error-500-internal.json"), kind: "server", reason: "INTERNAL" },
  { name: "504 DEADLINE_EXCEEDED", status: 504, body: fixture("error-504-deadline.json"), kind: "server", reason: "DEADLINE_EXCEEDED" },
  { name: "502 HTML from a proxy", status: 502, body: "<html><body>Bad Gateway</body></html>", kind: "server", reason: "502" },
];

describe("Gemini verdicts", () => {
  it.each(cases)("$name -> $kind", (testCase) => {
    const verdict = provider.classify(
      { status: testCase.status, headers: testCase.headers ?? {}, bodyText: testCase.body },
      now,
    );
    expect(verdict.kind).toBe(testCase.kind);
    if (testCase.untilIn !== undefined) {
      expect(verdict).toHaveProperty("until", now + testCase.untilIn);
      // The configured fallbacks (61 s, 17 s) are the only ends nothing on the wire named.
      const fallback = testCase.untilIn === 61_000 || testCase.untilIn === 17_000;
      expect(verdict).toHaveProperty("untilFrom", fallback ? "fallback" : "upstream");
    }
    if (testCase.reason !== undefined) {
      expect(verdict).toHaveProperty("reason", expect.stringContaining(testCase.reason) as unknown);
    }
  });

  it("reads the status and retry delay from a body cut short (the gateway reads at most 64 KiB)", () => {
    const long = "x".repeat(70_000);
    const body = JSON.stringify({
      error: {
        code: 429,
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "42s" }],
        message: long,
      },
    }).slice(0, 64 * 1024);
    expect(() => JSON.parse(body) as unknown).toThrow();
    const verdict = provider.classify({ status: 429, headers: {}, bodyText: body }, now);
    expect(verdict).toMatchObject({ kind: "rate_limited", until: now + 42_000, reason: expect.stringContaining("RESOURCE_EXHAUSTED") as unknown });
  });

  it("recognises a bad API key in a truncated 400", () => {
    const body = fixture("error-400-api-key-invalid.json");
    const cut = body.slice(0, body.indexOf("API_KEY_INVALID") + "API_KEY_INVALID".length + 2);
    expect(provider.classify({ status: 400, headers: {}, bodyText: cut }, now).kind).toBe("forbidden");
  });

  it("caps the reason at 200 characters of Google's message", () => {
    const body = JSON.stringify({ error: { code: 500, status: "INTERNAL", message: "m".repeat(1_000) } });
    const verdict = provider.classify({ status: 500, headers: {}, bodyText: body }, now);
    expect(verdict.kind).toBe("server");
    expect("reason" in verdict && verdict.reason.length).toBeLessThan(230);
  });

  it("uses the default fallbacks when none are configured", () => {
    const defaults = createGeminiProvider();
    expect(defaults.classify({ status: 429, headers: {}, bodyText: fixture("error-429-no-details.json") }, now)).toHaveProperty(
      "until",
      now + 60_000,
    );
    expect(defaults.classify({ status: 503, headers: {}, bodyText: fixture("error-503-overloaded.json") }, now)).toHaveProperty(
      "until",
      now + 30_000,
    );
  });

  it("judges a network failure as server (fail over, account untouched)", () => {
    const error = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(provider.classifyNetworkError(error)).toEqual({ kind: "server", cause: "network", reason: "network error: ECONNREFUSED" });
    expect(provider.classifyNetworkError("weird").kind).toBe("server");
  });
});

describe("Gemini quota scopes", () => {
  const judge = (name: string) => provider.classify({ status: 429, headers: {}, bodyText: fixture(name) }, now);

  it("a per-model quota (QuotaFailure quotaDimensions.model) limits that model only", () => {
    expect(judge("error-429-retry-info.json")).toMatchObject({ kind: "rate_limited", scope: "model:gemini-2.5-pro", window: "1m", until: now + 37_000 });
  });

  it("a daily per-model quota: the model, the longest window, RetryInfo's delay", () => {
    expect(judge("error-429-daily-model-quota.json")).toMatchObject({
      kind: "rate_limited",
      scope: "model:gemini-2.5-flash",
      window: "1d",
      until: now + 50_531_000,
    });
  });

  it("Code Assist's QUOTA_EXHAUSTED names the model in its ErrorInfo metadata", () => {
    expect(judge("error-429-code-assist-quota.json")).toMatchObject({ scope: "model:gemini-2.5-pro", until: now + (2 * 3600 + 36 * 60 + 24) * 1000 });
  });

  it("a per-project quota, or a 429 without details, limits the whole account", () => {
    const project = judge("error-429-project-quota.json");
    expect(project).toMatchObject({ kind: "rate_limited", window: "1m", until: now + 21_000 });
    expect(project).not.toHaveProperty("scope");
    expect(judge("error-429-no-details.json")).not.toHaveProperty("scope");
  });
});
