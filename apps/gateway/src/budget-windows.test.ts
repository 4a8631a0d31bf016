import { describe, expect, it } from "vitest";
import { budgetWindows } from "./budget-windows";

describe("budgetWindows", () => {
  it("gives UTC calendar windows, weeks from Monday", () => {
    // Wednesday 2026-12-09 15:30 UTC.
    const now = Date.UTC(2026, 11, 9, 15, 30);
    expect(budgetWindows(now, "UTC")).toEqual({
      minuteStart: now - 60_000,
      dayStart: Date.UTC(2026, 11, 9),
      dayEnd: Date.UTC(2026, 11, 10),
      weekStart: Date.UTC(2026, 11, 7),
      weekEnd: Date.UTC(2026, 11, 14),
      monthStart: Date.UTC(2026, 11, 1),
      monthEnd: Date.UTC(2027, 0, 1),
    });
    // A Monday starts its own week; a Sunday belongs to the week begun six days before.
    expect(budgetWindows(Date.UTC(2026, 11, 7), "UTC").weekStart).toBe(Date.UTC(2026, 11, 7));
    expect(budgetWindows(Date.UTC(2026, 11, 13, 23, 59), "UTC").weekStart).toBe(Date.UTC(2026, 11, 7));
  });

  it("follows the zone's wall clock, across a daylight-saving change", () => {
    // 2026-03-29 is the day Paris moves from UTC+1 to UTC+2.
    const windows = budgetWindows(Date.UTC(2026, 2, 29, 12), "Europe/Paris");
    expect(windows.dayStart).toBe(Date.UTC(2026, 2, 28, 23));
    expect(windows.dayEnd).toBe(Date.UTC(2026, 2, 29, 22));
    expect(windows.monthStart).toBe(Date.UTC(2026, 1, 28, 23));
    expect(windows.monthEnd).toBe(Date.UTC(2026, 2, 31, 22));
    // 23:30 UTC on the 31st is already April 1st in Tokyo.
    expect(budgetWindows(Date.UTC(2026, 2, 31, 23, 30), "Asia/Tokyo").monthStart).toBe(Date.UTC(2026, 2, 31, 15));
  });
});
