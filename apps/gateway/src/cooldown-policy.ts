import type { AccountCooldowns } from "@subrelay/db";
import type { Verdict } from "@subrelay/providers-core";
import { DEFAULT_COOLDOWN_MAX_MS, type CooldownSettings } from "@subrelay/runtime";
import type { AccountStateVerdict } from "./account-state-recorder";

const DEFAULTS: CooldownSettings = { serverErrorMs: 0, timeoutMs: 0, maxMs: DEFAULT_COOLDOWN_MAX_MS };

/**
 * How long an upstream refusal benches an account, per verdict class: the environment's `COOLDOWN_*`, overridden
 * per account, every end capped at now + max. Pure and synchronous: the account's overrides ride in the snapshot
 * the relay already holds, so the policy costs no round trip.
 */
export class CooldownPolicy {
  private readonly settings: CooldownSettings;

  constructor(settings: Partial<CooldownSettings> = {}) {
    this.settings = { ...DEFAULTS, ...settings };
  }

  /**
   * The verdict with its `until` as the policy wants it: a provider's fallback replaced by the configured
   * cool-down (when one is configured), and any end, the upstream's own included, capped at now + max.
   */
  adjust(verdict: Verdict, overrides: unknown, now: number): Verdict {
    if (verdict.kind !== "rate_limited" && verdict.kind !== "overloaded") return verdict;
    const own = cooldownsOf(overrides);
    const configured =
      verdict.kind === "rate_limited" ? (own.rateLimit ?? this.settings.rateLimitMs) : (own.overloaded ?? this.settings.overloadedMs);
    const until = verdict.untilFrom === "fallback" && configured !== undefined ? now + configured : verdict.until;
    return { ...verdict, until: Math.max(now, Math.min(until, now + this.maxOf(own))) };
  }

  /**
   * What to record for the account after `verdict` (already `adjust`ed), or null: leave it alone. A 5xx or a
   * network failure / timeout cools the account down (as an overload: selection skips it until then) only
   * when a cool-down is configured for it; a rate limit or overload that ends now records nothing.
   */
  state(verdict: Verdict, overrides: unknown, now: number): AccountStateVerdict | null {
    switch (verdict.kind) {
      case "forbidden":
        return verdict;
      case "rate_limited":
      case "overloaded":
        return verdict.until > now ? verdict : null;
      case "server": {
        const own = cooldownsOf(overrides);
        const cooldown =
          verdict.cause === "network" ? (own.timeout ?? this.settings.timeoutMs) : (own.serverError ?? this.settings.serverErrorMs);
        if (cooldown <= 0) return null;
        return { kind: "overloaded", until: now + Math.min(cooldown, this.maxOf(own)), untilFrom: "fallback", reason: verdict.reason };
      }
      default:
        return null;
    }
  }

  private maxOf(own: AccountCooldowns): number {
    return own.max ?? this.settings.maxMs;
  }
}

const FIELDS = ["overloaded", "serverError", "timeout", "rateLimit", "max"] as const;

/** The well-formed fields of a snapshot's `cooldowns` (the admin API validated them; a snapshot is read defensively). */
function cooldownsOf(value: unknown): AccountCooldowns {
  if (typeof value !== "object" || value === null) return {};
  const given = value as Record<string, unknown>;
  const own: AccountCooldowns = {};
  for (const field of FIELDS) {
    const ms = given[field];
    if (typeof ms === "number" && Number.isSafeInteger(ms) && ms >= 0) own[field] = ms;
  }
  return own;
}
