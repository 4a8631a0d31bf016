import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, claudeReply, geminiReply, jsonFixture, listedAccount, ManualClock, schedulerSnapshotPushed, startTestGateway, type TestGateway } from "./harness";

const OPUS = "claude-opus-4-5";
const SONNET = "claude-sonnet-4-5";
const minute = 60_000;

interface AccountRow {
  id: string;
  rateLimitedUntil: number | null;
  rateLimits: Array<{ scope: string; window?: string; until: number }>;
}

/**
 * Rate-limit scopes end to end (issue 15 item 2), on both backends with a hand-moved clock: a Claude
 * subscription's weekly Opus window (representative claim `seven_day_opus`) benches the account for Opus
 * only. Sonnet keeps flowing on it, Opus goes to the spare or gets a 429 with Retry-After, and the scope
 * lifts by itself at the window's reset.
 */
describe.each(backends)("rate-limit scopes (%s)", (backend) => {
  let harness: TestGateway;
  const clock = new ManualClock();

  beforeAll(async () => {
    harness = await startTestGateway({ backend, overrides: { now: clock.now } });
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const accountOf = (id: string) => listedAccount<AccountRow>(harness, id);
  const modelOf = (request: RecordedRequest) => request.json<{ model: string }>().model;

  /** An account whose weekly Opus window runs out (until `opusLimited` is false); Sonnet it serves. */
  const opusWeeklyUpstream = (prefix: string, resetAt: () => number) => {
    const state = { opusLimited: true };
    harness.upstream.on("POST", `/${prefix}/v1/messages`, (request) => {
      if (modelOf(request) !== OPUS || !state.opusLimited) return claudeReply(request);
      const reset = String(Math.floor(resetAt() / 1000));
      return {
        status: 429,
        headers: {
          "anthropic-ratelimit-unified-status": "rejected",
          "anthropic-ratelimit-unified-reset": reset,
          "anthropic-ratelimit-unified-representative-claim": "seven_day_opus",
          "anthropic-ratelimit-unified-5h-status": "allowed",
          "anthropic-ratelimit-unified-5h-utilization": "0.21",
          "anthropic-ratelimit-unified-5h-reset": String(Math.floor((clock.now() + 3 * 3_600_000) / 1000)),
          "anthropic-ratelimit-unified-7d-status": "allowed",
          "anthropic-ratelimit-unified-7d-utilization": "0.64",
          "anthropic-ratelimit-unified-7d-reset": String(Math.floor((clock.now() + 4 * 86_400_000) / 1000)),
          "anthropic-ratelimit-unified-7d_opus-status": "rejected",
          "anthropic-ratelimit-unified-7d_opus-utilization": "1.0",
          "anthropic-ratelimit-unified-7d_opus-reset": reset,
          "anthropic-ratelimit-unified-fallback-percentage": "0.5",
        },
        json: jsonFixture("claude", "error-rate-limit.json"),
      };
    });
    const to = (model: string) => harness.upstream.requestsTo(`/${prefix}/v1/messages`).filter((request) => modelOf(request) === model).length;
    return { state, to };
  };

  const asker = (key: string) => async (model: string) => {
    const response = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    const body = (await response.json()) as { type?: string; error?: { type?: string } };
    return { status: response.status, retryAfter: response.headers.get("retry-after"), body };
  };

  it("an Opus weekly 429 leaves Sonnet flowing on the account, sends Opus to the spare, and lifts at its reset", async () => {
    const resetAt = Math.floor((clock.now() + 30 * minute) / 1000) * 1000;
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { name: "a", type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-scope-a" }, baseUrl: base("scope-a") },
        { name: "b", type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-scope-b" }, baseUrl: base("scope-b") },
      ],
    });
    const [a] = seeded.accountIds as [string, string];
    const upstreamA = opusWeeklyUpstream("scope-a", () => resetAt);
    harness.upstream.on("POST", "/scope-b/v1/messages", claudeReply);
    const toB = (model: string) => harness.upstream.requestsTo("/scope-b/v1/messages").filter((request) => modelOf(request) === model).length;
    const ask = asker(seeded.key);
    const recorded = schedulerSnapshotPushed(harness.gateway, a, (snapshot) => (snapshot.rateLimits?.length ?? 0) > 0);

    // The 429 on a fails over to b, and records the scope (not an account-wide limit).
    expect(await ask(OPUS)).toMatchObject({ status: 200, body: { type: "message" } });
    expect([upstreamA.to(OPUS), toB(OPUS)]).toEqual([1, 1]);
    await recorded;
    const limited = await accountOf(a);
    expect(limited.rateLimitedUntil).toBeNull();
    expect(limited.rateLimits).toEqual([{ scope: "family:opus", window: "7d_opus", until: resetAt }]);

    // Sonnet stays on a (priority 1); Opus goes to b without asking a again.
    for (let index = 0; index < 3; index++) expect(await ask(SONNET)).toMatchObject({ status: 200, body: { type: "message" } });
    expect([upstreamA.to(SONNET), toB(SONNET)]).toEqual([3, 0]);
    expect(await ask(OPUS)).toMatchObject({ status: 200 });
    expect([upstreamA.to(OPUS), toB(OPUS)]).toEqual([1, 2]);

    // A second before the reset a is still out for Opus; at the reset it is back, by itself.
    upstreamA.state.opusLimited = false;
    clock.advance(resetAt - clock.now() - 1_000);
    expect(await ask(OPUS)).toMatchObject({ status: 200 });
    expect([upstreamA.to(OPUS), toB(OPUS)]).toEqual([1, 3]);
    clock.advance(1_000);
    expect(await ask(OPUS)).toMatchObject({ status: 200 });
    expect([upstreamA.to(OPUS), toB(OPUS)]).toEqual([2, 3]);
    expect((await accountOf(a)).rateLimits).toEqual([]);
  });

  it("with no spare, Opus gets a 429 with Retry-After until the reset while Sonnet is served", async () => {
    const resetAt = Math.floor((clock.now() + 20 * minute) / 1000) * 1000;
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ name: "only", type: "apikey", credentials: { apiKey: "sk-ant-scope-only" }, baseUrl: base("scope-only") }],
    });
    const [only] = seeded.accountIds as [string];
    const upstream = opusWeeklyUpstream("scope-only", () => resetAt);
    const ask = asker(seeded.key);
    const recorded = schedulerSnapshotPushed(harness.gateway, only, (snapshot) => (snapshot.rateLimits?.length ?? 0) > 0);

    const first = await ask(OPUS);
    expect(first).toMatchObject({ status: 429, body: { type: "error", error: { type: "rate_limit_error" } } });
    await recorded;

    // Not asked again for Opus: the gateway answers itself, saying when the window resets.
    const second = await ask(OPUS);
    expect(second).toMatchObject({ status: 429, body: { error: { type: "rate_limit_error" } } });
    expect(Number(second.retryAfter)).toBe(Math.ceil((resetAt - clock.now()) / 1000));
    expect(upstream.to(OPUS)).toBe(1);
    expect(await ask(SONNET)).toMatchObject({ status: 200, body: { type: "message" } });
    expect(upstream.to(SONNET)).toBe(1);

    upstream.state.opusLimited = false;
    clock.advance(resetAt - clock.now());
    expect(await ask(OPUS)).toMatchObject({ status: 200, body: { type: "message" } });
    expect(upstream.to(OPUS)).toBe(2);
  });

  it("a Gemini per-model quota 429 benches the account for that model only", async () => {
    const seeded = await harness.seed({
      platform: "gemini",
      accounts: [{ name: "gem", type: "apikey", credentials: { apiKey: "AIza-scope-gem" }, baseUrl: base("scope-gem") }],
    });
    const [gem] = seeded.accountIds as [string];
    // error-429-retry-info.json: a QuotaFailure on quotaDimensions.model gemini-2.5-pro, RetryInfo 37s.
    harness.upstream.on("POST", /^\/scope-gem\/v1beta\/models\/[^/]+:generateContent$/, (request) =>
      request.path.includes("gemini-2.5-pro:") ? { status: 429, json: jsonFixture("gemini", "error-429-retry-info.json") } : geminiReply(request),
    );
    const ask = async (model: string) => {
      const response = await fetch(`${harness.url}/v1beta/models/${model}:generateContent?key=${seeded.key}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
      });
      await response.text();
      return { status: response.status, retryAfter: response.headers.get("retry-after") };
    };
    const toModel = (model: string) => harness.upstream.requestsTo(/^\/scope-gem\//).filter((request) => request.path.includes(`${model}:`)).length;
    const recorded = schedulerSnapshotPushed(harness.gateway, gem, (snapshot) => (snapshot.rateLimits?.length ?? 0) > 0);

    expect((await ask("gemini-2.5-pro")).status).toBe(429);
    await recorded;
    expect((await accountOf(gem)).rateLimits).toEqual([{ scope: "model:gemini-2.5-pro", window: "1m", until: clock.now() + 37_000 }]);
    const again = await ask("gemini-2.5-pro");
    expect(again).toEqual({ status: 429, retryAfter: "37" });
    expect(toModel("gemini-2.5-pro")).toBe(1);
    expect((await ask("gemini-2.5-flash")).status).toBe(200);
    expect(toModel("gemini-2.5-flash")).toBe(1);
  });

  it("the admin API clears scopes: PATCH rateLimits [] and POST reset", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ name: "admin", type: "apikey", credentials: { apiKey: "sk-ant-scope-admin" }, baseUrl: base("scope-admin") }],
    });
    const [id] = seeded.accountIds as [string];
    const until = clock.now() + 10 * minute;
    const set = await harness.admin<AccountRow>("PATCH", `/admin/accounts/${id}`, {
      rateLimits: [
        { scope: "family:sonnet", window: "7d_sonnet", until },
        { scope: "model:claude-haiku-4-5", until: clock.now() - 1 },
      ],
    });
    expect(set.status).toBe(200);
    // The ended one is not shown.
    expect(set.body.rateLimits).toEqual([{ scope: "family:sonnet", window: "7d_sonnet", until }]);
    harness.upstream.on("POST", "/scope-admin/v1/messages", claudeReply);
    expect(await asker(seeded.key)(SONNET)).toMatchObject({ status: 429 });
    expect(harness.upstream.requestsTo("/scope-admin/v1/messages")).toHaveLength(0);

    const cleared = await harness.admin<AccountRow>("PATCH", `/admin/accounts/${id}`, { rateLimits: [] });
    expect(cleared.status).toBe(200);
    expect(cleared.body.rateLimits).toEqual([]);
    expect(await asker(seeded.key)(SONNET)).toMatchObject({ status: 200 });

    await harness.admin("PATCH", `/admin/accounts/${id}`, { rateLimits: [{ scope: "family:opus", until }, { scope: "account", until }] });
    expect((await accountOf(id)).rateLimitedUntil).toBe(until);
    const reset = await harness.admin<AccountRow>("POST", `/admin/accounts/${id}/reset`);
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ rateLimitedUntil: null, rateLimits: [] });

    const refused = await harness.admin<{ error: { message: string } }>("PATCH", `/admin/accounts/${id}`, { rateLimits: [{ scope: "family:gpt", until: "soon" }] });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/rateLimits\[0\]\.scope/);
    expect(JSON.stringify(refused.body)).toMatch(/rateLimits\[0\]\.until/);
  });
});
