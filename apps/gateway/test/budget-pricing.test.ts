import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { backends, paths, startTestGateway, type TestGateway } from "./harness";

/**
 * A key's budget charged at the price book's prices (issue 17's proof, no cost injected): a $0.05 daily budget on a
 * model the operator priced at $1,000 / MTok; each answer reports 18 tokens ($0.018), so three pass (the third
 * crosses the budget and is billed) and the fourth is refused.
 */
const MODEL = "subrelay-budget-test-model";
const PRICE = { inputUsdPerMTok: 1000, outputUsdPerMTok: 1000, cacheReadUsdPerMTok: 1000, cacheWrite5mUsdPerMTok: 1000, cacheWrite1hUsdPerMTok: 1000 };

function eighteenTokens(request: RecordedRequest) {
  const { model } = request.json<{ model: string }>();
  return {
    json: {
      id: "msg_budget",
      type: "message",
      role: "assistant",
      model,
      content: [{ type: "text", text: "ok" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 8 },
    },
  };
}

for (const backend of backends) {
  describe(`a key's budget at the operator's prices (${backend})`, () => {
    let harness: TestGateway;
    beforeAll(async () => {
      harness = await startTestGateway({ backend });
      harness.upstream.on("POST", paths.claudeMessages, eighteenTokens);
    });
    afterAll(async () => harness?.close());

    it("a $0.05 daily budget at $1,000 / MTok: three 18-token requests pass, the fourth gets a 429 naming the budget", async () => {
      expect((await harness.admin("PUT", `/admin/pricing/${MODEL}`, PRICE)).status).toBe(200);
      const seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-budget" } }] });
      expect((await harness.admin("PATCH", `/admin/api-keys/${seeded.keyId}`, { limits: { costPerDayUsd: 0.05 } })).status).toBe(200);
      const send = async () => {
        const response = await fetch(`${harness.url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": seeded.key, "anthropic-version": "2023-06-01" },
          body: JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
        });
        const body = (await response.json()) as { error?: { type: string; message: string } };
        await harness.gateway.settleSlots();
        return { status: response.status, retryAfter: response.headers.get("retry-after"), body };
      };
      for (let index = 0; index < 3; index++) expect((await send()).status, `request ${index + 1}`).toBe(200);
      const refused = await send();
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({ type: "rate_limit_error", message: expect.stringMatching(/costPerDayUsd of \$0\.05 reached/) });
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);

      await harness.gateway.usage.flush();
      const usage = await harness.admin<{ data: Array<{ key: string | null; requests: number; costUsd: number }> }>("GET", "/admin/usage?groupBy=key");
      const row = usage.body.data.find((entry) => entry.key === String(seeded.keyId));
      expect(row).toMatchObject({ requests: 4 });
      expect(row!.costUsd).toBeCloseTo(0.054, 9);
    });
  });
}
