import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, paths, startTestGateway, tokenReply, type TestGateway } from "./harness";

describe("Anthropic SDK against the embedded gateway", () => {
  let harness: TestGateway;
  let client: Anthropic;
  const refreshes = { count: 0 };

  beforeAll(async () => {
    harness = await startTestGateway();
    harness.upstream.on("POST", paths.claudeMessages, claudeReply).on("POST", paths.claudeToken, tokenReply(refreshes));
    const { key } = await harness.seed({
      platform: "claude",
      accounts: [{ type: "oauth", credentials: { accessToken: "seed-access", refreshToken: "seed-refresh", expiresAt: Date.now() + 3_600_000 } }],
    });
    client = new Anthropic({ apiKey: key, baseURL: harness.url, maxRetries: 0 });
  });
  afterAll(async () => harness?.close());

  it("relays a message", async () => {
    const message = await client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 64,
      messages: [{ role: "user", content: "Hello" }],
    });
    expect(message.type).toBe("message");
    expect(message.content[0]?.type).toBe("text");
    const sent = harness.upstream.requestsTo(paths.claudeMessages).at(-1)!;
    expect(sent.headers.authorization).toBe("Bearer seed-access");
    expect(String(sent.headers["anthropic-beta"])).toContain("oauth-2025-04-20");
    expect(sent.headers["x-api-key"]).toBeUndefined();
  });

  it("streams a message", async () => {
    const stream = client.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 64,
      messages: [{ role: "user", content: "Hello" }],
    });
    const final = await stream.finalMessage();
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it("rejects a wrong key with an Anthropic-shaped 401", async () => {
    const wrong = new Anthropic({ apiKey: "sr-wrong", baseURL: harness.url, maxRetries: 0 });
    const error = await wrong.messages
      .create({ model: "claude-sonnet-4-5", max_tokens: 8, messages: [{ role: "user", content: "x" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({
      type: "error",
      error: { type: "authentication_error" },
    });
  });
});
