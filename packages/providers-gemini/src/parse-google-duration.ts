const unitMilliseconds: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
const component = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
const wholeDuration = /^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$/;

/**
 * Milliseconds in a Google duration: the protobuf JSON form (`"37s"`, `"1.5s"`, `"0.000500s"`), the
 * `{seconds, nanos}` object form, milliseconds (`"900ms"`), or the compound form Code Assist prints in
 * quota messages (`"2h36m24s"`). Undefined for anything else, including negative values.
 */
export function parseGoogleDuration(value: unknown): number | undefined {
  if (typeof value === "string") {
    const text = value.trim();
    if (!wholeDuration.test(text)) return undefined;
    let total = 0;
    for (const match of text.matchAll(component)) {
      total += Number(match[1]) * (unitMilliseconds[match[2] ?? ""] ?? 0);
    }
    return Math.round(total);
  }
  if (typeof value === "object" && value !== null) {
    const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown };
    const secondsNumber = typeof seconds === "string" ? Number(seconds) : seconds;
    const nanosNumber = nanos ?? 0;
    if (typeof secondsNumber !== "number" || typeof nanosNumber !== "number") return undefined;
    if (!Number.isFinite(secondsNumber) || secondsNumber < 0 || nanosNumber < 0) return undefined;
    return Math.round(secondsNumber * 1000 + nanosNumber / 1e6);
  }
  return undefined;
}
