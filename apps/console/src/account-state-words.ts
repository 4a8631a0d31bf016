import type { AccountState, AccountStateKind } from "./account-state";
import type { Formatter } from "./format";
import { formatCountdown } from "./format";
import type { Translate } from "./i18n/i18n";
import type { MessageKey } from "./i18n/messages-en";

const kindLabels: Record<AccountStateKind, MessageKey> = {
  active: "state.active",
  rate_limited: "state.rateLimited",
  cooling_down: "state.coolingDown",
  overloaded: "state.overloaded",
  error: "state.error",
  disabled: "state.disabled",
};

/** The name of a state kind, for filters and counts ("rate limited"). */
export function stateKindLabel(kind: AccountStateKind, t: Translate): string {
  return t(kindLabels[kind]);
}

/**
 * The state in words: "active", "rate limited until 14:05", "cooling down", "overloaded", "error: <reason>",
 * "disabled"; `countdown` is the time left of a timed state ("1:05"), ticking with `now`.
 */
export function describeAccountState(
  state: AccountState,
  t: Translate,
  format: Formatter,
  now: number,
): { text: string; countdown?: string } {
  const countdown = state.until !== undefined ? { countdown: formatCountdown(state.until - now) } : {};
  switch (state.kind) {
    case "rate_limited":
      return {
        text: t("state.rateLimitedUntil", { time: format.time(state.until ?? now, now) }),
        ...countdown,
      };
    case "error":
      return { text: state.reason ? t("state.errorWithReason", { reason: state.reason }) : t("state.error") };
    default:
      return { text: t(kindLabels[state.kind]), ...countdown };
  }
}
