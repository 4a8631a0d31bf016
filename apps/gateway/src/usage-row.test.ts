import type { ModelPrice, Usage } from "@subrelay/providers-core";
import { describe, expect, it } from "vitest";
import { usageRow, type RowPricing, type UsageOutcome } from "./usage-row";

const haiku: ModelPrice = { model: "claude-haiku-4-5", inputUsdPerMTok: 1, outputUsdPerMTok: 5, cacheReadUsdPerMTok: 0.1, cacheWrite5mUsdPerMTok: 1.25, cacheWrite1hUsdPerMTok: 2 };
const opus: ModelPrice = { model: "claude-opus-4-5", inputUsdPerMTok: 5, outputUsdPerMTok: 25, cacheReadUsdPerMTok: 0.5, cacheWrite5mUsdPerMTok: 6.25, cacheWrite1hUsdPerMTok: 10 };

function pricing(prices: readonly ModelPrice[]): RowPricing & { unpriced: string[]; asked: string[] } {
  const unpriced: string[] = [];
  const asked: string[] = [];
  return {
    unpriced,
    asked,
    price(model) {
      asked.push(model);
      return prices.find((price) => model.startsWith(price.model));
    },
    noteUnpriced: (model) => void unpriced.push(model),
  };
}

const usage: Usage = { model: "claude-haiku-4-5-20251001", inputTokens: 100, outputTokens: 10, cacheReadTokens: 1_000, cacheWriteTokens: 300, cacheWrite1hTokens: 200 };
const outcome: UsageOutcome = {
  requestId: "r1",
  apiKeyId: "7",
  groupId: 1,
  accountId: "3",
  platform: "claude",
  model: "claude-haiku-4-5",
  stream: false,
  status: 200,
  startedAt: 1_000,
  endedAt: 1_250,
  ttfbMs: null,
  usage,
};

describe("usageRow", () => {
  it("costs the row by the model the upstream reported, with the token classes that made the cost", () => {
    const row = usageRow(outcome, pricing([haiku]));
    expect(row).toMatchObject({
      model: "claude-haiku-4-5-20251001",
      upstreamModel: null,
      cacheWriteTokens: 300,
      cacheWrite5mTokens: 100,
      cacheWrite1hTokens: 200,
      unpriced: false,
      durationMs: 250,
    });
    expect(row.costUsd).toBeCloseTo((100 * 1 + 10 * 5 + 1_000 * 0.1 + 100 * 1.25 + 200 * 2) / 1e6, 15);
  });

  it("falls back to the model the account was sent, then the client's, and keeps the sent name", () => {
    const prices = pricing([opus]);
    const row = usageRow({ ...outcome, model: "house-model", upstreamModel: "claude-opus-4-5", usage: { ...usage, model: "preview-build" } }, prices);
    expect(prices.asked).toEqual(["preview-build", "claude-opus-4-5"]);
    expect(row).toMatchObject({ model: "preview-build", upstreamModel: "claude-opus-4-5", unpriced: false });
    expect(row.costUsd).toBeGreaterThan(0);
    const byClient = usageRow({ ...outcome, model: "claude-opus-4-5", usage: { ...usage, model: "preview-build" } }, pricing([opus]));
    expect(byClient.unpriced).toBe(false);
  });

  it("a row with tokens and no price costs 0, is unpriced and noted; a row without tokens is neither", () => {
    const prices = pricing([]);
    expect(usageRow(outcome, prices)).toMatchObject({ costUsd: 0, unpriced: true });
    expect(prices.unpriced).toEqual(["claude-haiku-4-5-20251001"]);
    const refused = pricing([]);
    expect(usageRow({ ...outcome, status: 429, usage: undefined }, refused)).toMatchObject({ costUsd: 0, unpriced: false, inputTokens: 0, cacheWrite5mTokens: 0 });
    expect(usageRow({ ...outcome, usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 } }, refused).unpriced).toBe(false);
    expect(refused.unpriced).toEqual([]);
  });

  it("never stores more 1-hour writes than writes", () => {
    const row = usageRow({ ...outcome, usage: { ...usage, cacheWriteTokens: 50, cacheWrite1hTokens: 80 } }, pricing([haiku]));
    expect(row).toMatchObject({ cacheWriteTokens: 50, cacheWrite5mTokens: 0, cacheWrite1hTokens: 50 });
  });
});
