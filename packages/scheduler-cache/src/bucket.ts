import type { SchedulerBucket, SchedulerMode } from "./types";

const modes: ReadonlySet<string> = new Set<SchedulerMode>(["single", "mixed"]);
// Colons would change the part count, braces would break the Redis Cluster hash tag the bucket is keyed by.
const platformPattern = /^[^\s:{}]+$/;
const groupIdPattern = /^(0|[1-9][0-9]*)$/;

/** `{ groupId: 7, platform: "claude", mode: "single" }` becomes `"7:claude:single"`. */
export function formatBucket(bucket: SchedulerBucket): string {
  return `${bucket.groupId}:${bucket.platform}:${bucket.mode}`;
}

/**
 * Parses `"<groupId>:<platform>:<mode>"`. Null for anything malformed: a part count other than three, a group
 * id that is not a non-negative safe integer in plain decimal, an empty platform (or one holding whitespace,
 * `:`, `{` or `}`), an unknown mode.
 */
export function parseBucket(raw: string): SchedulerBucket | null {
  const parts = raw.split(":");
  if (parts.length !== 3) return null;
  const [groupText, platform, mode] = parts as [string, string, string];
  if (!groupIdPattern.test(groupText)) return null;
  const groupId = Number(groupText);
  if (!Number.isSafeInteger(groupId)) return null;
  if (!platformPattern.test(platform)) return null;
  if (!modes.has(mode)) return null;
  return { groupId, platform, mode: mode as SchedulerMode };
}

/** True when the bucket formats to a string `parseBucket` reads back as the same bucket. */
export function isValidBucket(bucket: SchedulerBucket): boolean {
  const parsed = parseBucket(formatBucket(bucket));
  return parsed !== null && parsed.groupId === bucket.groupId && parsed.platform === bucket.platform && parsed.mode === bucket.mode;
}
