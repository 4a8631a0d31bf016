import type { AccountSnapshot } from "@subrelay/scheduler-cache";

/**
 * Whether an account may serve a request for `model` at `now`. Cool-downs are compared with the clock
 * here, at selection time, so an account comes back by itself the moment its time is up — no event,
 * no rebuild needed.
 */
export function isUsable(account: AccountSnapshot, now: number, model: string): boolean {
  if (account.status !== "active" || !account.schedulable) return false;
  if ((account.rateLimitedUntil ?? 0) > now) return false;
  if ((account.tempUnschedulableUntil ?? 0) > now) return false;
  if ((account.overloadedUntil ?? 0) > now) return false;
  return servesModel(account, model);
}

/**
 * An account with a model list serves exactly those; one without serves any model (the upstream
 * answers an unknown one with its own 404, which is relayed as it is).
 */
export function servesModel(account: AccountSnapshot, model: string): boolean {
  const models = account.models;
  return !models || models.length === 0 || models.includes(model);
}

/**
 * The usable accounts in preference order: lowest priority number first, then least recently used.
 * Load (in-flight / concurrency) is weighed when a slot is taken, within the best priority tier.
 */
export function rankCandidates(
  accounts: readonly AccountSnapshot[],
  options: { now: number; model: string; exclude: ReadonlySet<string> },
): AccountSnapshot[] {
  const usable = accounts.filter(
    (account) => !options.exclude.has(account.id) && isUsable(account, options.now, options.model),
  );
  return usable.sort((a, b) => a.priority - b.priority || (a.lastUsedAt ?? 0) - (b.lastUsedAt ?? 0));
}
