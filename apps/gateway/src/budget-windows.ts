/** The windows a key's use is counted in at one moment: each start inclusive, each end exclusive, epoch ms. */
export interface BudgetWindows {
  /** The sliding minute of the rates: now - 60 s to now. */
  minuteStart: number;
  dayStart: number;
  dayEnd: number;
  /** Weeks start on Monday. */
  weekStart: number;
  weekEnd: number;
  monthStart: number;
  monthEnd: number;
}

const MINUTE_MS = 60_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar day, week (from Monday) and month around `now` in the IANA zone `timeZone` (`BUDGET_TIMEZONE`). */
export function budgetWindows(now: number, timeZone: string): BudgetWindows {
  const { year, month, day } = localDate(now, timeZone);
  const weekday = (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7;
  const midnight = (y: number, m: number, d: number) => localMidnight(y, m, d, timeZone);
  return {
    minuteStart: now - MINUTE_MS,
    dayStart: midnight(year, month, day),
    dayEnd: midnight(year, month, day + 1),
    weekStart: midnight(year, month, day - weekday),
    weekEnd: midnight(year, month, day - weekday + 7),
    monthStart: midnight(year, month, 1),
    monthEnd: midnight(year, month + 1, 1),
  };
}

function formatter(timeZone: string): Intl.DateTimeFormat {
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
  return format;
}

function localFields(at: number, timeZone: string): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(at)) if (part.type !== "literal") fields[part.type] = Number(part.value);
  return fields;
}

function localDate(at: number, timeZone: string): { year: number; month: number; day: number } {
  const fields = localFields(at, timeZone);
  return { year: fields.year!, month: fields.month!, day: fields.day! };
}

/** How far the zone's wall clock is ahead of UTC at `at`, ms. */
function offsetAt(at: number, timeZone: string): number {
  const fields = localFields(at, timeZone);
  const wall = Date.UTC(fields.year!, fields.month! - 1, fields.day, fields.hour, fields.minute, fields.second);
  return wall - Math.floor(at / 1000) * 1000;
}

/** The instant the zone's wall clock reads 00:00 on that date (day and month may overflow, as in Date.UTC). */
function localMidnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  // Twice: the offset at the first guess may differ from the offset at midnight across a DST change.
  const guess = wall - offsetAt(wall, timeZone);
  return wall - offsetAt(guess, timeZone);
}
