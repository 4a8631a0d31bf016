import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  char,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

// The source of truth for the SQL in ../drizzle: after editing, run `pnpm db:generate` and commit the output.
// Imports nothing but drizzle-orm so drizzle-kit can load it on its own.

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** A group of accounts that API keys are bound to; one scheduling bucket per group. */
export const groups = pgTable(
  "groups",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull().unique(),
    platform: text("platform").notNull(),
    mode: text("mode", { enum: ["single", "mixed"] })
      .notNull()
      .default("single"),
    // The model a request gets when it names none the group serves (step 11); null: no default.
    defaultModel: text("default_model"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (table) => [check("groups_mode_check", sql`${table.mode} in ('single', 'mixed')`)],
);

/** An upstream account. Credentials are AES-256-GCM ciphertext (see credential-cipher.ts), never plaintext. */
export const accounts = pgTable(
  "accounts",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull(),
    platform: text("platform").notNull(),
    type: text("type", { enum: ["oauth", "apikey"] }).notNull(),
    credentialsEncrypted: text("credentials_encrypted").notNull(),
    // Plaintext copy of the credentials' expiresAt, written with every credentials write, so "which tokens
    // expire soon" is a query, not a scan-and-decrypt.
    tokenExpiresAt: timestamptz("token_expires_at"),
    priority: integer("priority").notNull().default(50),
    concurrency: integer("concurrency").notNull().default(3),
    status: text("status", { enum: ["active", "error", "disabled"] })
      .notNull()
      .default("active"),
    errorMessage: text("error_message"),
    schedulable: boolean("schedulable").notNull().default(true),
    rateLimitedUntil: timestamptz("rate_limited_until"),
    rateLimitReason: text("rate_limit_reason"),
    tempUnschedulableUntil: timestamptz("temp_unschedulable_until"),
    tempUnschedulableReason: text("temp_unschedulable_reason"),
    overloadedUntil: timestamptz("overloaded_until"),
    lastUsedAt: timestamptz("last_used_at"),
    baseUrl: text("base_url"),
    models: text("models").array(),
    // The account's own cool-downs, ms ({ overloaded, serverError, timeout, rateLimit, max }, each optional);
    // null: the environment's (COOLDOWN_*).
    cooldowns: jsonb("cooldowns").$type<Partial<Record<"overloaded" | "serverError" | "timeout" | "rateLimit" | "max", number>>>(),
    // Client model name -> upstream model name; a key ending in `*` matches by prefix. Null: no mapping.
    modelMap: jsonb("model_map").$type<Record<string, string>>(),
    // The upstream windows that are exhausted, per scope ("account", "family:opus", "model:<id>", ...):
    // [{ scope, window?, until (epoch ms), reason? }]. Null or empty: none.
    rateLimits: jsonb("rate_limits").$type<{ scope: string; window?: string; until: number; reason?: string }[]>(),
    // Moves up by one in every transaction that writes an outbox row for the account, so the scheduler cache
    // can refuse a push of an older state (AccountSnapshot.stateVersion).
    stateVersion: integer("state_version").notNull().default(1),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (table) => [
    index("accounts_oauth_expiry_idx")
      .on(table.tokenExpiresAt)
      .where(sql`${table.type} = 'oauth' and ${table.status} = 'active'`),
  ],
);

/** Which groups an account serves. Deleting either side removes the link. */
export const accountGroups = pgTable(
  "account_groups",
  {
    accountId: integer("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    groupId: integer("group_id")
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
  },
  (table) => [
    primaryKey({ columns: [table.accountId, table.groupId] }),
    index("account_groups_group_idx").on(table.groupId),
  ],
);

/** Client API keys. Only the SHA-256 hex of a key is stored; the key itself is shown once at creation. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull(),
    keyHash: char("key_hash", { length: 64 }).notNull().unique(),
    keyPrefix: text("key_prefix").notNull(),
    groupId: integer("group_id")
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["active", "revoked"] })
      .notNull()
      .default("active"),
    expiresAt: timestamptz("expires_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    lastUsedAt: timestamptz("last_used_at"),
    /** The key's limits (rates, concurrency, budgets, models, addresses); null: none. */
    limits: jsonb("limits"),
  },
  (table) => [index("api_keys_group_idx").on(table.groupId)],
);

/** One row per relayed request. No foreign keys: usage outlives the accounts and keys it names. */
export const usageLogs = pgTable(
  "usage_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    requestId: text("request_id").notNull(),
    apiKeyId: integer("api_key_id"),
    accountId: integer("account_id"),
    groupId: integer("group_id"),
    platform: text("platform").notNull(),
    model: text("model").notNull(),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    cacheReadTokens: integer("cache_read_tokens").notNull().default(0),
    cacheWriteTokens: integer("cache_write_tokens").notNull().default(0),
    /** Of cacheWriteTokens, those written for 5 minutes and for 1 hour (priced apart). */
    cacheWrite5mTokens: integer("cache_write_5m_tokens").notNull().default(0),
    cacheWrite1hTokens: integer("cache_write_1h_tokens").notNull().default(0),
    /** The model the upstream was asked for (after the account's model map); null: the same as `model`. */
    upstreamModel: text("upstream_model"),
    /** What the request cost in USD at the prices in force when the row was written. */
    costUsd: doublePrecision("cost_usd").notNull().default(0),
    /** True when no price matched the model (the request counts as free). */
    unpriced: boolean("unpriced").notNull().default(false),
    status: integer("status").notNull(),
    stream: boolean("stream").notNull().default(false),
    durationMs: integer("duration_ms").notNull(),
    ttfbMs: integer("ttfb_ms"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (table) => [
    index("usage_logs_created_at_idx").on(table.createdAt),
    index("usage_logs_api_key_created_at_idx").on(table.apiKeyId, table.createdAt),
  ],
);

/** Account and group changes for the scheduler-snapshot consumer, written in the same transaction as the change. */
export const schedulerOutbox = pgTable("scheduler_outbox", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  event: text("event").notNull(),
  accountId: integer("account_id"),
  groupId: integer("group_id"),
  payload: jsonb("payload"),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
});

/** A signed-in console session (POST /admin/session): only the SHA-256 of the cookie's value is stored. */
export const adminSessions = pgTable("admin_sessions", {
  idHash: char("id_hash", { length: 64 }).primaryKey(),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
  expiresAt: timestamptz("expires_at").notNull(),
});

/** The operator's price overrides (PUT /admin/pricing/:model), USD per million tokens; the shipped table fills the rest. */
export const modelPrices = pgTable("model_prices", {
  model: text("model").primaryKey(),
  inputUsdPerMTok: doublePrecision("input_usd_per_mtok").notNull(),
  outputUsdPerMTok: doublePrecision("output_usd_per_mtok").notNull(),
  cacheReadUsdPerMTok: doublePrecision("cache_read_usd_per_mtok").notNull(),
  cacheWrite5mUsdPerMTok: doublePrecision("cache_write_5m_usd_per_mtok").notNull(),
  cacheWrite1hUsdPerMTok: doublePrecision("cache_write_1h_usd_per_mtok").notNull(),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
});
