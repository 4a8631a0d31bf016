import type { ApiKeyLimits } from "@subrelay/db";
import { Group } from "@subrelay/singleflight";
import type { ApiKeyGrant } from "./api-key-authenticator";
import { budgetWindows, type BudgetWindows } from "./budget-windows";
import { GatewayError } from "./gateway-error";
import { hasCountedLimits, type KeyAdmission, type KeyCharge, type KeyRefusal, type SpendSeed } from "./key-counters";
import type { UsageRow } from "./usage-recorder";

const MINUTE_MS = 60_000;

/** A key's use from its usage log: spend per window and over its life, requests and tokens. */
export interface KeyUsageFigures {
  totalUsd: number;
  monthUsd: number;
  weekUsd: number;
  dayUsd: number;
  requestsDay: number;
  requestsMinute: number;
  tokensDay: number;
  tokensMinute: number;
}

export interface KeyLimitsOptions {
  /** `BUDGET_TIMEZONE`: the zone of the daily, weekly (from Monday) and monthly windows. Default "UTC". */
  timeZone?: string;
  /** A key's use in the given windows, from the usage log (rows written and rows still queued). */
  usage(apiKeyId: string, windows: BudgetWindows): Promise<KeyUsageFigures>;
  /** How long a rebuilt spend is reused for counters found gone again (other requests of the same key), ms. Default 5 s. */
  seedTtlMs?: number;
  now?: () => number;
}

/**
 * A key's rates and budgets on the request path: the admission a request of a limited key takes with its slot,
 * the rebuild of spend counters found gone (once per key, shared by concurrent requests), the charge a finished
 * request leaves, and the 429 of a limit reached.
 */
export class KeyLimits {
  readonly timeZone: string;
  private readonly now: () => number;
  private readonly seedTtlMs: number;
  private readonly seeds = new Group<SpendSeed>();
  private calendar: BudgetWindows | undefined;
  private readonly recentSeeds = new Map<string, { seed: SpendSeed; at: number; windows: BudgetWindows }>();

  constructor(private readonly options: KeyLimitsOptions) {
    this.timeZone = options.timeZone ?? "UTC";
    this.now = options.now ?? Date.now;
    this.seedTtlMs = options.seedTtlMs ?? 5_000;
  }

  /** The windows now. The calendar ones change at midnight only: reused until then (Intl's time-zone math is not free). */
  windows(now = this.now()): BudgetWindows {
    const cached = this.calendar;
    if (cached && now >= cached.dayStart && now < cached.dayEnd) return { ...cached, minuteStart: now - MINUTE_MS };
    this.calendar = budgetWindows(now, this.timeZone);
    return this.calendar;
  }

  /** A key's use now, from its usage log (its key holder's `/v1/usage`). */
  usage(apiKeyId: string): Promise<KeyUsageFigures> {
    return this.options.usage(apiKeyId, this.windows());
  }

  /** The admission of a request of `grant`; undefined when its key has no rate or budget. */
  admission(grant: ApiKeyGrant, requestId: string): KeyAdmission | undefined {
    if (!hasCountedLimits(grant.limits)) return undefined;
    const now = this.now();
    return { apiKeyId: grant.apiKeyId, requestId, limits: grant.limits, now, windows: this.windows(now) };
  }

  /** The admission with the key's spend rebuilt from its usage log, for counters found gone. */
  async seeded(admission: KeyAdmission): Promise<KeyAdmission> {
    const recent = this.recentSeeds.get(admission.apiKeyId);
    if (recent && this.now() - recent.at < this.seedTtlMs && recent.windows.dayStart === admission.windows.dayStart) {
      return { ...admission, seed: recent.seed };
    }
    const { value } = await this.seeds.do(admission.apiKeyId, async () => {
      const usage = await this.options.usage(admission.apiKeyId, admission.windows);
      const seed = { dayUsd: usage.dayUsd, weekUsd: usage.weekUsd, monthUsd: usage.monthUsd, totalUsd: usage.totalUsd };
      this.recentSeeds.set(admission.apiKeyId, { seed, at: this.now(), windows: admission.windows });
      if (this.recentSeeds.size > 10_000) this.recentSeeds.delete(this.recentSeeds.keys().next().value!);
      return seed;
    });
    return { ...admission, seed: value };
  }

  /** What a finished request's usage row charges its key (its `costUsd`, and its tokens). */
  charge(row: UsageRow): KeyCharge {
    const cost = row.costUsd ?? 0;
    return {
      tokens: row.inputTokens + row.outputTokens + row.cacheReadTokens + row.cacheWriteTokens,
      costUsd: Number.isFinite(cost) && cost > 0 ? cost : 0,
      at: this.now(),
    };
  }

  /** The 429 of a limit reached: OpenAI's `insufficient_quota` for a budget, `rate_limit_exceeded` for a rate. */
  refusal(refusal: KeyRefusal, limits: ApiKeyLimits): GatewayError {
    const value = limits[refusal.limit] ?? 0;
    const budget = refusal.limit.startsWith("cost");
    const retryAfterSeconds = refusal.retryAfterMs === null ? undefined : Math.max(1, Math.ceil(refusal.retryAfterMs / 1000));
    const amount = budget ? `$${value < 0.01 && value > 0 ? String(value) : value.toFixed(2)}` : String(value);
    const when = retryAfterSeconds === undefined ? "" : `; retry in ${retryAfterSeconds} s`;
    return new GatewayError("rate_limited", `This API key's ${refusal.limit} of ${amount} reached${when}.`, {
      reason: budget ? "insufficient_quota" : "rate_limit_exceeded",
      retryAfterSeconds,
    });
  }
}
