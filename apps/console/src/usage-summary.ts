import type { UsageSeriesLine } from "./admin-types";

/** The sums of one series over its buckets. */
export interface UsageLineTotals {
  /** The series' place in the answer (its `key` may be null). */
  index: number;
  key: string | null;
  name: string | null;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** USD. */
  costUsd: number;
  /** Input + output + cache read + cache write. */
  tokens: number;
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/** Each series summed, most requests first. */
export function summariseSeries(series: readonly UsageSeriesLine[]): UsageLineTotals[] {
  return series
    .map((line, index) => {
      const totals = {
        index,
        key: line.key,
        name: line.name,
        requests: sum(line.requests),
        errors: sum(line.errors),
        inputTokens: sum(line.inputTokens),
        outputTokens: sum(line.outputTokens),
        cacheReadTokens: sum(line.cacheReadTokens),
        cacheWriteTokens: sum(line.cacheWriteTokens),
        costUsd: sum(line.costUsd),
      };
      return {
        ...totals,
        tokens: totals.inputTokens + totals.outputTokens + totals.cacheReadTokens + totals.cacheWriteTokens,
      };
    })
    .sort((a, b) => b.requests - a.requests || (a.name ?? "").localeCompare(b.name ?? ""));
}

/** Per-bucket token totals of a series (input + output + cache read + cache write). */
export function tokensPerBucket(line: UsageSeriesLine): number[] {
  return line.inputTokens.map(
    (input, index) =>
      input +
      (line.outputTokens[index] ?? 0) +
      (line.cacheReadTokens[index] ?? 0) +
      (line.cacheWriteTokens[index] ?? 0),
  );
}
