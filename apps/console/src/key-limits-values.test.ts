import { describe, expect, it } from "vitest";
import { keyLimitsOf, keyLimitsValuesOf } from "./key-limits-values";

describe("the key limits form", () => {
  it("sends only what is filled in, and null for nothing", () => {
    const empty = keyLimitsValuesOf(null);
    expect(keyLimitsOf(empty)).toBeNull();
    expect(
      keyLimitsOf({
        ...empty,
        costPerDayUsd: " 5 ",
        requestsPerMinute: "60",
        models: "claude-sonnet-4-5\n\n gpt-4o ",
        allowedIps: "10.0.0.0/8, ::1",
      }),
    ).toEqual({
      costPerDayUsd: 5,
      requestsPerMinute: 60,
      models: ["claude-sonnet-4-5", "gpt-4o"],
      allowedIps: ["10.0.0.0/8", "::1"],
    });
  });

  it("shows stored limits back as they are", () => {
    const limits = { concurrency: 2, costTotalUsd: 0.05, models: ["a", "b"] };
    const values = keyLimitsValuesOf(limits);
    expect(values).toMatchObject({
      concurrency: "2",
      costTotalUsd: "0.05",
      models: "a\nb",
      costPerDayUsd: "",
    });
    expect(keyLimitsOf(values)).toEqual(limits);
  });
});
