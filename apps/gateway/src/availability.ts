import { scopeCovers } from "@subrelay/providers-core";

/** The fields of an account that decide whether it can be scheduled (an AccountSnapshot or an AccountRecord). */
export interface AvailabilityFields {
  status: "active" | "error" | "disabled";
  schedulable: boolean;
  rateLimitedUntil?: number | null;
  /** Exhausted upstream windows per scope (`family:opus`, `model:<id>`, ...): they stop the requests they cover. */
  rateLimits?: ReadonlyArray<{ scope: string; until: number }> | null;
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
 *
 * `model` is the request's: a scoped rate limit (`rateLimits`) counts only when its scope covers it (the
 * account, the model's family, the model). Absent or `""`: only account-wide limits count (a retrieval by id,
 * the account-state metrics).
 */
export function availability(account: AvailabilityFields, now: number, model = ""): Availability {
  if (account.status !== "active") return { state: account.status };
  if (!account.schedulable) return { state: "unschedulable" };
  const rateLimited = Math.max(account.rateLimitedUntil ?? 0, scopedUntil(account, now, model));
  const coolingDown = account.tempUnschedulableUntil ?? 0;
  const overloaded = account.overloadedUntil ?? 0;
  const until = Math.max(rateLimited, coolingDown, overloaded);
  if (until <= now) return { state: "active" };
  const state = rateLimited > now ? "rate_limited" : coolingDown > now ? "cooling_down" : "overloaded";
  return { state, until };
}

/** The latest end of the scoped limits in force at `now` that cover `model` (0: none). */
function scopedUntil(account: AvailabilityFields, now: number, model: string): number {
  const limits = account.rateLimits;
  if (!limits || limits.length === 0) return 0;
  let until = 0;
  for (const limit of limits) if (limit.until > now && limit.until > until && scopeCovers(limit.scope, model)) until = limit.until;
  return until;
}

/**
 * The earliest moment one of `accounts` comes back for a request for `model`, when every one is waiting for a
 * cool-down or a rate limit covering it (epoch ms).
 */
export function earliestComeback(accounts: Iterable<AvailabilityFields>, now: number, model = ""): number | undefined {
  let earliest: number | undefined;
  for (const account of accounts) {
    const found = availability(account, now, model);
    if (!("until" in found)) return undefined;
    earliest = earliest === undefined ? found.until : Math.min(earliest, found.until);
  }
  return earliest;
}
