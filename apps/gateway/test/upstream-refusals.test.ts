import type { RecordedRequest } from "@subrelay/providers-core/testing";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claudeReply,
  geminiReply,
  jsonFixture,
  leakedSecrets,
  openaiChatReply,
  startTestGateway,
  type TestGateway,
  schedulerSnapshotPushed,
} from "./harness";

type Platform = "claude" | "openai" | "gemini";

/** How a client of each platform's own dialect asks, and where the gateway sends it upstream. */
const calls: Record<Platform, { path: string; upstreamPath: string; headers(key: string): Record<string, string>; body: unknown }> = {
  claude: {
    path: "/v1/messages",
    upstreamPath: "/v1/messages",
    headers: (key) => ({ "x-api-key": key, "anthropic-version": "2023-06-01" }),
    body: { model: "claude-opus-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] },
  },
  openai: {
    path: "/v1/chat/completions",
    upstreamPath: "/v1/chat/completions",
    headers: (key) => ({ authorization: `Bearer ${key}` }),
    body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
  },
  gemini: {
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    upstreamPath: "/v1beta/models/gemini-2.5-flash:generateContent",
    headers: (key) => ({ "x-goog-api-key": key }),
    body: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
  },
};

const replies = { claude: claudeReply, openai: openaiChatReply, gemini: geminiReply };

/** Per platform: a 403 about the request (the account serves on) and one that names the account (it is marked). */
const refusals: Array<{ platform: Platform; requestBound: string; accountLevel: string }> = [
  { platform: "claude", requestBound: "error-permission-resource.json", accountLevel: "error-403-organization-disabled.json" },
  { platform: "openai", requestBound: "errors/project-model-access.json", accountLevel: "errors/account-deactivated.json" },
  { platform: "gemini", requestBound: "error-403-file-permission.json", accountLevel: "error-403-key-suspended.json" },
];

/**
 * What upstream refusals do to the account and to what the client sees, on the embedded gateway against a
 * fake upstream on 127.0.0.1. Each test seeds its own accounts, each with its own base URL (`/<prefix>`).
 */
describe("upstream refusals (embedded)", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway();
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const accountStatus = async (id: string) => {
    const listed = await harness.admin<{ data: Array<{ id: string; status: string }> }>("GET", "/admin/accounts");
    return listed.body.data.find((account) => account.id === id)?.status;
  };
  const snapshotPushed = (accountId: string, predicate: (snapshot: AccountSnapshot) => boolean) =>
    schedulerSnapshotPushed(harness.gateway, accountId, predicate);
  const ask = async (platform: Platform, key: string) => {
    const call = calls[platform];
    const response = await fetch(`${harness.url}${call.path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...call.headers(key) },
      body: JSON.stringify(call.body),
    });
    return { status: response.status, text: await response.text() };
  };

  it.each(refusals)(
    "$platform: a request-bound 403 reaches the client and leaves the account schedulable; an account-level 403 marks it",
    async ({ platform, requestBound, accountLevel }) => {
      const seeded = await harness.seed({
        platform,
        accounts: [
          { type: "apikey", priority: 1, credentials: { apiKey: `key-${platform}-refusing-a` }, baseUrl: base(`${platform}-403-a`) },
          { type: "apikey", priority: 2, credentials: { apiKey: `key-${platform}-spare-b` }, baseUrl: base(`${platform}-403-b`) },
        ],
      });
      const [a] = seeded.accountIds as [string, string];
      const pathA = `/${platform}-403-a${calls[platform].upstreamPath}`;
      const pathB = `/${platform}-403-b${calls[platform].upstreamPath}`;
      const requestBoundBody = jsonFixture(platform, requestBound);
      harness.upstream
        .enqueue("POST", pathA, { status: 403, json: requestBoundBody })
        .on("POST", pathA, { status: 403, json: jsonFixture(platform, accountLevel) })
        .on("POST", pathB, replies[platform]);

      const first = await ask(platform, seeded.key);
      expect(first.status).toBe(403);
      expect(JSON.parse(first.text)).toEqual(requestBoundBody);
      expect(harness.upstream.requestsTo(pathB)).toHaveLength(0);
      expect(await accountStatus(a)).toBe("active");

      // Still schedulable: the next request goes to A first, which now refuses the account itself.
      const marked = snapshotPushed(a, (snapshot) => snapshot.status === "error");
      const second = await ask(platform, seeded.key);
      expect(second.status).toBe(200);
      expect(harness.upstream.requestsTo(pathA)).toHaveLength(2);
      expect(harness.upstream.requestsTo(pathB)).toHaveLength(1);
      await marked;
      expect(await accountStatus(a)).toBe("error");
    },
  );

  /** Echoes everything the gateway sent (its credential included) in an upstream error of the platform's shape. */
  const echo = (request: RecordedRequest) => `upstream-said: ${request.url} ${JSON.stringify(request.headers)}`;
  /** The credential the gateway sent, wherever the platform takes it. */
  const credential = (request: RecordedRequest) =>
    String(request.headers["x-api-key"] ?? request.headers["x-goog-api-key"] ?? request.headers.authorization ?? request.query.get("key"));
  const echoing: Record<Platform, Record<string, (request: RecordedRequest) => { status: number; json: unknown }>> = {
    claude: {
      auth: (request) => ({ status: 401, json: { type: "error", error: { type: "authentication_error", message: `invalid x-api-key ${echo(request)}` } } }),
      forbidden: (request) => ({ status: 403, json: { type: "error", error: { type: "permission_error", message: `This organization has been disabled (key ${credential(request)}). ${echo(request)}` } } }),
      rate_limited: (request) => ({ status: 429, json: { type: "error", error: { type: "rate_limit_error", message: echo(request) } } }),
      overloaded: (request) => ({ status: 529, json: { type: "error", error: { type: "overloaded_error", message: echo(request) } } }),
      client: (request) => ({ status: 400, json: { type: "error", error: { type: "invalid_request_error", message: echo(request) } } }),
    },
    openai: {
      auth: (request) => ({ status: 401, json: { error: { message: echo(request), type: "invalid_request_error", param: null, code: "invalid_api_key" } } }),
      forbidden: (request) => ({ status: 403, json: { error: { message: echo(request), type: "invalid_request_error", param: null, code: "account_deactivated" } } }),
      rate_limited: (request) => ({ status: 429, json: { error: { message: echo(request), type: "requests", param: null, code: "rate_limit_exceeded" } } }),
      overloaded: (request) => ({ status: 503, json: { error: { message: echo(request), type: "server_error", param: null, code: "server_is_overloaded" } } }),
      client: (request) => ({ status: 400, json: { error: { message: echo(request), type: "invalid_request_error", param: "messages", code: null } } }),
    },
    gemini: {
      auth: (request) => ({ status: 400, json: googleError(400, "INVALID_ARGUMENT", `API key not valid. ${echo(request)}`, "API_KEY_INVALID") }),
      forbidden: (request) => ({ status: 403, json: googleError(403, "PERMISSION_DENIED", `Consumer 'api_key:${credential(request)}' has been suspended. ${echo(request)}`, "CONSUMER_SUSPENDED") }),
      rate_limited: (request) => ({ status: 429, json: googleError(429, "RESOURCE_EXHAUSTED", echo(request)) }),
      overloaded: (request) => ({ status: 503, json: googleError(503, "UNAVAILABLE", `The model is overloaded. ${echo(request)}`) }),
      client: (request) => ({ status: 400, json: googleError(400, "INVALID_ARGUMENT", echo(request)) }),
    },
  };
  /** What the client gets for each kind of refusal: account-level ones are the gateway's own error. */
  const expectedStatus: Record<Platform, Record<string, number>> = {
    claude: { auth: 503, forbidden: 503, rate_limited: 429, overloaded: 529, client: 400 },
    openai: { auth: 503, forbidden: 503, rate_limited: 429, overloaded: 503, client: 400 },
    gemini: { auth: 503, forbidden: 503, rate_limited: 429, overloaded: 503, client: 400 },
  };
  const apiKeys: Record<Platform, string> = {
    claude: "sk-ant-api03-Echoed0Secret1Key2For3The4Test5Only6Abcdefgh",
    openai: "sk-proj-Echoed0Secret1Key2For3The4Test5Only6Abcdefgh",
    gemini: "AIzaSyEchoed0Secret1Key2For3The4Test5",
  };
  const cases = (["claude", "openai", "gemini"] as const).flatMap((platform) =>
    ["auth", "forbidden", "rate_limited", "overloaded", "client"].map((kind) => ({ platform, kind })),
  );

  it.each(cases)("$platform $kind refusal echoing the account's key: the client never sees the key", async ({ platform, kind }) => {
    const prefix = `echo-${platform}-${kind}`;
    const seeded = await harness.seed({
      platform,
      accounts: [{ type: "apikey", credentials: { apiKey: apiKeys[platform] }, baseUrl: base(prefix) }],
    });
    harness.upstream.on("POST", `/${prefix}${calls[platform].upstreamPath}`, echoing[platform][kind]!);
    const marked = kind === "forbidden" ? snapshotPushed(seeded.accountIds[0]!, (snapshot) => snapshot.status === "error") : undefined;

    const answer = await ask(platform, seeded.key);
    expect(harness.upstream.requestsTo(`/${prefix}${calls[platform].upstreamPath}`)).toHaveLength(1);
    expect(answer.status).toBe(expectedStatus[platform][kind]);
    expect(leakedSecrets(answer.text, [apiKeys[platform], seeded.key])).toEqual([]);
    const body = JSON.parse(answer.text) as unknown;
    expect(body).toMatchObject(platform === "claude" ? { type: "error", error: { type: expect.any(String) } } : { error: {} });
    if (kind === "client") {
      // A genuine client error is the upstream's own answer, credentials masked.
      expect(answer.text).toContain("upstream-said");
      expect(answer.text).toContain("[redacted]");
    } else {
      // An account-level refusal is the gateway's own error: nothing of the upstream's text.
      expect(answer.text).not.toContain("upstream-said");
    }
    if (marked) {
      // The reason stored on the account quotes the upstream's message: what admins see holds no key either.
      await marked;
      const listed = await harness.admin<{ data: Array<{ id: string; errorMessage: string | null }> }>("GET", "/admin/accounts");
      const account = listed.body.data.find((one) => one.id === seeded.accountIds[0]);
      expect(account?.errorMessage).toBeTruthy();
      expect(leakedSecrets(JSON.stringify(account), [apiKeys[platform]])).toEqual([]);
    }
  });

  it("masks an OAuth account's own access token, whatever its shape, in a client error it echoes", async () => {
    const accessToken = "opaque-access-token-0123456789";
    const refreshToken = "opaque-refresh-token-9876543210";
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken, refreshToken, expiresAt: Date.now() + 3_600_000 },
          baseUrl: base("echo-oauth"),
        },
      ],
    });
    harness.upstream.on("POST", "/echo-oauth/v1/messages", (request) => ({
      status: 400,
      json: {
        type: "error",
        error: { type: "invalid_request_error", message: `${echo(request)} refresh with ${refreshToken}` },
      },
    }));

    const answer = await ask("claude", seeded.key);
    expect(harness.upstream.requestsTo("/echo-oauth/v1/messages")[0]!.headers.authorization).toBe(`Bearer ${accessToken}`);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("upstream-said");
    expect(leakedSecrets(answer.text, [accessToken, refreshToken, seeded.key])).toEqual([]);
  });
});

function googleError(code: number, status: string, message: string, reason?: string) {
  const details = reason === undefined ? [] : [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "googleapis.com" }];
  return { error: { code, message, status, details } };
}
