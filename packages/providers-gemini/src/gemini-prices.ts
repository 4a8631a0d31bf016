import type { ModelPrice, PriceTable } from "@subrelay/providers-core";

/**
 * Gemini reports no per-request cache writes (creating a cache bills its tokens as input; storage is
 * billed per hour, outside any request): the cache-write prices are the input price. A model without
 * context caching has its cache-read price at the input price.
 */
function geminiPrice(
  model: string,
  input: number,
  cached: number | null,
  output: number,
  longContext?: { input: number; cached: number; output: number },
): ModelPrice {
  const price: ModelPrice = {
    model,
    inputUsdPerMTok: input,
    outputUsdPerMTok: output,
    cacheReadUsdPerMTok: cached ?? input,
    cacheWrite5mUsdPerMTok: input,
    cacheWrite1hUsdPerMTok: input,
  };
  if (longContext === undefined) return price;
  return {
    ...price,
    longContext: {
      aboveInputTokens: 200_000,
      inputUsdPerMTok: longContext.input,
      outputUsdPerMTok: longContext.output,
      cacheReadUsdPerMTok: longContext.cached,
      cacheWrite5mUsdPerMTok: longContext.input,
      cacheWrite1hUsdPerMTok: longContext.input,
    },
  };
}

/**
 * Google's public list prices of the Gemini API (USD per million tokens, paid tier, text / image / video
 * input) as of `asOf`, from `source`. List prices only: no Batch discount, no free tier, no audio-input
 * rates, no context-cache storage. They date; an operator overrides any of them (the gateway's
 * `PUT /admin/pricing/{model}`). Code Assist (Gemini CLI) accounts are priced at these API prices too.
 *
 * Output includes thinking tokens (the usage tracker counts them as output). Gemini 2.5 Pro and 3 Pro
 * have a long-context tier: a prompt above 200k tokens is billed at the higher prices for all its tokens.
 * Ids are family prefixes: `gemini-2.5-flash` prices `gemini-2.5-flash-preview-09-2025`, while
 * `gemini-2.5-flash-lite` has its own entry.
 */
export const geminiPrices: PriceTable = Object.freeze({
  asOf: "2025-12-01",
  source: "https://ai.google.dev/gemini-api/docs/pricing",
  prices: Object.freeze([
    geminiPrice("gemini-3-pro-preview", 2, 0.2, 12, { input: 4, cached: 0.4, output: 18 }),
    geminiPrice("gemini-2.5-pro", 1.25, 0.125, 10, { input: 2.5, cached: 0.25, output: 15 }),
    geminiPrice("gemini-2.5-flash", 0.3, 0.03, 2.5),
    geminiPrice("gemini-2.5-flash-lite", 0.1, 0.01, 0.4),
    geminiPrice("gemini-2.0-flash", 0.1, 0.025, 0.4),
    geminiPrice("gemini-2.0-flash-lite", 0.075, null, 0.3),
  ]),
});
