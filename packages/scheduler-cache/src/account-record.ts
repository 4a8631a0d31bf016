import type { AccountSnapshot } from "./types";

/**
 * Parses a stored account record and lifts `lastUsedAt` to the newest time `updateLastUsed` recorded for it
 * (kept apart from the record so that per-request updates never rewrite records).
 */
export function parseAccountRecord(record: string, lastUsed: number | null | undefined): AccountSnapshot {
  const account = JSON.parse(record) as AccountSnapshot;
  if (lastUsed !== null && lastUsed !== undefined && !(typeof account.lastUsedAt === "number" && account.lastUsedAt >= lastUsed)) {
    account.lastUsedAt = lastUsed;
  }
  return account;
}
