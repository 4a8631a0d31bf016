import type { UsageStep } from "./admin-types";

export type RangePreset = "1h" | "24h" | "7d" | "30d";
export const rangePresets: readonly RangePreset[] = ["1h", "24h", "7d", "30d"];

const hour = 3_600_000;
const presetLengths: Record<RangePreset, number> = {
  "1h": hour,
  "24h": 24 * hour,
  "7d": 7 * 24 * hour,
  "30d": 30 * 24 * hour,
};

/** The bucket size that keeps a chart of `from`..`to` between a few dozen and a few hundred points. */
export function stepFor(from: number, to: number): UsageStep {
  const span = to - from;
  if (span <= 6 * hour) return "minute";
  if (span <= 8 * 24 * hour) return "hour";
  return "day";
}

/** A range ending at `now`. */
export function presetRange(preset: RangePreset, now: number): { from: number; to: number; step: UsageStep } {
  const from = now - presetLengths[preset];
  return { from, to: now, step: stepFor(from, now) };
}
