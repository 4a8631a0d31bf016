import { describe, expect, it } from "vitest";
import { budgetWindowStarts, isTimeZone } from "./budget-windows";

describe("budgetWindowStarts", () => {
  it("starts the day, the week (Monday) and the month at midnight in the zone", () => {
    // Wednesday 2026-12-09 10:30 UTC.
    const now = Date.UTC(2026, 11, 9, 10, 30);
    expect(budgetWindowStarts(now, "UTC")).toEqual({
      day: Date.UTC(2026, 11, 9),
      week: Date.UTC(2026, 11, 7),
      month: Date.UTC(2026, 11, 1),
    });
    // Already Thursday in Tokyo (UTC+9) at 16:00 UTC.
    expect(budgetWindowStarts(Date.UTC(2026, 11, 9, 16), "Asia/Tokyo").day).toBe(Date.UTC(2026, 11, 9, 15));
  });

  it("follows daylight-saving time and weeks across a month's start", () => {
    // Paris, Tuesday 2026-03-31 12:00 local (UTC+2 since Sunday): the week began on Monday 30th at 00:00 +02:00,
    // the month on the 1st at 00:00 +01:00.
    const now = Date.UTC(2026, 2, 31, 10);
    expect(budgetWindowStarts(now, "Europe/Paris")).toEqual({
      day: Date.UTC(2026, 2, 30, 22),
      week: Date.UTC(2026, 2, 29, 22),
      month: Date.UTC(2026, 1, 28, 23),
    });
    expect(budgetWindowStarts(Date.UTC(2026, 11, 2, 12), "UTC").week).toBe(Date.UTC(2026, 10, 30));
  });

  it("knows a zone from a typo", () => {
    expect(isTimeZone("Europe/Paris")).toBe(true);
    expect(isTimeZone("Europe/Pariss")).toBe(false);
    expect(isTimeZone("")).toBe(false);
  });
});
