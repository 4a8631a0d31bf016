/** The fields of an account that decide whether it can be scheduled (an AccountSnapshot or an AccountRecord). */
export interface AvailabilityFields {
  status: "active" | "error" | "disabled";
  schedulable: boolean;
  rateLimitedUntil?: number | null;
  tempUnschedulableUntil?: number | null;
  overloadedUntil?: number | null;
}

/** An account's state at one moment, as selection, `Retry-After` and the account-state metrics see it. */
export type Availability =
  /** Usable now. */
  | { state: "active" }
  /** Waiting for a cool-down; usable again at `until` (epoch ms, the latest of the cool-downs in force). */
  | { state: "rate_limited" | "cooling_down" | "overloaded"; until: number }
  /** Needs an operator: errored, disabled, or taken out of scheduling. */
  | { state: "error" | "disabled" | "unschedulable" };

export type AvailabilityState = Availability["state"];

/**
 * Whether `account` can serve a request at `now`: the one rule for every caller. Cool-downs are compared
 * with the clock here, so an account comes back by itself the moment its time is up (no event needed).
 * A state an operator must clear comes first; among cool-downs in force, the state names the first of
 * rate limit, cool-down, overload, and `until` is when the last of them ends.
 */
export function availability(account: AvailabilityFields, now: number): Availability {
  if (account.status !== "active") return { state: account.status };
  if (!account.schedulable) return { state: "unschedulable" };
  const rateLimited = account.rateLimitedUntil ?? 0;
  const coolingDown = account.tempUnschedulableUntil ?? 0;
  const overloaded = account.overloadedUntil ?? 0;
  const until = Math.max(rateLimited, coolingDown, overloaded);
  if (until <= now) return { state: "active" };
  const state = rateLimited > now ? "rate_limited" : coolingDown > now ? "cooling_down" : "overloaded";
  return { state, until };
}

/** The earliest moment one of `accounts` comes back, when every one is waiting for a cool-down (epoch ms). */
export function earliestComeback(accounts: Iterable<AvailabilityFields>, now: number): number | undefined {
  let earliest: number | undefined;
  for (const account of accounts) {
    const found = availability(account, now);
    if (!("until" in found)) return undefined;
    earliest = earliest === undefined ? found.until : Math.min(earliest, found.until);
  }
  return earliest;
}
