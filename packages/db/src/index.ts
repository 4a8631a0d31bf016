export { createDatabase, type Database, type DatabaseOptions } from "./create-database";
export { embeddedPostgresSettings } from "./embedded-postgres-settings";
export { migrationsFolder } from "./migrations-folder";
export { CredentialCipher, generateSecretKey, parseSecretKey } from "./credential-cipher";
export { DatabaseError, type DatabaseErrorCode, type DatabaseErrorOptions } from "./database-error";
export {
  AccountRepository,
  type AccountCredentials,
  type AccountPatch,
  type AccountRecord,
  type AccountStatus,
  type AccountType,
  type ApiKeyCredentials,
  type ExpiringOAuthAccount,
  type ExpiringOAuthPage,
  type ExpiringOAuthQuery,
  type NewAccount,
  type OAuthCredentialsInput,
} from "./account-repository";
export { AdminSessionRepository } from "./admin-session-repository";
export {
  ApiKeyRepository,
  hashApiKey,
  isApiKeyShaped,
  type ApiKeyLookup,
  type ApiKeyPatch,
  type ApiKeyRecord,
  type CreatedApiKey,
  type NewApiKey,
} from "./api-key-repository";
export {
  apiKeyInputProblems,
  apiKeyPatchProblems,
  parseExpiresAt,
  type ApiKeyLimits,
  type AccountCooldowns,
  type InputProblem,
  type InputRuleOptions,
  type RateLimitInput,
} from "./input-rules";
export { GroupRepository, type GroupDeletion, type GroupPatch, type GroupRecord, type NewGroup } from "./group-repository";
export {
  ModelPriceRepository,
  modelPriceFields,
  modelPriceInputProblems,
  type ModelPriceField,
  type ModelPriceInput,
  type ModelPriceRecord,
} from "./model-price-repository";
export { OutboxRepository, type NewOutboxRow, type OutboxEvent, type OutboxRow } from "./outbox-repository";
export {
  UsageRepository,
  USAGE_STEP_MS,
  type CopyFromCsv,
  type KeyUsage,
  type KeyUsageQuery,
  type UsageGroupBy,
  type UsageRow,
  type UsageSeries,
  type UsageSeriesLine,
  type UsageSeriesQuery,
  type UsageStep,
  type UsageTotals,
  type UsageTotalsQuery,
} from "./usage-repository";
export type { SqlExecutor } from "./sql-executor";
export * as schema from "./schema";
