import { describe, expect, it } from "vitest";
import type { UsageSeriesLine } from "./admin-types";
import { usageCsv } from "./usage-csv";
import { presetRange, stepFor } from "./usage-range";
import { summariseSeries, tokensPerBucket } from "./usage-summary";

const line = (key: string | null, name: string | null, requests: number[]): UsageSeriesLine => ({
  key,
  name,
  requests,
  errors: requests.map((count) => (count > 1 ? 1 : 0)),
  inputTokens: requests.map((count) => count * 10),
  outputTokens: requests.map((count) => count * 2),
  cacheReadTokens: requests.map(() => 1),
  cacheWriteTokens: requests.map(() => 0),
  costUsd: requests.map((count) => count * 0.000125),
});
const buckets = [Date.UTC(2026, 0, 1, 0, 0), Date.UTC(2026, 0, 1, 0, 1)];

describe("usageCsv", () => {
  it("writes one row per bucket and series with ISO times, quoting and defusing cells", () => {
    const csv = usageCsv({
      buckets,
      series: [line("7", 'team "a", b', [1, 2]), line("8", "=cmd()", [0, 3])],
    });
    expect(csv.split("\r\n")).toEqual([
      "bucket,key,name,requests,errors,inputTokens,outputTokens,cacheReadTokens,cacheWriteTokens,costUsd",
      '2026-01-01T00:00:00.000Z,7,"team ""a"", b",1,0,10,2,1,0,0.000125',
      '2026-01-01T00:01:00.000Z,7,"team ""a"", b",2,1,20,4,1,0,0.00025',
      "2026-01-01T00:00:00.000Z,8,'=cmd(),0,0,0,0,1,0,0",
      "2026-01-01T00:01:00.000Z,8,'=cmd(),3,1,30,6,1,0,0.000375",
      "",
    ]);
  });

  it("leaves the cells of a series without key or name empty (refused before an account was chosen, deleted)", () => {
    const csv = usageCsv({ buckets: buckets.slice(0, 1), series: [line(null, null, [4])] });
    expect(csv.split("\r\n")[1]).toBe("2026-01-01T00:00:00.000Z,,,4,1,40,8,1,0,0.0005");
  });
});

describe("summariseSeries", () => {
  it("sums each series, busiest first, and totals tokens per bucket", () => {
    const totals = summariseSeries([line("a", "alpha", [1, 0]), line("b", "beta", [2, 3])]);
    expect(totals.map((each) => [each.name, each.requests, each.errors, each.tokens])).toEqual([
      ["beta", 5, 2, 50 + 10 + 2],
      ["alpha", 1, 0, 10 + 2 + 2],
    ]);
    expect(totals[0]?.costUsd).toBeCloseTo(5 * 0.000125, 12);
    expect(tokensPerBucket(line("a", "alpha", [1, 2]))).toEqual([13, 25]);
    expect(
      summariseSeries([line(null, null, [1]), line("k", null, [2])]).map((each) => [
        each.index,
        each.key,
        each.name,
      ]),
    ).toEqual([
      [1, "k", null],
      [0, null, null],
    ]);
  });
});

describe("ranges", () => {
  it("choose a step that keeps the chart readable", () => {
    const now = Date.UTC(2026, 0, 31);
    expect(presetRange("1h", now)).toEqual({ from: now - 3_600_000, to: now, step: "minute" });
    expect(presetRange("24h", now).step).toBe("hour");
    expect(presetRange("7d", now).step).toBe("hour");
    expect(presetRange("30d", now).step).toBe("day");
    expect(stepFor(0, 6 * 3_600_000)).toBe("minute");
  });
});
