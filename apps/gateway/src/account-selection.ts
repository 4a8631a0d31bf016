import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { availability } from "./availability";

/**
 * An account with a model list serves exactly those; one without serves any model (the upstream
 * answers an unknown one with its own 404, which is relayed as it is).
 */
export function servesModel(account: AccountSnapshot, model: string): boolean {
  const models = account.models;
  return !models || models.length === 0 || models.includes(model);
}

/**
 * The accounts usable now (see `availability`) in preference order: lowest priority number first, then
 * least recently used. Load (in-flight / concurrency) is weighed when a slot is taken, within the best
 * priority tier.
 */
export function rankCandidates(
  accounts: readonly AccountSnapshot[],
  options: { now: number; exclude: ReadonlySet<string> },
): AccountSnapshot[] {
  const usable = accounts.filter(
    (account) => !options.exclude.has(account.id) && availability(account, options.now).state === "active",
  );
  return usable.sort((a, b) => a.priority - b.priority || (a.lastUsedAt ?? 0) - (b.lastUsedAt ?? 0));
}
