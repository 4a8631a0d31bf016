import Anthropic from "@anthropic-ai/sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  claudeReply,
  claudeStreamEvents,
  deferred,
  geminiReply,
  jsonFixture,
  leakedSecrets,
  ManualClock,
  openaiChatReply,
  splitSse,
  startTestGateway,
  TokenEndpoint,
  type TestGateway,
  schedulerSnapshotPushed,
} from "./harness";

const MODEL = "claude-opus-4-5";
const hour = 3_600_000;

interface AccountRow {
  id: string;
  status: string;
  rateLimitedUntil: number | null;
  overloadedUntil: number | null;
  errorMessage: string | null;
}

/**
 * What happens when upstreams refuse, on the embedded gateway with a hand-moved clock: failover, account
 * state and its end, 401 refresh-and-retry, timeouts, streams cut after the first byte. Each test seeds its
 * own group whose accounts have their own base URL (`/<prefix>`), so the fake upstream tells them apart.
 */
describe("failover and upstream errors (embedded)", () => {
  let harness: TestGateway;
  const clock = new ManualClock();
  const tokens = new TokenEndpoint();

  beforeAll(async () => {
    harness = await startTestGateway({ env: { UPSTREAM_HEADERS_TIMEOUT: "500ms" }, overrides: { now: clock.now } });
    tokens.install(harness.upstream);
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const accountsById = async () => {
    const listed = await harness.admin<{ data: AccountRow[] }>("GET", "/admin/accounts");
    return new Map(listed.body.data.map((account) => [account.id, account]));
  };
  const snapshotPushed = (accountId: string, predicate: (snapshot: AccountSnapshot) => boolean) =>
    schedulerSnapshotPushed(harness.gateway, accountId, predicate);

  it("fails over from a 429 to the next account, records the limit, and takes the account back after its reset", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { name: "a", type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-limited-a" }, baseUrl: base("rl-a") },
        { name: "b", type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-spare-b" }, baseUrl: base("rl-b") },
      ],
    });
    const [a, b] = seeded.accountIds as [string, string];
    let limited = true;
    harness.upstream
      .on("POST", "/rl-a/v1/messages", (request) =>
        limited
          ? { status: 429, headers: { "retry-after": "60" }, json: jsonFixture("claude", "error-rate-limit.json") }
          : claudeReply(request),
      )
      .on("POST", "/rl-b/v1/messages", claudeReply);
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    const ask = () => client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    const recorded = snapshotPushed(a, (snapshot) => (snapshot.rateLimitedUntil ?? 0) > clock.now());

    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(harness.upstream.requestsTo("/rl-a/v1/messages")).toHaveLength(1);
    expect(harness.upstream.requestsTo("/rl-b/v1/messages")).toHaveLength(1);
    expect(harness.upstream.requestsTo("/rl-b/v1/messages")[0]!.headers["x-api-key"]).toBe("sk-ant-spare-b");

    await recorded;
    const limitedUntil = clock.now() + 60_000;
    const states = await accountsById();
    expect(states.get(a)).toMatchObject({ rateLimitedUntil: limitedUntil });
    expect(states.get(b)).toMatchObject({ rateLimitedUntil: null });

    // While limited, A is not even tried.
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(harness.upstream.requestsTo("/rl-a/v1/messages")).toHaveLength(1);
    expect(harness.upstream.requestsTo("/rl-b/v1/messages")).toHaveLength(2);

    // Past its reset time A is first again, with no event or admin action.
    limited = false;
    clock.advance(60_001);
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(harness.upstream.requestsTo("/rl-a/v1/messages")).toHaveLength(2);
    expect(harness.upstream.requestsTo("/rl-b/v1/messages")).toHaveLength(2);
  });

  it("does not retry a refused API key: marks the account errored and fails over", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { name: "a", type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-revoked-a" }, baseUrl: base("key401-a") },
        { name: "b", type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-good-b" }, baseUrl: base("key401-b") },
      ],
    });
    const [a] = seeded.accountIds as [string, string];
    harness.upstream
      .on("POST", "/key401-a/v1/messages", { status: 401, json: jsonFixture("claude", "error-authentication.json") })
      .on("POST", "/key401-b/v1/messages", claudeReply);
    const recorded = snapshotPushed(a, (snapshot) => snapshot.status === "error");
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });

    await expect(
      client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    ).resolves.toMatchObject({ type: "message" });
    // One call on the refused key: a retry cannot mend it.
    expect(harness.upstream.requestsTo("/key401-a/v1/messages")).toHaveLength(1);
    expect(harness.upstream.requestsTo("/key401-b/v1/messages")).toHaveLength(1);
    await recorded;
    expect((await accountsById()).get(a)).toMatchObject({ status: "error" });
  });

  it("refreshes and retries once on the same account after a 401", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: "revoked-access", refreshToken: "retry-refresh", expiresAt: clock.now() + hour },
          baseUrl: base("auth-a"),
        },
        { type: "apikey", priority: 99, credentials: { apiKey: "sk-ant-untouched" }, baseUrl: base("auth-b") },
      ],
    });
    harness.upstream
      .enqueue("POST", "/auth-a/v1/messages", { status: 401, json: jsonFixture("claude", "error-authentication.json") })
      .on("POST", "/auth-a/v1/messages", claudeReply)
      .on("POST", "/auth-b/v1/messages", claudeReply);
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });

    await expect(
      client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    ).resolves.toMatchObject({ type: "message" });
    const sent = harness.upstream.requestsTo("/auth-a/v1/messages");
    expect(sent.map((request) => request.headers.authorization)).toEqual([
      "Bearer revoked-access",
      "Bearer fresh-retry-refresh-1",
    ]);
    expect(tokens.calls("retry-refresh")).toBe(1);
    expect(harness.upstream.requestsTo("/auth-b/v1/messages")).toHaveLength(0);
  });

  it("fails over on an upstream 500 and leaves the account's state alone", async () => {
    const seeded = await harness.seed({
      platform: "openai",
      accounts: [
        { type: "apikey", priority: 1, credentials: { apiKey: "sk-openai-broken-a" }, baseUrl: base("srv-a") },
        { type: "apikey", priority: 2, credentials: { apiKey: "sk-openai-fine-b" }, baseUrl: base("srv-b") },
      ],
    });
    harness.upstream
      .on("POST", "/srv-a/v1/chat/completions", { status: 500, json: jsonFixture("openai", "errors/server-error.json") })
      .on("POST", "/srv-b/v1/chat/completions", openaiChatReply);
    const client = new OpenAI({ apiKey: seeded.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });

    const completion = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(completion.object).toBe("chat.completion");
    expect(harness.upstream.requestsTo("/srv-a/v1/chat/completions")).toHaveLength(1);
    expect(harness.upstream.requestsTo("/srv-b/v1/chat/completions")[0]!.headers.authorization).toBe("Bearer sk-openai-fine-b");
    expect((await accountsById()).get(seeded.accountIds[0]!)).toMatchObject({
      status: "active",
      rateLimitedUntil: null,
      overloadedUntil: null,
    });
  });

  it("returns the last upstream error in the client's dialect when every account refuses", async () => {
    const secrets = ["sk-ant-refuse-a", "sk-ant-refuse-b"];
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { type: "apikey", priority: 1, credentials: { apiKey: secrets[0] }, baseUrl: base("all-a") },
        { type: "apikey", priority: 2, credentials: { apiKey: secrets[1] }, baseUrl: base("all-b") },
      ],
    });
    harness.upstream
      .on("POST", "/all-a/v1/messages", { status: 529, json: jsonFixture("claude", "error-overloaded.json") })
      .on("POST", "/all-b/v1/messages", {
        status: 429,
        headers: { "retry-after": "30" },
        json: jsonFixture("claude", "error-rate-limit.json"),
      });
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });

    const error = await client.messages
      .create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    const apiError = error as InstanceType<typeof Anthropic.RateLimitError>;
    expect(apiError.error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(apiError.headers.get("retry-after")).toBe("30");
    expect(leakedSecrets(JSON.stringify(apiError.error), [...secrets, seeded.key])).toEqual([]);
    expect(harness.upstream.requestsTo("/all-a/v1/messages")).toHaveLength(1);
    expect(harness.upstream.requestsTo("/all-b/v1/messages")).toHaveLength(1);
  });

  it("answers 429 with the earliest comeback as Retry-After while every account cools down, without calling upstream", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-cool-a" }, baseUrl: base("cool-a") },
        { type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-cool-b" }, baseUrl: base("cool-b") },
      ],
    });
    const [a, b] = seeded.accountIds as [string, string];
    harness.upstream
      .on("POST", "/cool-a/v1/messages", { status: 429, headers: { "retry-after": "90" }, json: jsonFixture("claude", "error-rate-limit.json") })
      .on("POST", "/cool-b/v1/messages", { status: 429, headers: { "retry-after": "40" }, json: jsonFixture("claude", "error-rate-limit.json") });
    // One spy for both accounts (a second spyOn on the same method would replace the first).
    const bothRecorded = deferred();
    const limited = new Set<string>();
    const scheduler = harness.gateway.scheduler;
    const setAccount = scheduler.setAccount.bind(scheduler);
    const spy = vi.spyOn(scheduler, "setAccount").mockImplementation(async (snapshot) => {
      await setAccount(snapshot);
      if ((snapshot.rateLimitedUntil ?? 0) > clock.now()) limited.add(snapshot.id);
      if (limited.has(a) && limited.has(b)) bothRecorded.resolve();
    });
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    const ask = () =>
      client.messages
        .create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] })
        .catch((caught: unknown) => caught);

    try {
      expect(await ask()).toBeInstanceOf(Anthropic.RateLimitError);
      await bothRecorded.promise;
    } finally {
      spy.mockRestore();
    }
    const calls = harness.upstream.requests.length;

    const error = await ask();
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as InstanceType<typeof Anthropic.RateLimitError>).headers.get("retry-after")).toBe("40");
    expect(harness.upstream.requests.length).toBe(calls);
  });

  it("gives every refusing Gemini account up and answers in Google's error shape", async () => {
    const seeded = await harness.seed({
      platform: "gemini",
      accounts: [
        { type: "apikey", priority: 1, credentials: { apiKey: "AIza-refuse-a" }, baseUrl: base("g-a") },
        { type: "apikey", priority: 2, credentials: { apiKey: "AIza-refuse-b" }, baseUrl: base("g-b") },
      ],
    });
    const overloaded = { status: 503, json: jsonFixture("gemini", "error-503-overloaded.json") };
    harness.upstream.on("POST", /^\/g-[ab]\/v1beta\/models\/[^/]+:generateContent$/, overloaded);
    const response = await fetch(`${harness.url}/v1beta/models/gemini-2.5-flash:generateContent?key=${seeded.key}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    });
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 503, status: "UNAVAILABLE" } });
    expect(leakedSecrets(text, ["AIza-refuse-a", "AIza-refuse-b", seeded.key])).toEqual([]);
    expect(harness.upstream.requestsTo(/^\/g-[ab]\//)).toHaveLength(2);
  });

  it("fails over when an upstream sends no headers within the headers timeout", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-hang-a" }, baseUrl: base("hang-a") },
        { type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-ok-b" }, baseUrl: base("hang-b") },
      ],
    });
    harness.upstream.on("POST", "/hang-a/v1/messages", { hang: true }).on("POST", "/hang-b/v1/messages", claudeReply);
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });

    await expect(
      client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    ).resolves.toMatchObject({ type: "message" });
    expect(harness.upstream.requestsTo("/hang-a/v1/messages")).toHaveLength(1);
    expect(harness.upstream.requestsTo("/hang-b/v1/messages")).toHaveLength(1);
  });

  it("ends an Anthropic stream cut after its first byte with an error event, without failing over", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-cut-a" }, baseUrl: base("cut-a") },
        { type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-cut-b" }, baseUrl: base("cut-b") },
      ],
    });
    const events = claudeStreamEvents();
    harness.upstream
      .on("POST", "/cut-a/v1/messages", { sse: events, dropAfter: 3 })
      .on("POST", "/cut-b/v1/messages", claudeReply);

    const response = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": seeded.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, max_tokens: 8, stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text.startsWith(events.slice(0, 3).join(""))).toBe(true);
    const last = splitSse(text).at(-1)!;
    expect(last.startsWith("event: error\n")).toBe(true);
    expect(JSON.parse(last.split("data: ")[1]!)).toMatchObject({ type: "error", error: { type: "api_error" } });
    expect(leakedSecrets(text, ["sk-ant-cut-a", "sk-ant-cut-b", seeded.key])).toEqual([]);

    // The SDK surfaces the same event as an error.
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    await expect(stream.finalMessage()).rejects.toThrow(/interrupted/);
    expect(harness.upstream.requestsTo("/cut-a/v1/messages")).toHaveLength(2);
    expect(harness.upstream.requestsTo("/cut-b/v1/messages")).toHaveLength(0);
  });

  it("ends an OpenAI stream cut after its first byte with an error the SDK raises", async () => {
    const seeded = await harness.seed({
      platform: "openai",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-openai-cut" }, baseUrl: base("ocut") }],
    });
    harness.upstream.on("POST", "/ocut/v1/chat/completions", (request) => ({
      ...openaiChatReply(request),
      dropAfter: 2,
    }));
    const client = new OpenAI({ apiKey: seeded.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "gpt-4.1-mini",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    const chunks: unknown[] = [];
    const consumed = (async () => {
      for await (const chunk of stream) chunks.push(chunk);
    })();
    await expect(consumed).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(chunks).toHaveLength(2);
  });

  it("ends a Gemini stream cut after its first byte with a Google error the SDK raises", async () => {
    const seeded = await harness.seed({
      platform: "gemini",
      accounts: [{ type: "apikey", credentials: { apiKey: "AIza-cut" }, baseUrl: base("gcut") }],
    });
    harness.upstream.on("POST", /^\/gcut\/v1beta\/models\/[^/]+:streamGenerateContent$/, (request) => ({
      ...geminiReply(request),
      dropAfter: 1,
    }));
    const client = new GoogleGenAI({ apiKey: seeded.key, httpOptions: { baseUrl: harness.url } });
    const texts: string[] = [];
    const consumed = (async () => {
      for await (const chunk of await client.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) {
        texts.push(chunk.text ?? "");
      }
    })();
    const error = await consumed.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toContain("interrupted");
    expect(leakedSecrets((error as ApiError).message, ["AIza-cut", seeded.key])).toEqual([]);
    expect(texts).toHaveLength(1);
  });

  it("answers in the dialect, without secrets, when an account's refresh token is refused, and marks it", async () => {
    const secrets = ["doomed-access", "doomed-refresh"];
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: secrets[0], refreshToken: secrets[1], expiresAt: clock.now() - 1_000 },
          baseUrl: base("doomed"),
        },
      ],
    });
    harness.upstream.on("POST", "/claude/oauth/token", (request) =>
      request.json<{ refresh_token?: string }>().refresh_token === secrets[1]
        ? { status: 400, json: { error: "invalid_grant", error_description: "Refresh token not found or invalid" } }
        : tokens.reply(request),
    );
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    const marked = snapshotPushed(seeded.accountIds[0]!, (snapshot) => snapshot.status === "error");

    const error = await client.messages
      .create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    const apiError = error as InstanceType<typeof Anthropic.APIError>;
    expect(apiError.status).toBe(503);
    expect(apiError.error).toMatchObject({ type: "error", error: { type: "api_error" } });
    expect(leakedSecrets(JSON.stringify(apiError.error), [...secrets, seeded.key])).toEqual([]);
    expect(harness.upstream.requestsTo("/doomed/v1/messages")).toHaveLength(0);

    await marked;
    const state = (await accountsById()).get(seeded.accountIds[0]!);
    expect(state?.status).toBe("error");
    expect(leakedSecrets(JSON.stringify(state), secrets)).toEqual([]);
  });
});
