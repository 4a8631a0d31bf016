import { describe, expect, it } from "vitest";
import { availability, earliestComeback, type AvailabilityFields } from "./availability";

const now = 1_000_000;
const active: AvailabilityFields = { status: "active", schedulable: true };

describe("availability", () => {
  it.each([
    ["an active account", active, { state: "active" }],
    ["an errored account, whatever its cool-downs", { ...active, status: "error", rateLimitedUntil: now + 5 }, { state: "error" }],
    ["a disabled account", { ...active, status: "disabled" }, { state: "disabled" }],
    ["an unschedulable account", { ...active, schedulable: false }, { state: "unschedulable" }],
    ["a rate limit in force", { ...active, rateLimitedUntil: now + 10 }, { state: "rate_limited", until: now + 10 }],
    ["a cool-down in force", { ...active, tempUnschedulableUntil: now + 10 }, { state: "cooling_down", until: now + 10 }],
    ["an overload in force", { ...active, overloadedUntil: now + 10 }, { state: "overloaded", until: now + 10 }],
    ["cool-downs that ended (now included)", { ...active, rateLimitedUntil: now, overloadedUntil: now - 1 }, { state: "active" }],
    ["null cool-downs (a database record)", { ...active, rateLimitedUntil: null, tempUnschedulableUntil: null }, { state: "active" }],
    [
      "several cool-downs: the first state, the last end",
      { ...active, rateLimitedUntil: now + 10, overloadedUntil: now + 30 },
      { state: "rate_limited", until: now + 30 },
    ],
    [
      "an ended rate limit beside a cool-down in force",
      { ...active, rateLimitedUntil: now - 5, tempUnschedulableUntil: now + 7 },
      { state: "cooling_down", until: now + 7 },
    ],
  ] as const)("%s", (_name, account, expected) => {
    expect(availability(account as AvailabilityFields, now)).toEqual(expected);
  });
});

describe("earliestComeback", () => {
  it("is the earliest end when every account waits for a cool-down", () => {
    const accounts = [
      { ...active, rateLimitedUntil: now + 50 },
      { ...active, overloadedUntil: now + 20, rateLimitedUntil: now + 40 },
    ];
    expect(earliestComeback(accounts, now)).toBe(now + 40);
  });

  it("is undefined when one account is usable now, or needs an operator, or there are none", () => {
    expect(earliestComeback([{ ...active, rateLimitedUntil: now + 50 }, active], now)).toBeUndefined();
    expect(earliestComeback([{ ...active, rateLimitedUntil: now + 50 }, { ...active, status: "error" as const }], now)).toBeUndefined();
    expect(earliestComeback([], now)).toBeUndefined();
  });
});

describe("scoped rate limits", () => {
  const opusWeekly = { ...active, rateLimits: [{ scope: "family:opus", window: "7d_opus", until: now + 100 }] };

  it("stop the requests their scope covers, until their end", () => {
    expect(availability(opusWeekly, now, "claude-opus-4-5")).toEqual({ state: "rate_limited", until: now + 100 });
    expect(availability(opusWeekly, now + 100, "claude-opus-4-5")).toEqual({ state: "active" });
  });

  it("leave every other request alone: another family, a retrieval naming no model, the metrics", () => {
    expect(availability(opusWeekly, now, "claude-sonnet-4-5")).toEqual({ state: "active" });
    expect(availability(opusWeekly, now, "")).toEqual({ state: "active" });
    expect(availability(opusWeekly, now)).toEqual({ state: "active" });
  });

  it("a model scope stops that model; an account scope stops all", () => {
    const gemini = { ...active, rateLimits: [{ scope: "model:gemini-2.5-pro", until: now + 30 }] };
    expect(availability(gemini, now, "models/gemini-2.5-pro")).toEqual({ state: "rate_limited", until: now + 30 });
    expect(availability(gemini, now, "gemini-2.5-flash")).toEqual({ state: "active" });
    const wide = { ...active, rateLimits: [{ scope: "account", until: now + 30 }] };
    expect(availability(wide, now)).toEqual({ state: "rate_limited", until: now + 30 });
  });

  it("count toward the comeback of the requests they cover only", () => {
    const accounts = [opusWeekly, { ...active, rateLimitedUntil: now + 500 }];
    expect(earliestComeback(accounts, now, "claude-opus-4-5")).toBe(now + 100);
    expect(earliestComeback(accounts, now, "claude-sonnet-4-5")).toBeUndefined();
  });
});
