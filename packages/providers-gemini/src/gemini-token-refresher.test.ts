import { FakeUpstream, readFixture } from "@subrelay/providers-core/testing";
import { type TokenAccount, TokenRefreshError } from "@subrelay/token-cache";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { geminiCliOAuthClient } from "./gemini-cli-oauth-client";
import { createGeminiProvider } from "./gemini-provider";
import { GeminiTokenRefresher } from "./gemini-token-refresher";

const fixtures = new URL("./__fixtures__/", import.meta.url);
const fixtureJson = (name: string): unknown => JSON.parse(readFixture(fixtures, name));
const now = 1_763_740_800_000;
const refreshToken = "1//0gSecretRefreshToken-abcdefghijklmnop";
const oldAccessToken = "ya29.oldAccessTokenValue-abcdefghij";
const clientSecret = "GOCSPX-test-client-secret";

let upstream: FakeUpstream;

beforeAll(async () => {
  upstream = await FakeUpstream.start();
});
afterEach(() => upstream.reset());
afterAll(async () => {
  await upstream.close();
});

function account(overrides: Partial<TokenAccount["credentials"]> = {}): TokenAccount {
  return {
    id: "7",
    platform: "gemini",
    credentials: {
      accessToken: oldAccessToken,
      refreshToken,
      expiresAt: now - 1_000,
      projectId: "spry-tide-q4k9m",
      email: "dev@example.com",
      ...overrides,
    },
  };
}

function refresher(options: { timeoutMs?: number; clientId?: string } = {}) {
  return new GeminiTokenRefresher({
    tokenUrl: `${upstream.url}/token`,
    clientId: options.clientId ?? "test-client.apps.googleusercontent.com",
    clientSecret,
    timeoutMs: options.timeoutMs ?? 5_000,
    now: () => now,
  });
}

async function refreshError(promise: Promise<unknown>): Promise<TokenRefreshError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!TokenRefreshError.isInstance(error)) throw new Error(`expected a TokenRefreshError, got ${String(error)}`);
  for (const secret of [refreshToken, oldAccessToken, clientSecret]) {
    expect(error.message).not.toContain(secret);
    expect(String(error)).not.toContain(secret);
  }
  return error;
}

describe("GeminiTokenRefresher", () => {
  it("keys the cache by account", () => {
    expect(refresher().cacheKey(account())).toBe("gemini:account:7");
  });

  it("refreshes with a form-encoded refresh_token grant and keeps the refresh token and projectId", async () => {
    upstream.on("POST", "/token", { json: fixtureJson("token-success.json") });
    const credentials = await refresher().refresh(account(), new AbortController().signal);

    const [request] = upstream.requestsTo("/token");
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(request?.body))).toEqual({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: "test-client.apps.googleusercontent.com",
      client_secret: clientSecret,
    });
    expect(credentials).toMatchObject({
      accessToken: "ya29.a0AeDClZBfreshAccessTokenValue0123456789",
      refreshToken,
      expiresAt: now + 3_599_000,
      projectId: "spry-tide-q4k9m",
      email: "dev@example.com",
      scope: expect.stringContaining("cloud-platform") as unknown,
      idToken: expect.stringMatching(/^eyJ/) as unknown,
    });
  });

  it("takes a rotated refresh token when Google returns one", async () => {
    upstream.on("POST", "/token", {
      json: { ...(fixtureJson("token-success.json") as object), refresh_token: "1//0gRotatedRefreshToken" },
    });
    const credentials = await refresher().refresh(account(), new AbortController().signal);
    expect(credentials.refreshToken).toBe("1//0gRotatedRefreshToken");
    expect(credentials.projectId).toBe("spry-tide-q4k9m");
  });

  it("uses gemini-cli's public OAuth client by default", async () => {
    upstream.on("POST", "/token", { json: fixtureJson("token-success.json") });
    const defaults = new GeminiTokenRefresher({ tokenUrl: `${upstream.url}/token`, now: () => now });
    await defaults.refresh(account(), new AbortController().signal);
    const body = new URLSearchParams(upstream.requestsTo("/token")[0]?.body);
    expect(body.get("client_id")).toBe(geminiCliOAuthClient.clientId);
    expect(body.get("client_secret")).toBe(geminiCliOAuthClient.clientSecret);
  });

  it("the provider's refresher carries the provider's token options", async () => {
    upstream.on("POST", "/token", { json: fixtureJson("token-success.json") });
    const provider = createGeminiProvider({ tokenUrl: `${upstream.url}/token`, clientId: "from-provider", now: () => now });
    expect(provider.refresher.cacheKey(account())).toBe("gemini:account:7");
    const credentials = await provider.refresher.refresh(account(), new AbortController().signal);
    expect(new URLSearchParams(upstream.requestsTo("/token")[0]?.body).get("client_id")).toBe("from-provider");
    expect(credentials.expiresAt).toBe(now + 3_599_000);
  });

  it("invalid_grant (expired or revoked) is permanent", async () => {
    upstream.on("POST", "/token", { status: 400, json: fixtureJson("token-invalid-grant.json") });
    const error = await refreshError(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "invalid_grant", permanent: true, status: 400 });
  });

  it("an unknown OAuth client is permanent", async () => {
    upstream.on("POST", "/token", { status: 401, json: fixtureJson("token-invalid-client.json") });
    const error = await refreshError(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "unauthorized_client", permanent: true });
  });

  it("an empty client id fails permanently without calling Google", async () => {
    const error = await refreshError(refresher({ clientId: "" }).refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "unauthorized_client", permanent: true });
    expect(upstream.requests).toHaveLength(0);
  });

  it("an account without a refresh token fails permanently without calling Google", async () => {
    const error = await refreshError(
      refresher().refresh(account({ refreshToken: undefined }), new AbortController().signal),
    );
    expect(error).toMatchObject({ code: "no_refresh_token", permanent: true });
    expect(upstream.requests).toHaveLength(0);
  });

  it("5xx is transient, with retryAfterMs from retry-after", async () => {
    upstream.on("POST", "/token", { status: 503, headers: { "retry-after": "7" }, json: fixtureJson("token-server-error.json") });
    const error = await refreshError(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "server", permanent: false, retryAfterMs: 7_000 });
  });

  it("429 is transient", async () => {
    upstream.on("POST", "/token", { status: 429, json: { error: "rate_limit_exceeded" } });
    const error = await refreshError(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "rate_limited", permanent: false });
  });

  it("a dropped connection is transient", async () => {
    upstream.on("POST", "/token", { drop: true });
    const error = await refreshError(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "network", permanent: false });
  });

  it("a 200 without an access token is transient invalid_response", async () => {
    upstream.on("POST", "/token", { json: { token_type: "Bearer", expires_in: 3599 } });
    const error = await refreshError(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "invalid_response", permanent: false });
  });

  it("times out", async () => {
    upstream.on("POST", "/token", { hang: true });
    const error = await refreshError(refresher({ timeoutMs: 150 }).refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "timeout", permanent: false });
  });

  it("honours the abort signal", async () => {
    upstream.on("POST", "/token", { hang: true });
    const controller = new AbortController();
    const pending = refresher({ timeoutMs: 30_000 }).refresh(account(), controller.signal);
    await upstream.waitForRequests(1, "/token");
    controller.abort(new Error("shutting down"));
    const error = await refreshError(pending);
    expect(error).toMatchObject({ code: "aborted", permanent: false });
  });
});
