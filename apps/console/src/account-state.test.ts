import { describe, expect, it } from "vitest";
import { accountState, needsAttention, scopedRateLimits, type AccountStateFields } from "./account-state";
import { describeAccountState } from "./account-state-words";
import { createFormatter } from "./format";
import { translate } from "./i18n/i18n";
import type { MessageKey } from "./i18n/messages-en";

const now = Date.UTC(2026, 11, 7, 14, 0, 0);
const base: AccountStateFields = {
  status: "active",
  schedulable: true,
  errorMessage: null,
  rateLimitedUntil: null,
  rateLimitReason: null,
  rateLimits: [],
  tempUnschedulableUntil: null,
  tempUnschedulableReason: null,
  overloadedUntil: null,
};
const t = (key: MessageKey, values?: Record<string, string | number>) => translate("en", key, values);
const format = createFormatter("en", "UTC");
const words = (fields: Partial<AccountStateFields>, at = now) =>
  describeAccountState(accountState({ ...base, ...fields }, at), t, format, at);

describe("accountState", () => {
  it("is active with nothing in force", () => {
    expect(accountState(base, now)).toEqual({ kind: "active" });
    expect(words({}).text).toBe("active");
  });

  it("says until when an account-wide rate limit lasts, with a countdown, and turns active when it passes", () => {
    const limited = { rateLimitedUntil: now + 5 * 60_000 + 30_000 };
    expect(words(limited)).toEqual({ text: "rate limited until 14:05", countdown: "5:30" });
    expect(words(limited, now + 5 * 60_000 + 29_001)).toEqual({
      text: "rate limited until 14:05",
      countdown: "0:01",
    });
    expect(words(limited, now + 5 * 60_000 + 30_000).text).toBe("active");
  });

  it("reads an account scope from rateLimits too, and the later of the two ends", () => {
    const state = accountState(
      { ...base, rateLimitedUntil: now + 1_000, rateLimits: [{ scope: "account", until: now + 60_000 }] },
      now,
    );
    expect(state).toEqual({ kind: "rate_limited", until: now + 60_000 });
  });

  it("leaves an account with only scoped limits active and lists the scopes in force, soonest first", () => {
    const rateLimits = [
      { scope: "model:gemini-2.5-pro", window: "1d", until: now + 120_000 },
      { scope: "family:opus", window: "7d_opus", until: now + 60_000 },
      { scope: "family:sonnet", until: now - 1 },
    ];
    expect(accountState({ ...base, rateLimits }, now).kind).toBe("active");
    expect(scopedRateLimits({ rateLimits }, now).map((limit) => limit.scope)).toEqual([
      "family:opus",
      "model:gemini-2.5-pro",
    ]);
  });

  it("names a date when the end is not today", () => {
    expect(words({ rateLimitedUntil: Date.UTC(2026, 11, 9, 3, 7) }).text).toBe(
      "rate limited until Dec 9, 03:07",
    );
  });

  it("shows cooling down and overloaded with countdowns and reasons", () => {
    expect(
      words({ tempUnschedulableUntil: now + 42_000, tempUnschedulableReason: "refresh failed" }),
    ).toEqual({ text: "cooling down", countdown: "0:42" });
    expect(
      accountState(
        { ...base, tempUnschedulableUntil: now + 42_000, tempUnschedulableReason: "refresh failed" },
        now,
      ).reason,
    ).toBe("refresh failed");
    expect(words({ overloadedUntil: now + 3_600_000 + 5_000 })).toEqual({
      text: "overloaded",
      countdown: "1:00:05",
    });
    expect(words({ overloadedUntil: now - 1 }).text).toBe("active");
  });

  it("puts error with its reason, and disabled, above any timed state", () => {
    expect(
      words({
        status: "error",
        errorMessage: "403 forbidden: organization disabled",
        rateLimitedUntil: now + 1000,
      }).text,
    ).toBe("error: 403 forbidden: organization disabled");
    expect(words({ status: "error" }).text).toBe("error");
    expect(words({ status: "disabled", rateLimitedUntil: now + 1000 }).text).toBe("disabled");
    expect(words({ schedulable: false }).text).toBe("disabled");
  });

  it("flags what needs attention: anything but active and disabled", () => {
    expect(needsAttention({ kind: "active" })).toBe(false);
    expect(needsAttention({ kind: "disabled" })).toBe(false);
    expect(needsAttention({ kind: "error", reason: "x" })).toBe(true);
    expect(needsAttention({ kind: "cooling_down", until: 1 })).toBe(true);
  });

  it("says the states in Chinese too", () => {
    const zh = (key: MessageKey, values?: Record<string, string | number>) => translate("zh-CN", key, values);
    const state = accountState({ ...base, rateLimitedUntil: now + 5 * 60_000 }, now);
    expect(describeAccountState(state, zh, createFormatter("zh-CN", "UTC"), now).text).toBe("限流至 14:05");
  });
});
