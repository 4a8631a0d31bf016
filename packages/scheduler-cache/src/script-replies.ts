import { SchedulerCacheError } from "./scheduler-cache-error";

// The one place Lua's integer codes become typed results.

function unexpected(script: string, reply: unknown): SchedulerCacheError {
  return new SchedulerCacheError(`unexpected reply from the ${script} script`, { code: "unexpected_reply", cause: reply });
}

function integer(script: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw unexpected(script, value);
  return value;
}

function stringList(script: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw unexpected(script, value);
  return value;
}

export interface AllocateVersionReply {
  version: number;
  active: number;
  sequence: number;
}

export function parseAllocateVersionReply(reply: unknown): AllocateVersionReply {
  if (!Array.isArray(reply) || reply.length !== 3) throw unexpected("allocate-version", reply);
  return {
    version: integer("allocate-version", reply[0]),
    active: integer("allocate-version", reply[1]),
    sequence: integer("allocate-version", reply[2]),
  };
}

export type ActivateSnapshotReply =
  | { outcome: "activated"; active: number }
  | { outcome: "superseded"; active: number }
  | { outcome: "previous_changed"; active: number }
  | { outcome: "staging_expired"; active: number };

const activateOutcomes = { 1: "activated", 2: "superseded", 3: "previous_changed", 4: "staging_expired" } as const;

export function parseActivateSnapshotReply(reply: unknown): ActivateSnapshotReply {
  if (!Array.isArray(reply) || reply.length !== 2) throw unexpected("activate-snapshot", reply);
  const outcome = activateOutcomes[reply[0] as keyof typeof activateOutcomes];
  if (!outcome) throw unexpected("activate-snapshot", reply);
  return { outcome, active: integer("activate-snapshot", reply[1]) };
}

export type ReadSnapshotReply =
  | { outcome: "found"; ids: string[]; records: string[]; lastUsed: Array<string | null> }
  | { outcome: "version_gone" }
  | { outcome: "record_missing" };

export function parseReadSnapshotReply(reply: unknown): ReadSnapshotReply {
  if (!Array.isArray(reply)) throw unexpected("read-snapshot", reply);
  switch (reply[0]) {
    case 1: {
      const ids = stringList("read-snapshot", reply[1]);
      const records = stringList("read-snapshot", reply[2]);
      const lastUsed = reply[3] as unknown;
      if (
        records.length !== ids.length ||
        !Array.isArray(lastUsed) ||
        lastUsed.length !== ids.length ||
        !lastUsed.every((item) => item === null || typeof item === "string")
      ) {
        throw unexpected("read-snapshot", reply);
      }
      return { outcome: "found", ids, records, lastUsed: lastUsed as Array<string | null> };
    }
    case 2:
      return { outcome: "version_gone" };
    case 3:
      return { outcome: "record_missing" };
    default:
      throw unexpected("read-snapshot", reply);
  }
}

/** Replies that are a list of bucket strings (set-account, update-account-last-used). */
export function parseBucketListReply(script: string, reply: unknown): string[] {
  return stringList(script, reply);
}

/** Replies that are 0 or 1. */
export function parseFlagReply(script: string, reply: unknown): boolean {
  const value = integer(script, reply);
  if (value !== 0 && value !== 1) throw unexpected(script, reply);
  return value === 1;
}
