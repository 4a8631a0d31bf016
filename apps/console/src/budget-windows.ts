/** The starts (epoch ms) of the calendar windows a key's budgets count in: day, week (from Monday), month. */
export interface BudgetWindowStarts {
  day: number;
  week: number;
  month: number;
}

/**
 * The gateway's default `BUDGET_TIMEZONE`. The admin API does not say which zone the gateway uses, so the
 * console asks the operator (Keys page) and starts from this default.
 */
export const DEFAULT_BUDGET_TIME_ZONE = "UTC";
/** Where the operator's choice of zone is remembered. */
export const BUDGET_TIME_ZONE_STORAGE_KEY = "subrelay.console.budgetTimeZone";

const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClock(
  at: number,
  timeZone: string,
): { year: number; month: number; day: number; offset: number } {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(at))
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute, parts.second);
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    offset: wall - Math.floor(at / 1000) * 1000,
  };
}

/** The instant `timeZone`'s clock reads 00:00 on that date (day and month may overflow, as in Date.UTC). */
function midnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  // Twice: the offset at the first guess may differ from the one at midnight across a daylight-saving change.
  const guess = wall - wallClock(wall, timeZone).offset;
  return wall - wallClock(guess, timeZone).offset;
}

/** The day, week (from Monday) and month around `now` in the IANA zone `timeZone`, as the gateway counts them. */
export function budgetWindowStarts(now: number, timeZone: string): BudgetWindowStarts {
  const { year, month, day } = wallClock(now, timeZone);
  const weekday = (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7;
  return {
    day: midnight(year, month, day, timeZone),
    week: midnight(year, month, day - weekday, timeZone),
    month: midnight(year, month, 1, timeZone),
  };
}

/** Whether `timeZone` is an IANA zone this browser knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return timeZone.trim() !== "";
  } catch {
    return false;
  }
}
