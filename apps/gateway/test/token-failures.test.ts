import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codexReply, leakedSecrets, paths, startTestGateway, TokenEndpoint, type TestGateway } from "./harness";

const hour = 3_600_000;

/**
 * An OAuth account whose token cannot be refreshed is not a rate limit: the request fails over to another
 * account, and when none is left the client gets a 503 whose reason says what happened
 * (`upstream_auth_failed`), without `Retry-After` pretending a limit resets.
 */
describe("token refresh failures (embedded)", () => {
  let harness: TestGateway;
  const tokens = new TokenEndpoint();
  /** Refresh tokens the fake token endpoint refuses, with its answer. */
  const refused = new Map<string, { status: number; json: unknown }>([
    ["rt-invalid-grant", { status: 400, json: { error: "invalid_grant", error_description: "Refresh token not found or invalid" } }],
    ["rt-server-error", { status: 500, json: { error: "server_error" } }],
    ["rt-failing-first", { status: 500, json: { error: "server_error" } }],
  ]);

  beforeAll(async () => {
    harness = await startTestGateway();
    harness.upstream.on("POST", paths.openaiToken, (request) => refused.get(request.json<{ refresh_token: string }>().refresh_token) ?? tokens.reply(request));
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const expired = (refreshToken: string) => ({
    type: "oauth" as const,
    credentials: { accessToken: `stale-${refreshToken}`, refreshToken, expiresAt: Date.now() - 1_000, accountId: "chatgpt-1" },
  });
  const codexCall = (key: string) =>
    fetch(`${harness.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5", input: "Hi", stream: true }),
    });

  it.each(["rt-invalid-grant", "rt-server-error"])("one account whose refresh fails (%s): 503 upstream_auth_failed, not a rate limit", async (refreshToken) => {
    const seeded = await harness.seed({ platform: "openai", accounts: [{ ...expired(refreshToken), baseUrl: base(`tf-${refreshToken}`) }] });
    const response = await codexCall(seeded.key);
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBeNull();
    expect(JSON.parse(text)).toMatchObject({ error: { type: "server_error", code: "upstream_auth_failed" } });
    expect(leakedSecrets(text, [refreshToken, `stale-${refreshToken}`, seeded.key])).toEqual([]);
    expect(harness.upstream.requestsTo(`/tf-${refreshToken}/responses`)).toEqual([]);
  });

  it("two accounts, one refresh fails: the other serves", async () => {
    const seeded = await harness.seed({
      platform: "openai",
      accounts: [
        { ...expired("rt-failing-first"), priority: 1, baseUrl: base("tf-first") },
        {
          type: "oauth",
          priority: 2,
          credentials: { accessToken: "good-access", refreshToken: "rt-good", expiresAt: Date.now() + hour, accountId: "chatgpt-2" },
          baseUrl: base("tf-second"),
        },
      ],
    });
    harness.upstream.on("POST", "/tf-second/responses", codexReply);
    const response = await codexCall(seeded.key);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("response.completed");
    expect(harness.upstream.requestsTo("/tf-first/responses")).toEqual([]);
    expect(harness.upstream.requestsTo("/tf-second/responses")).toHaveLength(1);
  });

  it("an account the refresh worker cooled down (its refresh keeps failing) is a 503 upstream_auth_failed, not a 429", async () => {
    const seeded = await harness.seed({ platform: "openai", accounts: [{ ...expired("rt-cooled"), baseUrl: base("tf-cooled") }] });
    const id = seeded.accountIds[0]!;
    const until = Date.now() + 600_000;
    // What the refresh worker does after failed refreshes (markTempUnschedulable), as the scheduler cache holds it.
    await harness.gateway.database.accounts.markTempUnschedulable(id, until, "token refresh failing: server");
    const snapshot = await harness.gateway.scheduler.getAccount(id);
    await harness.gateway.scheduler.setAccount({ ...snapshot!, tempUnschedulableUntil: until, stateVersion: (snapshot!.stateVersion ?? 0) + 1 });

    const response = await codexCall(seeded.key);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { type: "server_error", code: "upstream_auth_failed" } });
  });
});
