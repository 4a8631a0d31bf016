import { describe, expect, it } from "vitest";
import { costOf } from "./cost-of";
import type { ModelPrice } from "./model-price";

// Claude Sonnet 4.5's list prices, with its long-context tier.
const sonnet: ModelPrice = {
  model: "claude-sonnet-4-5",
  inputUsdPerMTok: 3,
  outputUsdPerMTok: 15,
  cacheReadUsdPerMTok: 0.3,
  cacheWrite5mUsdPerMTok: 3.75,
  cacheWrite1hUsdPerMTok: 6,
  longContext: {
    aboveInputTokens: 200_000,
    inputUsdPerMTok: 6,
    outputUsdPerMTok: 22.5,
    cacheReadUsdPerMTok: 0.6,
    cacheWrite5mUsdPerMTok: 7.5,
    cacheWrite1hUsdPerMTok: 12,
  },
};
const { longContext: _tier, ...flat } = sonnet;
const none = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

describe("costOf", () => {
  it("bills each class at its own price, per million tokens", () => {
    expect(costOf({ ...none, inputTokens: 1_000_000 }, flat)).toBeCloseTo(3, 12);
    expect(costOf({ ...none, outputTokens: 1_000_000 }, flat)).toBeCloseTo(15, 12);
    expect(costOf({ ...none, inputTokens: 100, outputTokens: 50 }, sonnet)).toBeCloseTo((100 * 3 + 50 * 15) / 1e6, 15);
  });

  it("bug: cache reads not billed — they cost the cache-read price", () => {
    expect(costOf({ ...none, cacheReadTokens: 100_000 }, sonnet)).toBeCloseTo(0.03, 12);
  });

  it("bug: cache reads billed twice — they are not billed as input too", () => {
    // 10 uncached + 90 cached: the input price for 10, the cache-read price for 90, nothing else.
    expect(costOf({ ...none, inputTokens: 10, cacheReadTokens: 90 }, sonnet)).toBeCloseTo((10 * 3 + 90 * 0.3) / 1e6, 15);
  });

  it("bug: 5-minute and 1-hour cache writes both billed — the 1-hour ones only at the 1-hour price", () => {
    // 1,000 written: 400 for an hour, so 600 for five minutes.
    const cost = costOf({ ...none, cacheWriteTokens: 1_000, cacheWrite1hTokens: 400 }, sonnet);
    expect(cost).toBeCloseTo((600 * 3.75 + 400 * 6) / 1e6, 15);
    expect(cost).not.toBeCloseTo((1_000 * 3.75 + 400 * 6) / 1e6, 15);
  });

  it("bills writes without a split at the 5-minute price, and never more 1-hour writes than writes", () => {
    expect(costOf({ ...none, cacheWriteTokens: 1_000 }, sonnet)).toBeCloseTo((1_000 * 3.75) / 1e6, 15);
    expect(costOf({ ...none, cacheWriteTokens: 100, cacheWrite1hTokens: 500 }, sonnet)).toBeCloseTo((100 * 6) / 1e6, 15);
  });

  it("long-context tier: a prompt above 200k tokens bills every token at the tier's prices", () => {
    const at = { ...none, inputTokens: 150_000, cacheReadTokens: 40_000, cacheWriteTokens: 10_000, outputTokens: 1_000 };
    // Exactly 200,000 prompt tokens: the base prices.
    expect(costOf(at, sonnet)).toBeCloseTo((150_000 * 3 + 40_000 * 0.3 + 10_000 * 3.75 + 1_000 * 15) / 1e6, 12);
    // One more (a cache read counts towards the prompt): the tier's prices for all of it.
    const above = { ...at, cacheReadTokens: 40_001 };
    expect(costOf(above, sonnet)).toBeCloseTo((150_000 * 6 + 40_001 * 0.6 + 10_000 * 7.5 + 1_000 * 22.5) / 1e6, 12);
  });

  it("counts negative and non-finite counts as 0", () => {
    expect(costOf({ inputTokens: -5, outputTokens: Number.NaN, cacheReadTokens: Infinity, cacheWriteTokens: 0 }, sonnet)).toBe(0);
  });
});
