import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, claudeReply, startTestGateway, TokenEndpoint, type TestGateway } from "./harness";

const MODEL = "claude-opus-4-5";
const hour = 3_600_000;

/**
 * An operator replaces an OAuth account's credentials (PATCH /admin/accounts/{id}): the very next request
 * goes upstream with the new token, although the old one is still valid for hours and sits in this
 * process's few seconds of token memory and in the shared token cache (in memory, or Redis).
 */
describe.each(backends)("credential replacement (%s)", (backend) => {
  let harness: TestGateway;
  const tokens = new TokenEndpoint();

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    tokens.install(harness.upstream);
  });
  afterAll(async () => harness?.close());

  const seedOAuth = async (prefix: string, accessToken: string, refreshToken: string) => {
    harness.upstream.on("POST", `/${prefix}/v1/messages`, claudeReply);
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken, refreshToken, expiresAt: Date.now() + 2 * hour },
          baseUrl: `${harness.upstream.url}/${prefix}`,
        },
      ],
    });
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    const ask = () => client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    const sentTokens = () => harness.upstream.requestsTo(`/${prefix}/v1/messages`).map((request) => request.headers.authorization);
    return { accountId: seeded.accountIds[0]!, ask, sentTokens };
  };

  it("the next request after a PATCH of the access token reaches the upstream with the new token", async () => {
    const { accountId, ask, sentTokens } = await seedOAuth(`replace-${backend}`, "access-A", "refresh-A");
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(sentTokens()).toEqual(["Bearer access-A", "Bearer access-A"]);

    const patched = await harness.admin("PATCH", `/admin/accounts/${accountId}`, {
      credentials: { accessToken: "access-B", refreshToken: "refresh-B", expiresAt: Date.now() + 2 * hour, tokenVersion: 1 },
    });
    expect(patched.status).toBe(200);

    await expect(ask()).resolves.toMatchObject({ type: "message" });
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(sentTokens()).toEqual(["Bearer access-A", "Bearer access-A", "Bearer access-B", "Bearer access-B"]);
    // The operator's token was used as given: nothing was refreshed.
    expect([tokens.calls("refresh-A"), tokens.calls("refresh-B")]).toEqual([0, 0]);
  });

  it("a PATCH with only a new refresh token makes the next request refresh with it", async () => {
    const { accountId, ask, sentTokens } = await seedOAuth(`rt-only-${backend}`, "access-C", "refresh-C");
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(sentTokens()).toEqual(["Bearer access-C"]);

    const patched = await harness.admin("PATCH", `/admin/accounts/${accountId}`, { credentials: { refreshToken: "refresh-D" } });
    expect(patched.status).toBe(200);

    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(sentTokens()).toEqual(["Bearer access-C", "Bearer fresh-refresh-D-1"]);
    expect([tokens.calls("refresh-C"), tokens.calls("refresh-D")]).toEqual([0, 1]);
  });
});
