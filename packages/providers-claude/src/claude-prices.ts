import type { ModelPrice, PriceTable } from "@subrelay/providers-core";

/** Anthropic's multipliers of the input price: cache reads 0.1x, 5-minute writes 1.25x, 1-hour writes 2x. */
function claudePrice(model: string, input: number, output: number, longContext?: { input: number; output: number }): ModelPrice {
  const price: ModelPrice = {
    model,
    inputUsdPerMTok: input,
    outputUsdPerMTok: output,
    cacheReadUsdPerMTok: round(input * 0.1),
    cacheWrite5mUsdPerMTok: round(input * 1.25),
    cacheWrite1hUsdPerMTok: round(input * 2),
  };
  if (longContext === undefined) return price;
  return {
    ...price,
    longContext: {
      aboveInputTokens: 200_000,
      inputUsdPerMTok: longContext.input,
      outputUsdPerMTok: longContext.output,
      cacheReadUsdPerMTok: round(longContext.input * 0.1),
      cacheWrite5mUsdPerMTok: round(longContext.input * 1.25),
      cacheWrite1hUsdPerMTok: round(longContext.input * 2),
    },
  };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * Anthropic's public list prices (USD per million tokens) of the Claude models, as of `asOf`, from
 * `source`. List prices only: no batch discount, no negotiated rate, no data-residency or priority-tier
 * surcharge. They date; an operator overrides any of them (the gateway's `PUT /admin/pricing/{model}`).
 *
 * Ids are family prefixes: `claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929` and the alias alike.
 * Sonnet 4 and 4.5 have the long-context tier of the 1M-token window: a prompt above 200k tokens (input,
 * cache reads and cache writes together) is billed at $6 / $22.50 for all of its tokens.
 */
export const claudePrices: PriceTable = Object.freeze({
  asOf: "2025-12-01",
  source: "https://www.anthropic.com/pricing#api (and https://docs.claude.com/en/docs/about-claude/pricing)",
  prices: Object.freeze([
    claudePrice("claude-opus-4-5", 5, 25),
    claudePrice("claude-opus-4-1", 15, 75),
    claudePrice("claude-opus-4", 15, 75),
    claudePrice("claude-sonnet-4-5", 3, 15, { input: 6, output: 22.5 }),
    claudePrice("claude-sonnet-4", 3, 15, { input: 6, output: 22.5 }),
    claudePrice("claude-haiku-4-5", 1, 5),
    claudePrice("claude-3-7-sonnet", 3, 15),
    claudePrice("claude-3-5-sonnet", 3, 15),
    claudePrice("claude-3-5-haiku", 0.8, 4),
    claudePrice("claude-3-opus", 15, 75),
    claudePrice("claude-3-haiku", 0.25, 1.25),
  ]),
});
