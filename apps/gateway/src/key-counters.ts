import type { ApiKeyLimits } from "@subrelay/db";
import type { BudgetWindows } from "./budget-windows";

/** The limits counted per key, in the order of their outcome codes (1-based) in the slot scripts. */
export const COUNTED_LIMITS = [
  "requestsPerMinute",
  "tokensPerMinute",
  "costPerDayUsd",
  "costPerWeekUsd",
  "costPerMonthUsd",
  "costTotalUsd",
] as const;

export type CountedLimit = (typeof COUNTED_LIMITS)[number];

/** A key's spend per window, as rebuilt from its usage log (each window's start is the admission's). */
export interface SpendSeed {
  dayUsd: number;
  weekUsd: number;
  monthUsd: number;
  totalUsd: number;
}

/**
 * What a request of a key with counted limits asks for along with its slot: admitted (counted in the key's
 * request window) when it takes a slot, refused when a limit is reached. One per request, whatever the
 * number of acquisitions (failovers, re-sends, a wait's retries): the request is counted once.
 */
export interface KeyAdmission {
  apiKeyId: string;
  requestId: string;
  limits: ApiKeyLimits;
  /** Epoch ms on the gateway's clock: the rates' sliding minute and the calendar windows are the gateway's. */
  now: number;
  windows: BudgetWindows;
  /** Spend rebuilt from the usage log, given once the counters were found gone ("cold"). */
  seed?: SpendSeed;
  /** An earlier acquisition of this request took a slot (a failover's): its limits are neither checked nor counted again. */
  admitted?: boolean;
}

/** A request refused for a limit of its key; `retryAfterMs` until the window lets it through (null: never, a lifetime budget). */
export interface KeyRefusal {
  limit: CountedLimit;
  retryAfterMs: number | null;
}

/**
 * Why an admission took no slot: a limit reached, the key's spend counters are gone (rebuild and ask again with a
 * seed), or the key has as many requests in flight as its `concurrency` (`"busy"`: wait for one of its leases,
 * `keyLeaseHolder`, then ask again).
 */
export type KeyVerdict = KeyRefusal | "cold" | "busy";

/** The pseudo-account whose leases are a key's requests in flight (its `concurrency`); lease ids are request ids. */
export function keyLeaseHolder(apiKeyId: string): string {
  return `apikey:${apiKeyId}`;
}

/** What a finished request used, charged to its key when its slot is released. */
export interface KeyCharge {
  /** Input, output and cache tokens. */
  tokens: number;
  costUsd: number;
  /** When the request ended, epoch ms on the gateway's clock: its tokens count in that second's share of the minute. */
  at: number;
}

/** Whether a slot outcome is a key's verdict rather than a slot (or the lack of one). */
export function isKeyVerdict(outcome: unknown): outcome is KeyVerdict {
  return outcome === "cold" || outcome === "busy" || (typeof outcome === "object" && outcome !== null && "limit" in outcome);
}

/** Whether `limits` has anything counted (rates, budgets, concurrency); models and addresses need no counters. */
export function hasCountedLimits(limits: ApiKeyLimits | undefined): limits is ApiKeyLimits {
  return limits !== undefined && (limits.concurrency !== undefined || COUNTED_LIMITS.some((limit) => limits[limit] !== undefined));
}

const MINUTE_MS = 60_000;

interface KeySpend {
  dayStart: number;
  dayUsd: number;
  weekStart: number;
  weekUsd: number;
  monthStart: number;
  monthUsd: number;
  totalUsd: number;
}

interface KeyState {
  /** Admitted requests: request id -> epoch ms. */
  requests: Map<string, number>;
  /** Tokens per second: epoch second -> tokens. */
  tokens: Map<number, number>;
  /** Absent until seeded from the usage log (after a start). */
  spend?: KeySpend;
}

/**
 * The key counters of one process (the embedded default), with the Redis scripts' semantics: `admit` checks
 * the budgets, then the rates; `count` takes the request into its rate window once it holds a slot; `charge`
 * adds what it used when the slot is released.
 */
export class MemoryKeyCounters {
  private readonly keys = new Map<string, KeyState>();

  /** Null when the request may take a slot (or was already admitted), else why not. */
  admit(admission: KeyAdmission): KeyVerdict | null {
    const state = this.state(admission.apiKeyId);
    if (admission.admitted || state.requests.has(admission.requestId)) return null;
    const { now, windows, limits } = admission;
    if (!state.spend) {
      if (!admission.seed) return "cold";
      const seed = admission.seed;
      state.spend = {
        dayStart: windows.dayStart,
        dayUsd: seed.dayUsd,
        weekStart: windows.weekStart,
        weekUsd: seed.weekUsd,
        monthStart: windows.monthStart,
        monthUsd: seed.monthUsd,
        totalUsd: seed.totalUsd,
      };
    }
    const spend = state.spend;
    const budgets: [CountedLimit, number, number | null][] = [
      ["costPerDayUsd", spend.dayStart === windows.dayStart ? spend.dayUsd : 0, windows.dayEnd],
      ["costPerWeekUsd", spend.weekStart === windows.weekStart ? spend.weekUsd : 0, windows.weekEnd],
      ["costPerMonthUsd", spend.monthStart === windows.monthStart ? spend.monthUsd : 0, windows.monthEnd],
      ["costTotalUsd", spend.totalUsd, null],
    ];
    for (const [limit, spent, end] of budgets) {
      const budget = limits[limit];
      if (budget !== undefined && spent >= budget) return { limit, retryAfterMs: end === null ? null : end - now };
    }
    for (const [id, at] of state.requests) if (at <= now - MINUTE_MS) state.requests.delete(id);
    if (limits.requestsPerMinute !== undefined && state.requests.size >= limits.requestsPerMinute) {
      const oldest = Math.min(...state.requests.values());
      return { limit: "requestsPerMinute", retryAfterMs: oldest + MINUTE_MS - now };
    }
    let tokens = 0;
    let oldestSecond = Infinity;
    for (const [second, used] of state.tokens) {
      if (second * 1000 <= now - MINUTE_MS) state.tokens.delete(second);
      else {
        tokens += used;
        oldestSecond = Math.min(oldestSecond, second);
      }
    }
    if (limits.tokensPerMinute !== undefined && tokens >= limits.tokensPerMinute) {
      return { limit: "tokensPerMinute", retryAfterMs: oldestSecond * 1000 + MINUTE_MS - now };
    }
    return null;
  }

  /** The admitted request took a slot: it counts in its key's request window. */
  count(admission: KeyAdmission): void {
    // Only a key with a request rate keeps its requests (as on Redis).
    if (admission.limits.requestsPerMinute !== undefined) this.state(admission.apiKeyId).requests.set(admission.requestId, admission.now);
  }

  /** What an admitted request used, at its end (tokens) and in its admission's calendar windows (cost). */
  charge(admission: KeyAdmission, charge: KeyCharge): void {
    const state = this.state(admission.apiKeyId);
    if (charge.tokens > 0 && admission.limits.tokensPerMinute !== undefined) {
      const second = Math.floor(charge.at / 1000);
      state.tokens.set(second, (state.tokens.get(second) ?? 0) + charge.tokens);
    }
    const spend = state.spend;
    // Counters not rebuilt yet: the usage log has the cost, and the rebuild reads it.
    if (!spend || !(charge.costUsd > 0)) return;
    const { windows } = admission;
    if (spend.dayStart !== windows.dayStart) Object.assign(spend, { dayStart: windows.dayStart, dayUsd: 0 });
    if (spend.weekStart !== windows.weekStart) Object.assign(spend, { weekStart: windows.weekStart, weekUsd: 0 });
    if (spend.monthStart !== windows.monthStart) Object.assign(spend, { monthStart: windows.monthStart, monthUsd: 0 });
    spend.dayUsd += charge.costUsd;
    spend.weekUsd += charge.costUsd;
    spend.monthUsd += charge.costUsd;
    spend.totalUsd += charge.costUsd;
  }

  private state(apiKeyId: string): KeyState {
    let state = this.keys.get(apiKeyId);
    if (!state) {
      state = { requests: new Map(), tokens: new Map() };
      this.keys.set(apiKeyId, state);
    }
    return state;
  }
}
