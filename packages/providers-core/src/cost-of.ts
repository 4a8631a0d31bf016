import type { ModelPrice, TokenPrices } from "./model-price";
import type { Usage } from "./usage";

/** The token counts a cost is computed from. */
export type BillableUsage = Pick<Usage, "inputTokens" | "outputTokens" | "cacheReadTokens" | "cacheWriteTokens" | "cacheWrite1hTokens">;

const PER_MILLION = 1_000_000;

/**
 * What `usage` costs at `price`, USD. Each token is billed once, at the price of its class:
 * - uncached input at the input price, cache reads at the cache-read price (never also as input: the
 *   `Usage` classes do not overlap);
 * - cache writes at the 5-minute price, except the `cacheWrite1hTokens` of them at the 1-hour price (never
 *   both: the 1-hour ones are taken out of the 5-minute count);
 * - output at the output price;
 * - every class at the long-context prices when the whole prompt is above the tier's threshold.
 * Negative or non-finite counts count as 0. Pure: no rounding, no I/O.
 */
export function costOf(usage: BillableUsage, price: ModelPrice): number {
  const input = count(usage.inputTokens);
  const cacheRead = count(usage.cacheReadTokens);
  const cacheWrite = count(usage.cacheWriteTokens);
  const oneHour = Math.min(count(usage.cacheWrite1hTokens ?? 0), cacheWrite);
  const fiveMinutes = cacheWrite - oneHour;
  const prompt = input + cacheRead + cacheWrite;
  const rates: TokenPrices = price.longContext !== undefined && prompt > price.longContext.aboveInputTokens ? price.longContext : price;
  return (
    (input * rates.inputUsdPerMTok +
      count(usage.outputTokens) * rates.outputUsdPerMTok +
      cacheRead * rates.cacheReadUsdPerMTok +
      fiveMinutes * rates.cacheWrite5mUsdPerMTok +
      oneHour * rates.cacheWrite1hUsdPerMTok) /
    PER_MILLION
  );
}

function count(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
