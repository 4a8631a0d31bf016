const unitMilliseconds: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * Parses the Go-style durations OpenAI puts in `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`
 * ("20ms", "1s", "6m0s", "1h2m3.5s"), or a bare number of seconds. Returns milliseconds, or undefined
 * for anything else (an unknown unit, an empty value, a negative number).
 */
export function parseOpenAIDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const pattern = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(pattern)) {
    const unit = unitMilliseconds[match[2] ?? ""];
    if (unit === undefined) return undefined;
    total += Number(match[1]) * unit;
    consumed += match[0].length;
  }
  return consumed === text.length ? Math.round(total) : undefined;
}
