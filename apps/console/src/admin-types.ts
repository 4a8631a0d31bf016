// The admin API's answers, as apps/gateway/README.md "## Admin API" documents them. Times are epoch ms.

export type Platform = "claude" | "openai" | "gemini";
export const platforms: readonly Platform[] = ["claude", "openai", "gemini"];

export interface AccountCooldowns {
  overloaded?: number;
  serverError?: number;
  timeout?: number;
  rateLimit?: number;
  max?: number;
}
export const cooldownFields = ["overloaded", "serverError", "timeout", "rateLimit", "max"] as const;

/** A rate limit in force: `account` (the whole account), `family:opus`, `model:<id>`... until `until`. */
export interface RateLimit {
  scope: string;
  window?: string;
  until: number;
}

/** An account as the admin API shows it: state, never secrets. */
export interface Account {
  id: string;
  name: string;
  platform: string;
  type: "oauth" | "apikey";
  priority: number;
  concurrency: number;
  status: "active" | "error" | "disabled";
  errorMessage: string | null;
  schedulable: boolean;
  rateLimitedUntil: number | null;
  rateLimitReason: string | null;
  tempUnschedulableUntil: number | null;
  tempUnschedulableReason: string | null;
  overloadedUntil: number | null;
  lastUsedAt: number | null;
  tokenExpiresAt: number | null;
  baseUrl: string | null;
  models: string[] | null;
  cooldowns: AccountCooldowns | null;
  modelMap: Record<string, string> | null;
  rateLimits: RateLimit[];
  groupIds: number[];
  createdAt: number;
  updatedAt: number;
  /** Slots held now; null when the gateway could not read them. */
  inFlight: number | null;
  /** Requests waiting for this account (sticky waiters); null when unknown. */
  waiters: number | null;
}

export interface Group {
  id: number;
  name: string;
  platform: string;
  mode: "single" | "mixed";
  defaultModel: string | null;
  createdAt: number;
  inFlight: number | null;
  waiters: number | null;
}

/**
 * What one key may do (gateway README "Limits per key"), each limit optional: absent, no such limit. Rates are
 * per sliding minute; budgets are USD per calendar day, week (from Monday) and month in the gateway's
 * `BUDGET_TIMEZONE`, and over the key's life.
 */
export interface ApiKeyLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  concurrency?: number;
  costPerDayUsd?: number;
  costPerWeekUsd?: number;
  costPerMonthUsd?: number;
  costTotalUsd?: number;
  /** The only models the key may ask for. */
  models?: string[];
  /** The only client addresses it may be used from: addresses or CIDR ranges. */
  allowedIps?: string[];
}
export const apiKeyRateFields = ["requestsPerMinute", "tokensPerMinute", "concurrency"] as const;
export const apiKeyBudgetFields = ["costPerDayUsd", "costPerWeekUsd", "costPerMonthUsd", "costTotalUsd"] as const;
export type ApiKeyRateField = (typeof apiKeyRateFields)[number];
export type ApiKeyBudgetField = (typeof apiKeyBudgetFields)[number];

export interface ApiKey {
  id: number;
  name: string;
  prefix: string;
  groupId: number;
  status: "active" | "revoked";
  expiresAt: number | null;
  createdAt: number;
  lastUsedAt: number | null;
  /** Null (or absent, from a gateway before limits): none. */
  limits?: ApiKeyLimits | null;
}

/** `POST /admin/api-keys`: the only answer that carries the key. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export type UsageGroupBy = "account" | "key" | "model";

export interface UsageTotals {
  key: string | null;
  name: string | null;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** What the rows cost, USD (unpriced rows count 0). */
  costUsd: number;
}

export interface UsageTotalsAnswer {
  from: number;
  to: number;
  groupBy: UsageGroupBy;
  data: UsageTotals[];
}

export type UsageStep = "minute" | "hour" | "day";

export interface UsageSeriesLine {
  /** The account's or key's id, or the model; "total" without groupBy; null for requests that had none. */
  key: string | null;
  /** The account's or key's name (the model for models); null once it was deleted. */
  name: string | null;
  requests: number[];
  errors: number[];
  inputTokens: number[];
  outputTokens: number[];
  cacheReadTokens: number[];
  cacheWriteTokens: number[];
  /** USD per bucket. */
  costUsd: number[];
}

export interface UsageSeries {
  from: number;
  to: number;
  step: UsageStep;
  /** Null without groupBy (one series, "total"). */
  groupBy: UsageGroupBy | null;
  /** Bucket starts, epoch ms. */
  buckets: number[];
  series: UsageSeriesLine[];
}

export interface Session {
  expiresAt: number;
}

export interface GroupInput {
  name: string;
  platform: string;
  mode?: "single" | "mixed";
  defaultModel?: string | null;
}

export interface GroupPatch {
  name?: string;
  defaultModel?: string | null;
}

export interface AccountInput {
  name: string;
  platform: string;
  type: "oauth" | "apikey";
  credentials: Record<string, unknown>;
  groupIds: number[];
  priority?: number;
  concurrency?: number;
  baseUrl?: string | null;
  models?: string[] | null;
  modelMap?: Record<string, string> | null;
  cooldowns?: AccountCooldowns | null;
}

export interface AccountPatch {
  name?: string;
  credentials?: Record<string, unknown>;
  groupIds?: number[];
  priority?: number;
  concurrency?: number;
  baseUrl?: string | null;
  models?: string[] | null;
  modelMap?: Record<string, string> | null;
  cooldowns?: AccountCooldowns | null;
  rateLimits?: RateLimit[] | null;
  status?: "active" | "disabled";
  schedulable?: boolean;
}

export interface ApiKeyInput {
  name: string;
  groupId: number;
  expiresAt?: number | null;
  limits?: ApiKeyLimits | null;
}

/** `PATCH /admin/api-keys/:id`: omitted fields are left alone; null clears `expiresAt` and `limits`. */
export interface ApiKeyPatch {
  name?: string;
  expiresAt?: number | null;
  limits?: ApiKeyLimits | null;
}

/** USD per million tokens, by token class: exactly the body of `PUT /admin/pricing/:model`. */
export interface TokenPrices {
  inputUsdPerMTok: number;
  outputUsdPerMTok: number;
  cacheReadUsdPerMTok: number;
  cacheWrite5mUsdPerMTok: number;
  cacheWrite1hUsdPerMTok: number;
}
export const tokenPriceFields = [
  "inputUsdPerMTok",
  "outputUsdPerMTok",
  "cacheReadUsdPerMTok",
  "cacheWrite5mUsdPerMTok",
  "cacheWrite1hUsdPerMTok",
] as const;

/** A platform's long-context tier: a prompt above `aboveInputTokens` has all its tokens billed at these prices. */
export interface LongContextPrice extends TokenPrices {
  aboveInputTokens: number;
}

/** One price of `GET /admin/pricing`: a shipped list price or an operator's override. */
export interface PriceEntry extends TokenPrices {
  /** A model id or a family prefix (`claude-sonnet-4-5` prices its dated ids too). */
  model: string;
  longContext?: LongContextPrice;
  source: "shipped" | "override";
  /** The platform whose list has the model or its family; null for an override matching none. */
  platform: string | null;
  /** For an override of a shipped model: the price `DELETE` returns to. */
  shipped?: TokenPrices & { longContext?: LongContextPrice };
}

export interface PricingAnswer {
  data: PriceEntry[];
  /** Models served without a price (the last day's, every replica): they cost 0 until priced. */
  unpriced: string[];
}
