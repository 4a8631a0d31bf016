import type { SchedulerMode } from "@subrelay/scheduler-cache";
import { createHash, randomInt } from "node:crypto";
import { asc, eq, sql } from "drizzle-orm";
import { translateConstraintError } from "./database-error";
import { fromEpochMs, toEpochMs } from "./epoch-ms";
import { apiKeyInputProblems, apiKeyPatchProblems, parseExpiresAt, problemsError, type ApiKeyLimits } from "./input-rules";
import { apiKeys, groups } from "./schema";
import type { SqlExecutor } from "./sql-executor";

/** An API key as stored: everything but the key (which is never stored). */
export interface ApiKeyRecord {
  id: number;
  name: string;
  /** The first characters of the key (`sr-` + 6), for telling keys apart in a list. */
  prefix: string;
  groupId: number;
  status: "active" | "revoked";
  /** Epoch ms after which the key stops working; null: never. */
  expiresAt: number | null;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms; null until `touchLastUsed` records a use. */
  lastUsedAt: number | null;
  /** What the key may do; null: no limits. */
  limits: ApiKeyLimits | null;
}

/** The result of `create`: the record plus the key itself — the only time the key is available. */
export interface CreatedApiKey extends ApiKeyRecord {
  key: string;
}

/** What authentication needs, found by the key's hash. The caller checks `status` and `expiresAt` against its clock. */
export interface ApiKeyLookup {
  id: number;
  name: string;
  groupId: number;
  status: "active" | "revoked";
  expiresAt: number | null;
  /** What the key may do; null: no limits. */
  limits: ApiKeyLimits | null;
  /** The key's group, i.e. its scheduling bucket. */
  group: {
    platform: string;
    mode: SchedulerMode;
    /** The group's default model; absent when it has none. */
    defaultModel?: string;
  };
}

export interface NewApiKey {
  name: string;
  /** An existing group; unknown ids throw DatabaseError `invalid_reference`. */
  groupId: number;
  /** Epoch ms (or an ISO 8601 date-time string); omitted or null: never expires. */
  expiresAt?: number | string | null;
  /** Omitted or null: none. */
  limits?: ApiKeyLimits | null;
}

/** A change to a key: omitted fields are left alone; `null` clears `expiresAt` (never expires) and `limits` (none). */
export interface ApiKeyPatch {
  name?: string;
  expiresAt?: number | string | null;
  limits?: ApiKeyLimits | null;
}

const KEY_PREFIX = "sr-";
const KEY_RANDOM_CHARS = 40;
const DISPLAY_PREFIX_LENGTH = KEY_PREFIX.length + 6;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const KEY_SHAPE = new RegExp(`^${KEY_PREFIX}[0-9A-Za-z]{${KEY_RANDOM_CHARS}}$`);

/**
 * Whether `key` has the shape of a key this repository creates (`"sr-"` + 40 base62 characters). Anything
 * else cannot be a key: a caller refuses it without hashing, caching or looking it up.
 */
export function isApiKeyShaped(key: string): boolean {
  return key.length === KEY_PREFIX.length + KEY_RANDOM_CHARS && KEY_SHAPE.test(key);
}

/** SHA-256 hex of a key: what `api_keys.key_hash` holds. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

function generateApiKey(): string {
  // randomInt is uniform (no modulo bias): 40 base62 characters is ~238 bits.
  let key = KEY_PREFIX;
  for (let index = 0; index < KEY_RANDOM_CHARS; index++) key += BASE62[randomInt(BASE62.length)];
  return key;
}

export class ApiKeyRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** Creates a key: `"sr-"` + 40 base62 characters. Only its SHA-256 hex and display prefix are stored. */
  async create(input: NewApiKey): Promise<CreatedApiKey> {
    const problems = apiKeyInputProblems(input);
    if (problems.length > 0) throw problemsError("API key", problems);
    const key = generateApiKey();
    try {
      const [row] = await this.#db
        .insert(apiKeys)
        .values({
          name: input.name,
          keyHash: hashApiKey(key),
          keyPrefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
          groupId: input.groupId,
          expiresAt: fromEpochMs(parseExpiresAt(input.expiresAt)),
          limits: input.limits ?? null,
        })
        .returning();
      if (!row) throw new Error("insert returned no row");
      return { ...toApiKeyRecord(row), key };
    } catch (error) {
      return translateConstraintError(error, "API key");
    }
  }

  /** Looks a presented key up by its hash; null when no such key exists (revoked and expired keys are returned). */
  async findByKey(key: string): Promise<ApiKeyLookup | null> {
    return this.findByKeyHash(hashApiKey(key));
  }

  /** As `findByKey`, given the key's SHA-256 hex (`hashApiKey`), for a caller that already computed it. */
  async findByKeyHash(keyHash: string): Promise<ApiKeyLookup | null> {
    const [row] = await this.#db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        groupId: apiKeys.groupId,
        status: apiKeys.status,
        expiresAt: apiKeys.expiresAt,
        limits: apiKeys.limits,
        platform: groups.platform,
        mode: groups.mode,
        defaultModel: groups.defaultModel,
      })
      .from(apiKeys)
      .innerJoin(groups, eq(groups.id, apiKeys.groupId))
      .where(eq(apiKeys.keyHash, keyHash));
    if (!row) return null;
    return {
      id: row.id,
      name: row.name,
      groupId: row.groupId,
      status: row.status,
      expiresAt: toEpochMs(row.expiresAt),
      limits: (row.limits as ApiKeyLimits | null) ?? null,
      group: row.defaultModel ? { platform: row.platform, mode: row.mode, defaultModel: row.defaultModel } : { platform: row.platform, mode: row.mode },
    };
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.#db.select().from(apiKeys).orderBy(asc(apiKeys.id));
    return rows.map(toApiKeyRecord);
  }

  async get(id: number): Promise<ApiKeyRecord | null> {
    if (!Number.isSafeInteger(id)) return null;
    const [row] = await this.#db.select().from(apiKeys).where(eq(apiKeys.id, id));
    return row ? toApiKeyRecord(row) : null;
  }

  /** Changes a key's name, expiry or limits; null when no such key. Throws DatabaseError `invalid_input` for a wrong field. */
  async update(id: number, patch: ApiKeyPatch): Promise<ApiKeyRecord | null> {
    const problems = apiKeyPatchProblems(patch);
    if (problems.length > 0) throw problemsError("API key", problems);
    if (!Number.isSafeInteger(id)) return null;
    const changes: Partial<typeof apiKeys.$inferInsert> = {};
    if (patch.name !== undefined) changes.name = patch.name;
    if (patch.expiresAt !== undefined) changes.expiresAt = fromEpochMs(parseExpiresAt(patch.expiresAt));
    if (patch.limits !== undefined) changes.limits = patch.limits;
    if (Object.keys(changes).length === 0) return this.get(id);
    const [row] = await this.#db.update(apiKeys).set(changes).where(eq(apiKeys.id, id)).returning();
    return row ? toApiKeyRecord(row) : null;
  }

  /** Marks a key revoked (kept for usage history); false when no such key. */
  async revoke(id: number): Promise<boolean> {
    if (!Number.isSafeInteger(id)) return false;
    const rows = await this.#db
      .update(apiKeys)
      .set({ status: "revoked" })
      .where(eq(apiKeys.id, id))
      .returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  /**
   * Records key use: `updates` maps key id -> epoch ms. One statement; a value only ever moves forward.
   * Meant to be batched by the caller (not once per request).
   */
  async touchLastUsed(updates: Map<number, number>): Promise<void> {
    const values = [...updates].filter(([id, at]) => Number.isSafeInteger(id) && Number.isFinite(at));
    if (values.length === 0) return;
    const rows = sql.join(
      values.map(([id, at]) => sql`(${id}::integer, ${new Date(at).toISOString()}::timestamptz)`),
      sql`, `,
    );
    await this.#db.execute(sql`
      update ${apiKeys} set last_used_at = touched.at
      from (values ${rows}) as touched(id, at)
      where ${apiKeys}.id = touched.id and (${apiKeys}.last_used_at is null or ${apiKeys}.last_used_at < touched.at)`);
  }

  /** Deletes a key; false when no such key. */
  async delete(id: number): Promise<boolean> {
    if (!Number.isSafeInteger(id)) return false;
    const rows = await this.#db.delete(apiKeys).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
    return rows.length > 0;
  }
}

function toApiKeyRecord(row: typeof apiKeys.$inferSelect): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.keyPrefix,
    groupId: row.groupId,
    status: row.status,
    expiresAt: toEpochMs(row.expiresAt),
    createdAt: row.createdAt.getTime(),
    lastUsedAt: toEpochMs(row.lastUsedAt),
    limits: (row.limits as ApiKeyLimits | null) ?? null,
  };
}
