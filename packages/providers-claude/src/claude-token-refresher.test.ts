import { join } from "node:path";
import { FakeUpstream, readFixture } from "@subrelay/providers-core/testing";
import { type TokenAccount, TokenRefreshError } from "@subrelay/token-cache";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultClaudeClientId } from "./claude-defaults";
import { createClaudeProvider } from "./claude-provider";
import { ClaudeTokenRefresher } from "./claude-token-refresher";

const fixtures = join(import.meta.dirname, "__fixtures__");
const tokenResponse = JSON.parse(readFixture(fixtures, "token-response.json")) as Record<string, unknown>;
const now = Date.UTC(2025, 9, 1, 8, 0, 0);
const oldAccessToken = "sk-ant-oat01-OLD-ACCESS-TOKEN-0123456789";
const oldRefreshToken = "sk-ant-ort01-OLD-REFRESH-TOKEN-0123456789";

let upstream: FakeUpstream;

beforeEach(async () => {
  upstream = await FakeUpstream.start();
});

afterEach(async () => {
  await upstream.close();
});

function account(credentials: Partial<TokenAccount["credentials"]> = {}): TokenAccount {
  return {
    id: "42",
    platform: "claude",
    credentials: { accessToken: oldAccessToken, refreshToken: oldRefreshToken, expiresAt: now - 1, subscription: "max", ...credentials },
  };
}

function refresher(timeoutMs = 5_000) {
  return new ClaudeTokenRefresher({ tokenUrl: `${upstream.url}/v1/oauth/token`, timeoutMs, now: () => now });
}

async function refreshFailure(promise: Promise<unknown>): Promise<TokenRefreshError> {
  try {
    await promise;
  } catch (error) {
    expect(TokenRefreshError.isInstance(error)).toBe(true);
    const refreshError = error as TokenRefreshError;
    for (const secret of [oldAccessToken, oldRefreshToken, "NEW-ACCESS-TOKEN", "NEW-REFRESH-TOKEN"]) {
      expect(refreshError.message).not.toContain(secret);
      expect(refreshError.stack ?? "").not.toContain(secret);
    }
    return refreshError;
  }
  throw new Error("expected the refresh to fail");
}

describe("ClaudeTokenRefresher", () => {
  it("keys the cache by account", () => {
    expect(refresher().cacheKey(account())).toBe("claude:account:42");
  });

  it("sends Claude Code's refresh grant as JSON and maps the answer", async () => {
    upstream.on("POST", "/v1/oauth/token", { json: tokenResponse });
    const credentials = await refresher().refresh(account(), new AbortController().signal);
    const [recorded] = upstream.requestsTo("/v1/oauth/token");
    expect(recorded!.headers["content-type"]).toBe("application/json");
    expect(recorded!.json()).toEqual({ grant_type: "refresh_token", refresh_token: oldRefreshToken, client_id: defaultClaudeClientId });
    expect(credentials).toEqual({
      accessToken: tokenResponse.access_token,
      refreshToken: tokenResponse.refresh_token,
      expiresAt: now + 28_800_000,
      scope: "user:inference user:profile",
      subscription: "max",
      accountUuid: "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f50",
      organizationUuid: "7f6c1a2e-0f3b-4f5e-9d2a-1b2c3d4e5f60",
    });
  });

  it("follows refresh-token rotation: the next refresh sends the rotated token", async () => {
    upstream.enqueue(
      "POST",
      "/v1/oauth/token",
      { json: { access_token: "at-1", refresh_token: "rt-1", expires_in: 3600 } },
      { json: { access_token: "at-2", refresh_token: "rt-2", expires_in: 3600 } },
    );
    const first = await refresher().refresh(account(), new AbortController().signal);
    const second = await refresher().refresh({ ...account(), credentials: first }, new AbortController().signal);
    expect(upstream.requests.map((request) => request.json<{ refresh_token: string }>().refresh_token)).toEqual([oldRefreshToken, "rt-1"]);
    expect(second).toMatchObject({ accessToken: "at-2", refreshToken: "rt-2" });
  });

  it("keeps the old refresh token when none is returned", async () => {
    upstream.on("POST", "/v1/oauth/token", { json: { token_type: "Bearer", access_token: "at-3", expires_in: 600 } });
    const credentials = await refresher().refresh(account(), new AbortController().signal);
    expect(credentials).toMatchObject({ accessToken: "at-3", refreshToken: oldRefreshToken, expiresAt: now + 600_000 });
  });

  it("fails permanently on invalid_grant", async () => {
    upstream.on("POST", "/v1/oauth/token", { status: 400, body: readFixture(fixtures, "token-invalid-grant.json"), headers: { "content-type": "application/json" } });
    const error = await refreshFailure(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "invalid_grant", permanent: true, status: 400 });
    expect(error.message).toContain("Refresh token not found or invalid");
  });

  it("fails permanently, without a request, when the account has no refresh token", async () => {
    const error = await refreshFailure(refresher().refresh(account({ refreshToken: undefined }), new AbortController().signal));
    expect(error).toMatchObject({ code: "no_refresh_token", permanent: true });
    expect(upstream.requests).toHaveLength(0);
  });

  it("fails transiently on a 500", async () => {
    upstream.on("POST", "/v1/oauth/token", { status: 500, json: JSON.parse(readFixture(fixtures, "error-api.json")) });
    const error = await refreshFailure(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "server", permanent: false, status: 500 });
  });

  it("fails transiently on a 429, with the server's retry-after", async () => {
    upstream.on("POST", "/v1/oauth/token", { status: 429, headers: { "retry-after": "30" }, json: JSON.parse(readFixture(fixtures, "error-rate-limit.json")) });
    const error = await refreshFailure(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "rate_limited", permanent: false, retryAfterMs: 30_000 });
  });

  it("times out a token endpoint that never answers", async () => {
    upstream.on("POST", "/v1/oauth/token", { hang: true });
    const error = await refreshFailure(refresher(50).refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "timeout", permanent: false });
  });

  it("honours the abort signal", async () => {
    upstream.on("POST", "/v1/oauth/token", { hang: true });
    const controller = new AbortController();
    const pending = refresher().refresh(account(), controller.signal);
    await upstream.waitForRequests(1);
    controller.abort();
    const error = await refreshFailure(pending);
    expect(error).toMatchObject({ code: "aborted", permanent: false });
  });

  it("fails transiently when the connection drops", async () => {
    upstream.on("POST", "/v1/oauth/token", { drop: true });
    const error = await refreshFailure(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "network", permanent: false });
  });

  it("fails with invalid_response when the answer has no access token", async () => {
    upstream.on("POST", "/v1/oauth/token", { json: { token_type: "Bearer", refresh_token: "sk-ant-ort01-NEW-REFRESH-TOKEN" } });
    const error = await refreshFailure(refresher().refresh(account(), new AbortController().signal));
    expect(error).toMatchObject({ code: "invalid_response", permanent: false });
  });

  it("is the provider's refresher, configured from the provider's options", async () => {
    upstream.on("POST", "/custom/token", { json: { access_token: "at-p", expires_in: 60 } });
    const provider = createClaudeProvider({ tokenUrl: `${upstream.url}/custom/token`, clientId: "my-client", now: () => now });
    const credentials = await provider.refresher.refresh(account(), new AbortController().signal);
    expect(credentials).toMatchObject({ accessToken: "at-p", expiresAt: now + 60_000 });
    expect(upstream.requests[0]!.json()).toMatchObject({ client_id: "my-client" });
    expect(provider.refresher.cacheKey(account())).toBe("claude:account:42");
  });
});
