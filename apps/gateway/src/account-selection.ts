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
