import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { availability } from "./availability";
import { mapModel, type ModelAliases } from "./model-map";

/**
 * An account with a model list serves exactly those; one without serves any model (the upstream
 * answers an unknown one with its own 404, which is relayed as it is). The list is checked against the name
 * the account is sent (after its `modelMap`), and accepts the platform's aliases of a listed name (`aliases`).
 */
export function servesModel(account: AccountSnapshot, model: string, aliases?: ModelAliases): boolean {
  const models = account.models;
  if (!models || models.length === 0 || models.includes(model)) return true;
  // Off the common path: a listed name matched above.
  const upstream = mapModel(account.modelMap, model) ?? model;
  if (upstream !== model && models.includes(upstream)) return true;
  return aliases !== undefined && aliases.equivalents(account.platform, upstream).some((name) => models.includes(name));
}

export interface RankOptions {
  now: number;
  exclude: ReadonlySet<string>;
  /** The request's model: an account is skipped only for the scoped rate limits that cover it. Absent: `""`. */
  model?: string;
  /**
   * PREFER_SOONEST_RESET: among accounts of equal priority, the one whose next window resets soonest (any
   * scope, in force) comes first, accounts without a window after them; then least recently used. Default true.
   */
  preferSoonestReset?: boolean;
}

/**
 * The accounts usable now for the request's model (see `availability`) in preference order: lowest priority
 * number first, then (PREFER_SOONEST_RESET) the soonest reset of a window in force, then least recently used.
 * Load (in-flight / concurrency) is weighed when a slot is taken, within the best priority tier.
 */
export function rankCandidates(accounts: readonly AccountSnapshot[], options: RankOptions): AccountSnapshot[] {
  const { now, model = "" } = options;
  const usable = accounts.filter((account) => !options.exclude.has(account.id) && availability(account, now, model).state === "active");
  const byReset = options.preferSoonestReset !== false && usable.some((account) => (account.rateLimits?.length ?? 0) > 0);
  if (!byReset) return usable.sort((a, b) => a.priority - b.priority || (a.lastUsedAt ?? 0) - (b.lastUsedAt ?? 0));
  const resets = new Map(usable.map((account) => [account.id, nextReset(account, now)]));
  return usable.sort(
    (a, b) =>
      a.priority - b.priority || resets.get(a.id)! - resets.get(b.id)! || (a.lastUsedAt ?? 0) - (b.lastUsedAt ?? 0),
  );
}

/** The soonest end of the account's scoped windows still in force; +Infinity when it has none. */
function nextReset(account: AccountSnapshot, now: number): number {
  let soonest = Number.POSITIVE_INFINITY;
  for (const limit of account.rateLimits ?? []) if (limit.until > now && limit.until < soonest) soonest = limit.until;
  return soonest;
}
