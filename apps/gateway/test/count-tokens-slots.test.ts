import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeStreamEvents, deferred, startTestGateway, type TestGateway } from "./harness";

/**
 * Claude Code's `/context` fires ~14 parallel `count_tokens` calls, often while a generation runs: token
 * counting is cheap and holds no generation slot, so a busy account still counts tokens for its client.
 */
describe("count_tokens and concurrency slots (embedded)", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    // No waiting for a slot: a second generation is refused at once rather than queued (see wait-queue.test.ts).
    harness = await startTestGateway({ env: { WAIT_TIMEOUT: "0", STICKY_WAIT_TIMEOUT: "0" } });
  });
  afterAll(async () => harness?.close());

  const post = (key: string, path: string, body: Record<string, unknown>) =>
    fetch(`${harness.url}${path}`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const message = { model: "claude-opus-4-5", max_tokens: 16, messages: [{ role: "user", content: "Hi" }] };

  it("14 parallel count_tokens calls all answer while the account's only slot serves a stream", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", concurrency: 1, credentials: { apiKey: "sk-ant-slots" }, baseUrl: `${harness.upstream.url}/ct` }],
    });
    const streamHeld = deferred();
    harness.upstream
      .on("POST", "/ct/v1/messages", { sse: claudeStreamEvents(), waitFor: streamHeld.promise })
      .on("POST", "/ct/v1/messages/count_tokens", { json: { input_tokens: 2095 } });

    const streaming = await post(seeded.key, "/v1/messages", { ...message, stream: true });
    try {
      await expectCountsServed(seeded.key);
    } finally {
      streamHeld.resolve();
    }
    expect(streaming.status).toBe(200);
    expect(await streaming.text()).toContain("message_stop");
  });

  const expectCountsServed = async (key: string) => {

    const counts = await Promise.all(Array.from({ length: 14 }, () => post(key, "/v1/messages/count_tokens", message)));
    const statuses = counts.map((response) => response.status);
    expect(statuses).toEqual(Array.from({ length: 14 }, () => 200));
    expect(await counts[0]!.json()).toEqual({ input_tokens: 2095 });

    // Generation is still limited by the slot.
    const second = await post(key, "/v1/messages", message);
    expect(second.status).toBe(429);
    await second.text();
  };
});
