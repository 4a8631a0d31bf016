/**
 * What one model costs, in USD per million tokens, by token class (the classes of `Usage`). A class a
 * platform does not have (OpenAI and Gemini report no cache writes) is priced at the input price, which is
 * what such tokens would cost if one were ever reported.
 */
export interface TokenPrices {
  /** Uncached prompt tokens. */
  inputUsdPerMTok: number;
  /** Generated tokens, reasoning included. */
  outputUsdPerMTok: number;
  /** Prompt tokens read from a cache. */
  cacheReadUsdPerMTok: number;
  /** Prompt tokens written to a cache for 5 minutes. */
  cacheWrite5mUsdPerMTok: number;
  /** Prompt tokens written to a cache for 1 hour. */
  cacheWrite1hUsdPerMTok: number;
}

/**
 * A platform's long-context tier: a request whose whole prompt (`inputTokens + cacheReadTokens +
 * cacheWriteTokens`) is above `aboveInputTokens` has every one of its tokens, output included, billed at
 * these prices instead (Claude Sonnet 4 / 4.5 above 200k, Gemini 2.5 Pro above 200k).
 */
export interface LongContextPrice extends TokenPrices {
  /** The prompt size, tokens, above which the tier applies (a prompt of exactly this size does not). */
  aboveInputTokens: number;
}

/** The price of one model or model family. */
export interface ModelPrice extends TokenPrices {
  /**
   * The model id, or a family prefix: `claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929` too (see
   * `createPriceIndex` for the matching rules).
   */
  model: string;
  /** The long-context tier, where the platform prices one. Absent: one price whatever the prompt's size. */
  longContext?: LongContextPrice;
}

/**
 * A platform's price list as a provider ships it (`Provider.prices`): list prices as of `asOf`, from
 * `source`. They date: operators override them (the gateway's `PUT /admin/pricing/{model}`).
 */
export interface PriceTable {
  /** The day the prices were taken, `YYYY-MM-DD`. */
  asOf: string;
  /** Where they were taken from (the platform's public pricing page). */
  source: string;
  prices: readonly ModelPrice[];
}
