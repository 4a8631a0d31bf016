import { TokenRefreshError, type TokenRefreshErrorCode } from "@subrelay/token-cache";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeUpstream, type Reply } from "./fake-upstream";
import { credentialsFromTokenResponse, requestToken, requireRefreshToken, type TokenRequestOptions } from "./token-request";

const refreshToken = "rt-secret-0123456789";
const now = Date.UTC(2025, 5, 1, 12, 0, 0);
let upstream: FakeUpstream;

beforeEach(async () => {
  upstream = await FakeUpstream.start();
});

afterEach(async () => {
  await upstream.close();
});

function options(overrides: Partial<TokenRequestOptions> = {}): TokenRequestOptions {
  return {
    url: `${upstream.url}/oauth/token`,
    body: { grant_type: "refresh_token", refresh_token: refreshToken, client_id: "client-1" },
    encoding: "json",
    timeoutMs: 5_000,
    signal: new AbortController().signal,
    now: () => now,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<TokenRefreshError> {
  try {
    await promise;
  } catch (error) {
    expect(TokenRefreshError.isInstance(error)).toBe(true);
    const refreshError = error as TokenRefreshError;
    expect(refreshError.message).not.toContain(refreshToken);
    return refreshError;
  }
  throw new Error("expected a TokenRefreshError");
}

describe("requestToken", () => {
  it("POSTs JSON and returns the endpoint's object", async () => {
    upstream.on("POST", "/oauth/token", { json: { access_token: "at", expires_in: 3600 } });
    const json = await requestToken(options({ headers: { "user-agent": "subrelay-test" } }));
    expect(json).toEqual({ access_token: "at", expires_in: 3600 });
    const [recorded] = upstream.requests;
    expect(recorded!.headers["content-type"]).toBe("application/json");
    expect(recorded!.headers["user-agent"]).toBe("subrelay-test");
    expect(recorded!.json()).toEqual({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: "client-1" });
  });

  it("POSTs a form when asked", async () => {
    upstream.on("POST", "/oauth/token", { json: { access_token: "at" } });
    await requestToken(options({ encoding: "form" }));
    const [recorded] = upstream.requests;
    expect(recorded!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(recorded!.body))).toEqual({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: "client-1",
    });
  });

  const table: Array<{ name: string; reply: Reply; code: TokenRefreshErrorCode; permanent: boolean; retryAfterMs?: number }> = [
    { name: "400 invalid_grant", reply: { status: 400, json: { error: "invalid_grant", error_description: "Refresh token not found or invalid" } }, code: "invalid_grant", permanent: true },
    { name: "400 invalid_refresh_token", reply: { status: 400, json: { error: "invalid_refresh_token" } }, code: "invalid_grant", permanent: true },
    { name: "401 OpenAI refresh_token_reused", reply: { status: 401, json: { error: { message: "Your refresh token has already been used to generate a new access token.", type: "invalid_request_error", param: null, code: "refresh_token_reused" } } }, code: "invalid_grant", permanent: true },
    { name: "400 Google revoked", reply: { status: 400, json: { error: "invalid_grant", error_description: "Token has been expired or revoked." } }, code: "invalid_grant", permanent: true },
    { name: "400 revoked message only", reply: { status: 400, json: { error: "invalid_request", error_description: "The refresh token was revoked" } }, code: "invalid_grant", permanent: true },
    { name: "401 unauthorized_client", reply: { status: 401, json: { error: "unauthorized_client" } }, code: "unauthorized_client", permanent: true },
    { name: "403 access_denied", reply: { status: 403, json: { error: "access_denied" } }, code: "unauthorized_client", permanent: true },
    { name: "400 invalid_client", reply: { status: 400, json: { error: "invalid_client", error_description: "Client authentication failed" } }, code: "unauthorized_client", permanent: true },
    { name: "400 other", reply: { status: 400, json: { error: "invalid_request" } }, code: "unknown", permanent: false },
    { name: "429 retry-after seconds", reply: { status: 429, headers: { "retry-after": "17" }, json: { error: "rate_limited" } }, code: "rate_limited", permanent: false, retryAfterMs: 17_000 },
    { name: "429 retry-after date", reply: { status: 429, headers: { "retry-after": new Date(now + 90_000).toUTCString() }, body: "slow down" }, code: "rate_limited", permanent: false, retryAfterMs: 90_000 },
    { name: "429 without retry-after", reply: { status: 429, body: "" }, code: "rate_limited", permanent: false },
    { name: "500", reply: { status: 500, json: { error: { type: "api_error", message: "Internal server error" } } }, code: "server", permanent: false },
    { name: "503 invalid_grant body stays transient", reply: { status: 503, json: { error: "invalid_grant" } }, code: "server", permanent: false },
    { name: "502 html", reply: { status: 502, headers: { "content-type": "text/html" }, body: "<html>Bad Gateway</html>" }, code: "server", permanent: false },
    { name: "200 not JSON", reply: { status: 200, headers: { "content-type": "text/html" }, body: "<html>login</html>" }, code: "invalid_response", permanent: false },
    { name: "200 JSON array", reply: { status: 200, json: [1, 2] }, code: "invalid_response", permanent: false },
    { name: "dropped connection", reply: { drop: true }, code: "network", permanent: false },
  ];

  for (const row of table) {
    it(`maps ${row.name} to ${row.code}${row.permanent ? " (permanent)" : ""}`, async () => {
      upstream.on("POST", "/oauth/token", row.reply);
      const error = await failure(requestToken(options()));
      expect(error.code).toBe(row.code);
      expect(error.permanent).toBe(row.permanent);
      expect(error.retryAfterMs).toBe(row.retryAfterMs);
      if ("status" in row.reply) expect(error.status).toBe(row.reply.status);
    });
  }

  it("keeps the status and OAuth code in the message, redacting request values the endpoint echoes", async () => {
    upstream.on("POST", "/oauth/token", {
      status: 400,
      json: { error: "invalid_grant", error_description: `refresh_token ${refreshToken} is not valid for client-1` },
    });
    const error = await failure(requestToken(options({ headers: { "x-secret-header": "header-secret-value" } })));
    expect(error.message).toBe("Token endpoint answered 400 invalid_grant: refresh_token [redacted] is not valid for client-1");
  });

  it("maps a refused connection to network", async () => {
    const closed = await FakeUpstream.start();
    const url = `${closed.url}/oauth/token`;
    await closed.close();
    const error = await failure(requestToken(options({ url })));
    expect(error.code).toBe("network");
    expect(error.permanent).toBe(false);
  });

  it("times out a hanging endpoint", async () => {
    upstream.on("POST", "/oauth/token", { hang: true });
    const error = await failure(requestToken(options({ timeoutMs: 50 })));
    expect(error.code).toBe("timeout");
    expect(error.permanent).toBe(false);
  });

  it("times out a body that never finishes", async () => {
    upstream.on("POST", "/oauth/token", { sse: ['{"access_token":', "never"], waitFor: new Promise(() => undefined) });
    const error = await failure(requestToken(options({ timeoutMs: 50 })));
    expect(error.code).toBe("timeout");
  });

  it("aborts when the caller's signal aborts mid-request", async () => {
    upstream.on("POST", "/oauth/token", { hang: true });
    const controller = new AbortController();
    const pending = requestToken(options({ signal: controller.signal }));
    await upstream.waitForRequests(1);
    controller.abort();
    const error = await failure(pending);
    expect(error.code).toBe("aborted");
  });

  it("fails at once with an already aborted signal, without a request", async () => {
    const error = await failure(requestToken(options({ signal: AbortSignal.abort() })));
    expect(error.code).toBe("aborted");
    expect(upstream.requests).toHaveLength(0);
  });
});

describe("credentialsFromTokenResponse", () => {
  const previous = { accessToken: "old-at", refreshToken: "old-rt", expiresAt: 1, scope: "old", projectId: "p-1" };

  it("maps tokens, expiry and scope, keeping extras", () => {
    expect(
      credentialsFromTokenResponse({ access_token: "new-at", refresh_token: "new-rt", expires_in: 3600, scope: "a b", token_type: "Bearer" }, previous, now),
    ).toEqual({ accessToken: "new-at", refreshToken: "new-rt", expiresAt: now + 3_600_000, scope: "a b", projectId: "p-1" });
  });

  it("keeps the old refresh token when none is returned, and reads id_token and string expires_in", () => {
    expect(credentialsFromTokenResponse({ access_token: "new-at", expires_in: "60", id_token: "header.payload.sig" }, previous, now)).toEqual({
      accessToken: "new-at",
      refreshToken: "old-rt",
      expiresAt: now + 60_000,
      scope: "old",
      projectId: "p-1",
      idToken: "header.payload.sig",
    });
  });

  it("drops a stale expiry when the endpoint gives none", () => {
    expect(credentialsFromTokenResponse({ access_token: "new-at" }, previous, now)).not.toHaveProperty("expiresAt");
  });

  it("requires an access token", () => {
    for (const json of [{}, { access_token: "" }, { access_token: 5 }]) {
      let thrown: unknown;
      try {
        credentialsFromTokenResponse(json, previous, now);
      } catch (error) {
        thrown = error;
      }
      expect(TokenRefreshError.isInstance(thrown)).toBe(true);
      expect((thrown as TokenRefreshError).code).toBe("invalid_response");
    }
  });
});

describe("requireRefreshToken", () => {
  it("returns the account's refresh token", () => {
    expect(requireRefreshToken({ id: "7", platform: "claude", credentials: { accessToken: "a", refreshToken: "r" } }, "Claude")).toBe("r");
  });

  it("fails permanently with no_refresh_token when there is none, naming the platform and account", () => {
    for (const refreshToken of [undefined, ""]) {
      const account = { id: "7", platform: "claude", credentials: { accessToken: "a", refreshToken } };
      expect(() => requireRefreshToken(account, "Claude")).toThrowError(
        expect.objectContaining({ code: "no_refresh_token", permanent: true, message: "Claude account 7 has no refresh token" }),
      );
    }
  });
});

