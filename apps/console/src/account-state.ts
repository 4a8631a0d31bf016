import type { Account } from "./admin-types";

/** What an account is doing now, in the order an operator cares about. */
export type AccountStateKind =
  "disabled" | "error" | "rate_limited" | "cooling_down" | "overloaded" | "active";

export const accountStateKinds: readonly AccountStateKind[] = [
  "active",
  "rate_limited",
  "cooling_down",
  "overloaded",
  "error",
  "disabled",
];

export interface AccountState {
  kind: AccountStateKind;
  /** When a timed state ends (epoch ms): the account turns active by itself then. */
  until?: number;
  /** The gateway's reason (error message, cool-down or rate-limit reason), when it gave one. */
  reason?: string;
}

export type AccountStateFields = Pick<
  Account,
  | "status"
  | "schedulable"
  | "errorMessage"
  | "rateLimitedUntil"
  | "rateLimitReason"
  | "rateLimits"
  | "tempUnschedulableUntil"
  | "tempUnschedulableReason"
  | "overloadedUntil"
>;

/**
 * The account's state at `now` (epoch ms), computed here rather than read from the server so that a
 * cool-down's end turns the row active on the viewer's clock, without waiting for the next poll.
 * A scoped rate limit (`family:opus`, `model:<id>`) leaves the account active: see `scopedRateLimits`.
 */
export function accountState(account: AccountStateFields, now: number): AccountState {
  if (account.status === "disabled" || !account.schedulable) return { kind: "disabled" };
  if (account.status === "error")
    return { kind: "error", ...(account.errorMessage ? { reason: account.errorMessage } : {}) };
  const accountWide = Math.max(
    account.rateLimitedUntil ?? 0,
    ...account.rateLimits.filter((limit) => limit.scope === "account").map((limit) => limit.until),
  );
  if (accountWide > now) return timed("rate_limited", accountWide, account.rateLimitReason);
  if (account.tempUnschedulableUntil !== null && account.tempUnschedulableUntil > now) {
    return timed("cooling_down", account.tempUnschedulableUntil, account.tempUnschedulableReason);
  }
  if (account.overloadedUntil !== null && account.overloadedUntil > now)
    return timed("overloaded", account.overloadedUntil, null);
  return { kind: "active" };
}

/** The scoped rate limits in force at `now` (not the account-wide one), soonest end first. */
export function scopedRateLimits(account: Pick<Account, "rateLimits">, now: number): Account["rateLimits"] {
  return account.rateLimits
    .filter((limit) => limit.scope !== "account" && limit.until > now)
    .sort((a, b) => a.until - b.until);
}

/** Whether an operator should look at the account: anything but active or disabled on purpose. */
export function needsAttention(state: AccountState): boolean {
  return state.kind !== "active" && state.kind !== "disabled";
}

function timed(kind: AccountStateKind, until: number, reason: string | null): AccountState {
  return { kind, until, ...(reason ? { reason } : {}) };
}
