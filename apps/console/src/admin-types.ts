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

export interface ApiKey {
  id: number;
  name: string;
  prefix: string;
  groupId: number;
  status: "active" | "revoked";
  expiresAt: number | null;
  createdAt: number;
  lastUsedAt: number | null;
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
}
