import type { AccountSnapshot, SchedulerCache } from "@subrelay/scheduler-cache";

/** Where an account's current scheduling state is read from (the database's AccountRepository). */
export interface AccountSnapshotSource {
  getAccountSnapshot(id: string): Promise<AccountSnapshot | null>;
}

/**
 * Copies one account's current state from the database into the scheduler cache: `setAccount` when it
 * exists, `deleteAccount` when it is gone. Reads the current row, so pushing twice (or late) is harmless.
 */
export async function pushAccountSnapshot(
  accounts: AccountSnapshotSource,
  scheduler: Pick<SchedulerCache, "setAccount" | "deleteAccount">,
  id: string,
): Promise<void> {
  const snapshot = await accounts.getAccountSnapshot(id);
  if (snapshot === null) await scheduler.deleteAccount(id);
  else await scheduler.setAccount(snapshot);
}
