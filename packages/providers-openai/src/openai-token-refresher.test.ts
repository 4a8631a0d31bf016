import { FakeUpstream } from "@subrelay/providers-core/testing";
import { type TokenAccount, TokenRefreshError } from "@subrelay/token-cache";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OpenAITokenRefresher, codexClientId } from "./openai-token-refresher";

const now = 1_763_731_200_000;
const refreshToken = "rt_OldRefreshToken-9f8e7d6c5b4a";
const accessToken = "old-access-token-0123456789";

function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "RS256", typ: "JWT", kid: "test" })}.${encode(claims)}.c2lnbmF0dXJl`;
}

function idToken(accountId: string): string {
  return jwt({
    iss: "https://auth.openai.com",
    aud: [codexClientId],
    email: "dev@example.com",
    "https://api.openai.com/auth": {
      chatgpt_account_id: accountId,
      chatgpt_plan_type: "plus",
      user_id: "user-abc",
    },
  });
}

function account(credentials: Partial<TokenAccount["credentials"]> = {}): TokenAccount {
  return { id: "42", platform: "openai", credentials: { accessToken, refreshToken, ...credentials } };
}

let upstream: FakeUpstream;
let refresher: OpenAITokenRefresher;

beforeEach(async () => {
  upstream = await FakeUpstream.start();
  refresher = new OpenAITokenRefresher({
    tokenUrl: `${upstream.url}/oauth/token`,
    timeoutMs: 2_000,
    now: () => now,
  });
});

afterEach(async () => {
  await upstream.close();
});

async function refreshError(
  target: TokenAccount,
  signal = new AbortController().signal,
): Promise<TokenRefreshError> {
  const error: unknown = await refresher.refresh(target, signal).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  if (!TokenRefreshError.isInstance(error))
    throw new Error(`expected a TokenRefreshError, got ${String(error)}`);
  for (const secret of [refreshToken, accessToken, "rt_NewRefreshToken"])
    expect(error.message).not.toContain(secret);
  return error;
}

describe("OpenAITokenRefresher", () => {
  it("keys the cache by platform and account id", () => {
    expect(refresher.cacheKey(account())).toBe("openai:account:42");
  });

  it("posts the Codex refresh grant as JSON and maps a rotated token, expiry, id token and account id", async () => {
    const newIdToken = idToken("acc-7d1e2f3a");
    upstream.on("POST", "/oauth/token", {
      json: {
        access_token: "new-access-token",
        refresh_token: "rt_NewRefreshToken-1a2b3c",
        id_token: newIdToken,
        token_type: "Bearer",
        expires_in: 864_000,
        scope: "openid profile email",
      },
    });

    const credentials = await refresher.refresh(account({ plan: "plus" }), new AbortController().signal);

    const [request] = upstream.requestsTo("/oauth/token");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.json()).toEqual({
      client_id: codexClientId,
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      scope: "openid profile email",
    });
    expect(credentials).toMatchObject({
      accessToken: "new-access-token",
      refreshToken: "rt_NewRefreshToken-1a2b3c",
      expiresAt: now + 864_000_000,
      idToken: newIdToken,
      accountId: "acc-7d1e2f3a",
      plan: "plus",
    });
  });

  it("keeps the old refresh token and previous account id when the answer carries neither", async () => {
    upstream.on("POST", "/oauth/token", { json: { access_token: "new-access-token", expires_in: 3600 } });

    const credentials = await refresher.refresh(
      account({ accountId: "acc-previous" }),
      new AbortController().signal,
    );

    expect(credentials.refreshToken).toBe(refreshToken);
    expect(credentials.accountId).toBe("acc-previous");
    expect(credentials.expiresAt).toBe(now + 3_600_000);
  });

  it("takes the expiry from the access token's exp and the account id from its claims when the answer has no expires_in or id_token", async () => {
    const exp = Math.floor(now / 1000) + 86_400;
    const newAccessToken = jwt({
      exp,
      "https://api.openai.com/auth": { chatgpt_account_id: "acc-from-access" },
    });
    upstream.on("POST", "/oauth/token", {
      json: { access_token: newAccessToken, refresh_token: "rt_NewRefreshToken-2" },
    });

    const credentials = await refresher.refresh(
      account({ expiresAt: now - 1000 }),
      new AbortController().signal,
    );

    expect(credentials.expiresAt).toBe(exp * 1000);
    expect(credentials.accountId).toBe("acc-from-access");
    expect(credentials.refreshToken).toBe("rt_NewRefreshToken-2");
  });

  it("leaves expiresAt absent when neither expires_in nor a JWT access token says", async () => {
    upstream.on("POST", "/oauth/token", { json: { access_token: "opaque-token" } });

    const credentials = await refresher.refresh(
      account({ expiresAt: now - 1000 }),
      new AbortController().signal,
    );

    expect(credentials.expiresAt).toBeUndefined();
  });

  it.each([
    {
      name: "a reused refresh token",
      status: 401,
      body: {
        error: {
          message:
            "Your refresh token has already been used to generate a new access token. Please try signing in again.",
          type: "invalid_request_error",
          param: null,
          code: "refresh_token_reused",
        },
      },
      code: "invalid_grant",
    },
    {
      name: "an expired refresh token",
      status: 401,
      body: {
        error: {
          message: "Your refresh token has expired.",
          type: "invalid_request_error",
          code: "refresh_token_expired",
        },
      },
      code: "invalid_grant",
    },
    {
      name: "invalid_grant echoing the token",
      status: 400,
      body: { error: "invalid_grant", error_description: `Refresh token ${refreshToken} is invalid` },
      code: "invalid_grant",
    },
    {
      name: "an unknown client",
      status: 401,
      body: { error: "unauthorized_client" },
      code: "unauthorized_client",
    },
  ])("fails permanently on $name", async ({ status, body, code }) => {
    upstream.on("POST", "/oauth/token", { status, json: body });

    const error = await refreshError(account());

    expect(error).toMatchObject({ code, permanent: true, status });
  });

  it("fails permanently without a request when the account has no refresh token", async () => {
    const error = await refreshError(account({ refreshToken: undefined }));

    expect(error).toMatchObject({ code: "no_refresh_token", permanent: true });
    expect(upstream.requests).toHaveLength(0);
  });

  it.each([
    {
      name: "429 with retry-after",
      reply: {
        status: 429,
        headers: { "retry-after": "30" },
        json: { error: { message: "Too many requests" } },
      },
      code: "rate_limited",
      retryAfterMs: 30_000,
    },
    {
      name: "a 502",
      reply: { status: 502, body: "<html>502 Bad Gateway</html>" },
      code: "server",
      retryAfterMs: undefined,
    },
    {
      name: "a dropped connection",
      reply: { drop: true } as const,
      code: "network",
      retryAfterMs: undefined,
    },
    {
      name: "a 200 without an access token",
      reply: { status: 200, json: { token_type: "Bearer", expires_in: 3600 } },
      code: "invalid_response",
      retryAfterMs: undefined,
    },
    {
      name: "a 200 that is not JSON",
      reply: { status: 200, body: "<html>maintenance</html>" },
      code: "invalid_response",
      retryAfterMs: undefined,
    },
  ])("fails transiently on $name", async ({ reply, code, retryAfterMs }) => {
    upstream.on("POST", "/oauth/token", reply);

    const error = await refreshError(account());

    expect(error).toMatchObject({ code, permanent: false, retryAfterMs });
  });

  it("times out on an endpoint that never answers", async () => {
    refresher = new OpenAITokenRefresher({
      tokenUrl: `${upstream.url}/oauth/token`,
      timeoutMs: 150,
      now: () => now,
    });
    upstream.on("POST", "/oauth/token", { hang: true });

    const error = await refreshError(account());

    expect(error).toMatchObject({ code: "timeout", permanent: false });
  });

  it("honours the caller's abort signal", async () => {
    upstream.on("POST", "/oauth/token", { hang: true });
    const controller = new AbortController();

    const pending = refreshError(account(), controller.signal);
    await upstream.waitForRequests(1, "/oauth/token");
    controller.abort(new Error("shutting down"));

    await expect(pending).resolves.toMatchObject({ code: "aborted", permanent: false });
  });
});
