/**
 * Formatting in the viewer's language and time zone (Intl). A `Formatter` is made once per language and
 * shared through the i18n context.
 */
export interface Formatter {
  /** "14:05", or with the date ("Dec 8, 14:05") when `at` is not on `now`'s day. */
  time: (at: number, now: number) => string;
  /** A chart tick: "14:05" on a chart spanning a day at most (`spanMs`), else "12/08 14:05". */
  tick: (at: number, spanMs: number) => string;
  /** Date and time, to the second: tables of events. */
  dateTime: (at: number) => string;
  /** An integer with grouping ("12,345"). */
  number: (value: number) => string;
  /** A number with at most one decimal, compact for large values ("12.3K"). */
  compact: (value: number) => string;
  /** A ratio as a percentage ("12.5%"). */
  percent: (ratio: number) => string;
  /**
   * US dollars in the viewer's language: cents from $1 up ("$12.34"), up to 4 decimals from a cent ("$0.0128"),
   * and 3 significant digits below ("$0.000054", a cheap request's cost), so a cheap request never reads "$0.00".
   */
  usd: (value: number) => string;
}

export function createFormatter(locale: string, timeZone?: string): Formatter {
  const zone = timeZone ? { timeZone } : {};
  const clock = new Intl.DateTimeFormat(locale, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    ...zone,
  });
  const dayAndClock = new Intl.DateTimeFormat(locale, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    ...zone,
  });
  const full = new Intl.DateTimeFormat(locale, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    ...zone,
  });
  const day = new Intl.DateTimeFormat(locale, { year: "numeric", month: "2-digit", day: "2-digit", ...zone });
  const shortDayAndClock = new Intl.DateTimeFormat(locale, {
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    ...zone,
  });
  const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const compact = new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 });
  const percent = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 });
  const dollars = new Intl.NumberFormat(locale, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const cents = new Intl.NumberFormat(locale, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });
  const fractions = new Intl.NumberFormat(locale, { style: "currency", currency: "USD", maximumSignificantDigits: 3 });
  return {
    time: (at, now) => (day.format(at) === day.format(now) ? clock.format(at) : dayAndClock.format(at)),
    tick: (at, spanMs) => (spanMs <= 86_400_000 ? clock.format(at) : shortDayAndClock.format(at)),
    dateTime: (at) => full.format(at),
    number: (value) => integer.format(value),
    compact: (value) => compact.format(value),
    percent: (ratio) => percent.format(ratio),
    usd: (value) => {
      const size = Math.abs(value);
      return size >= 1 ? dollars.format(value) : size >= 0.01 || size === 0 ? cents.format(value) : fractions.format(value);
    },
  };
}

/** A countdown: "0:42", "12:05", "3:04:05", "2d 3:04:05" (milliseconds left, rounded up to the second). */
export function formatCountdown(milliseconds: number): string {
  const total = Math.max(0, Math.ceil(milliseconds / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = total % 60;
  const two = (value: number) => String(value).padStart(2, "0");
  const clock =
    hours > 0 || days > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
  return days > 0 ? `${days}d ${clock}` : clock;
}

/** The value for an `<input type="datetime-local">` showing `at` in the viewer's time zone. */
export function toDateTimeLocal(at: number): string {
  const date = new Date(at);
  const two = (value: number) => String(value).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** Epoch ms of an `<input type="datetime-local">` value (the viewer's time zone); undefined when empty or invalid. */
export function fromDateTimeLocal(value: string): number | undefined {
  if (value.trim() === "") return undefined;
  const time = new Date(value).getTime();
  return Number.isNaN(time) ? undefined : time;
}

/** Epoch ms of the start of `now`'s day in the viewer's time zone. */
export function startOfDay(now: number): number {
  const date = new Date(now);
  date.setHours(0, 0, 0, 0);
  return date.getTime();
}
