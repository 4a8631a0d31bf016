import { formatBucket, isValidBucket } from "./bucket";
import { SchedulerCacheError } from "./scheduler-cache-error";
import type { AccountSnapshot, SchedulerBucket, SnapshotTicket } from "./types";

/** Keys already checked: every read names its bucket, and checking one costs more than the read itself. */
const checkedKeys = new Set<string>();
const CHECKED_KEYS_LIMIT = 10_000;

/** The bucket's string form, after checking it round-trips through parseBucket. */
export function bucketKeyOf(bucket: SchedulerBucket): string {
  const key = formatBucket(bucket);
  // With fields of the right types, a bucket is valid exactly when its key is: a known key settles it.
  const typed = typeof bucket.groupId === "number" && typeof bucket.platform === "string" && typeof bucket.mode === "string";
  if (typed && checkedKeys.has(key)) return key;
  if (!isValidBucket(bucket)) throw new SchedulerCacheError("bucket does not format to a valid bucket string", { code: "invalid_bucket" });
  if (checkedKeys.size >= CHECKED_KEYS_LIMIT) checkedKeys.clear();
  checkedKeys.add(key);
  return key;
}

export function assertAccountId(id: unknown): asserts id is string {
  if (typeof id !== "string" || id.length === 0) {
    throw new SchedulerCacheError("account id must be a non-empty string", { code: "invalid_account" });
  }
}

export function assertAccount(account: AccountSnapshot): void {
  assertAccountId(account?.id);
  const version = account.stateVersion;
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 0)) {
    throw new SchedulerCacheError(`account ${account.id} has a stateVersion that is not a non-negative safe integer`, {
      code: "invalid_account",
    });
  }
}

/** The record's `stateVersion`, or -1 when unversioned (the scripts' convention). */
export function stateVersionArgument(account: AccountSnapshot): number {
  return account.stateVersion ?? -1;
}

/** Checks ids are present and unique; returns them in order. */
export function accountIdsOf(accounts: readonly AccountSnapshot[]): string[] {
  const seen = new Set<string>();
  for (const account of accounts) {
    assertAccount(account);
    if (seen.has(account.id)) {
      throw new SchedulerCacheError(`account ${account.id} is listed twice in one snapshot`, { code: "invalid_account" });
    }
    seen.add(account.id);
  }
  return [...seen];
}

export function assertNonNegativeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new SchedulerCacheError(`${what} must be a non-negative safe integer`, { code: "invalid_argument" });
  }
}

export function assertPositiveInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new SchedulerCacheError(`${what} must be a positive safe integer`, { code: "invalid_argument" });
  }
}

/** Checks a ticket's numbers (its bucket is checked by the caller's `bucketKeyOf`). */
export function assertTicket(ticket: SnapshotTicket): void {
  const { version, active, sequence } = ticket;
  if (!Number.isSafeInteger(version) || version <= 0 || !Number.isSafeInteger(active) || active < 0 || active >= version ||
    !Number.isSafeInteger(sequence) || sequence < 0) {
    throw new SchedulerCacheError("snapshot ticket does not come from beginSnapshot", { code: "invalid_argument" });
  }
}
