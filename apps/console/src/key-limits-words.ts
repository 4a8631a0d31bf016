import type { ApiKeyLimits } from "./admin-types";
import type { Formatter } from "./format";
import type { Translate } from "./i18n/i18n";

/** A key's limits other than budgets, in short words ("60 requests/min", "2 at once", "models: a, b"). */
export function keyLimitWords(
  limits: ApiKeyLimits | null | undefined,
  t: Translate,
  format: Formatter,
): string[] {
  if (!limits) return [];
  const words: string[] = [];
  if (limits.requestsPerMinute !== undefined)
    words.push(t("limits.rpmShort", { n: format.number(limits.requestsPerMinute) }));
  if (limits.tokensPerMinute !== undefined)
    words.push(t("limits.tpmShort", { n: format.compact(limits.tokensPerMinute) }));
  if (limits.concurrency !== undefined)
    words.push(t("limits.concurrencyShort", { n: format.number(limits.concurrency) }));
  if (limits.models?.length) words.push(t("limits.modelsShort", { models: limits.models.join(", ") }));
  if (limits.allowedIps?.length) words.push(t("limits.ipsShort", { ips: limits.allowedIps.join(", ") }));
  return words;
}
