import type { ModelPrice, PriceTable } from "@subrelay/providers-core";

/**
 * OpenAI bills cache writes as ordinary input (it reports none): the cache-write prices are the input
 * price. A model without prompt caching has its cache-read price at the input price.
 */
function openaiPrice(model: string, input: number, cachedInput: number | null, output: number): ModelPrice {
  return {
    model,
    inputUsdPerMTok: input,
    outputUsdPerMTok: output,
    cacheReadUsdPerMTok: cachedInput ?? input,
    cacheWrite5mUsdPerMTok: input,
    cacheWrite1hUsdPerMTok: input,
  };
}

/**
 * OpenAI's public list prices (USD per million tokens, Standard tier) as of `asOf`, from `source`:
 * input, cached input and output. List prices only: no Batch or Flex discount, no Priority surcharge.
 * They date; an operator overrides any of them (the gateway's `PUT /admin/pricing/{model}`).
 *
 * Ids are family prefixes: `gpt-4.1` prices `gpt-4.1-2025-04-14`, `gpt-5` prices `gpt-5-2025-08-07`
 * (but not `gpt-5-mini`, which has its own entry: the longest prefix wins). Codex (ChatGPT) accounts
 * are subscriptions: their requests are priced at these API prices, as what they would have cost.
 */
export const openaiPrices: PriceTable = Object.freeze({
  asOf: "2025-12-01",
  source: "https://platform.openai.com/docs/pricing (and https://openai.com/api/pricing/)",
  prices: Object.freeze([
    openaiPrice("gpt-5.1", 1.25, 0.125, 10),
    openaiPrice("gpt-5.1-codex", 1.25, 0.125, 10),
    openaiPrice("gpt-5.1-codex-max", 1.25, 0.125, 10),
    openaiPrice("gpt-5.1-codex-mini", 0.25, 0.025, 2),
    openaiPrice("gpt-5.1-chat-latest", 1.25, 0.125, 10),
    openaiPrice("gpt-5", 1.25, 0.125, 10),
    openaiPrice("gpt-5-codex", 1.25, 0.125, 10),
    openaiPrice("gpt-5-chat-latest", 1.25, 0.125, 10),
    openaiPrice("gpt-5-mini", 0.25, 0.025, 2),
    openaiPrice("gpt-5-nano", 0.05, 0.005, 0.4),
    openaiPrice("gpt-5-pro", 15, null, 120),
    openaiPrice("codex-mini-latest", 1.5, 0.375, 6),
    openaiPrice("gpt-4.1", 2, 0.5, 8),
    openaiPrice("gpt-4.1-mini", 0.4, 0.1, 1.6),
    openaiPrice("gpt-4.1-nano", 0.1, 0.025, 0.4),
    openaiPrice("gpt-4o", 2.5, 1.25, 10),
    openaiPrice("gpt-4o-mini", 0.15, 0.075, 0.6),
    openaiPrice("o1", 15, 7.5, 60),
    openaiPrice("o1-pro", 150, null, 600),
    openaiPrice("o3", 2, 0.5, 8),
    openaiPrice("o3-pro", 20, null, 80),
    openaiPrice("o3-mini", 1.1, 0.55, 4.4),
    openaiPrice("o4-mini", 1.1, 0.275, 4.4),
  ]),
});
