import type { Logger } from "@subrelay/token-cache";
import { sql } from "drizzle-orm";
import { AccountRepository } from "./account-repository";
import { AdminSessionRepository } from "./admin-session-repository";
import { ApiKeyRepository } from "./api-key-repository";
import { CredentialCipher } from "./credential-cipher";
import { embeddedPostgresSettings, postgresSettingFlags } from "./embedded-postgres-settings";
import { GroupRepository } from "./group-repository";
import { checkSecretKey } from "./key-check";
import { migrationsFolder as defaultMigrationsFolder } from "./migrations-folder";
import { ModelPriceRepository } from "./model-price-repository";
import { OutboxRepository } from "./outbox-repository";
import { shippedPgliteTemplate, unpackPgliteTemplate } from "./pglite-template";
import { advisoryRefreshLocks, type RefreshLocks } from "./refresh-locks";
import type { SqlExecutor } from "./sql-executor";
import { UsageRepository, type CopyFromCsv } from "./usage-repository";

export interface DatabaseOptions {
  /**
   * `postgres://...`: node-postgres pool against that server (production, multi-replica).
   * Omitted: embedded PGlite (in `dataDir`, or in memory).
   */
  url?: string;
  /** PGlite data directory (created if missing). Ignored with `url`. Omitted with no `url`: in-memory PGlite. */
  dataDir?: string;
  /**
   * Key for credentials at rest (AES-256-GCM): 32 raw bytes, or 64 hex characters, or base64 of 32 bytes.
   * Invalid: throws DatabaseError `invalid_secret_key` before connecting. Losing it makes stored credentials
   * unreadable (`decrypt_failed`).
   */
  secretKey: Uint8Array | string;
  /** Max pool connections for `url`. Default 10. */
  poolSize?: number;
  /** Receives pool errors and migration progress. Default: silent. */
  logger?: Logger;
  /** Where the SQL migrations are. Default: the folder shipped in this package (`migrationsFolder()`). */
  migrationsFolder?: string;
  /**
   * Postgres settings for embedded PGlite, over `embeddedPostgresSettings` (name: value as `SET` takes it,
   * e.g. `{ shared_buffers: "32MB" }`). Passed as `-c name=value` at every start, so they apply to an existing
   * data directory too, and to initdb on a new one. Ignored with `url`. An unknown name or a bad value makes
   * opening fail.
   */
  pgliteSettings?: Readonly<Record<string, string>>;
}


/** An open database: the drizzle instance, lifecycle, and the repositories over it. */
export interface Database {
  kind: "pg" | "pglite";
  /** The drizzle instance (either driver) for queries the repositories do not cover. */
  db: SqlExecutor;
  /**
   * Applies pending migrations (idempotent). With `url`, a Postgres advisory lock makes concurrent callers
   * (several replicas starting at once) apply them one at a time.
   */
  migrate(): Promise<void>;
  /**
   * Checks the secret key against the check value stored at first start (storing it then); throws
   * DatabaseError `secret_key_mismatch` when the key is not the one the stored credentials need. Call after
   * `migrate()`.
   */
  checkSecretKey(): Promise<"stored" | "matched">;
  /** Resolves when a trivial query succeeds; rejects with the driver's error otherwise. */
  ping(): Promise<void>;
  /** Ends the pool / closes PGlite (flushing it to `dataDir`). The Database is unusable afterwards. */
  close(): Promise<void>;
  groups: GroupRepository;
  accounts: AccountRepository;
  apiKeys: ApiKeyRepository;
  usage: UsageRepository;
  outbox: OutboxRepository;
  /** Console sessions (`POST /admin/session`). */
  adminSessions: AdminSessionRepository;
  /** The operator's price overrides (`PUT /admin/pricing/{model}`). */
  modelPrices: ModelPriceRepository;
}

// Same key in every process applying migrations against one server.
const MIGRATION_LOCK_KEY = 0x5375_6272_656c_4dn;

/** Opens the database for `options` (no migrations are applied until `migrate()`). */
export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  const cipher = new CredentialCipher(options.secretKey);
  const migrationsFolder = options.migrationsFolder ?? defaultMigrationsFolder();
  const logger = options.logger;

  if (options.url !== undefined) {
    const [{ default: pg }, { drizzle }, { migrate }] = await Promise.all([
      import("pg"),
      import("drizzle-orm/node-postgres"),
      import("drizzle-orm/node-postgres/migrator"),
    ]);
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    // An idle client's connection error is emitted on the pool; unhandled, it would crash the process.
    pool.on("error", (error) => logger?.warn({ error: error.message }, "postgres pool client error"));
    const db = drizzle({ client: pool });
    const refreshLocks = advisoryRefreshLocks(
      () => pool.connect(),
      (client) => drizzle({ client }),
    );
    return assemble("pg", db, cipher, {
      refreshLocks,
      async migrate() {
        const client = await pool.connect();
        try {
          await client.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
          try {
            await migrate(drizzle({ client }), { migrationsFolder });
          } finally {
            await client.query(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
          }
        } finally {
          client.release();
        }
        logger?.info({ driver: "pg" }, "database migrations applied");
      },
      close: () => pool.end(),
    });
  }

  const [{ PGlite }, { drizzle }, { migrate }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
  ]);
  const settings = postgresSettingFlags({ ...embeddedPostgresSettings, ...options.pgliteSettings });
  // A new data directory (or memory) starts from the initialised one shipped in dist/, not from initdb in this
  // process: see pglite-template.ts.
  const template = shippedPgliteTemplate();
  const fromTemplate =
    template !== undefined && (options.dataDir === undefined || unpackPgliteTemplate(template, options.dataDir));
  const client = await PGlite.create(options.dataDir, {
    startParams: [...PGlite.defaultStartParams, ...settings],
    initDbStartParams: settings,
    ...(template && options.dataDir === undefined
      ? { loadDataDir: new Blob([template.archive], { type: "application/x-gzip" }) }
      : {}),
  });
  logger?.debug?.({ driver: "pglite", dataDir: options.dataDir ?? ":memory:", fromTemplate }, "pglite opened");
  const db = drizzle({ client });
  return assemble("pglite", db, cipher, {
    async migrate() {
      await migrate(db, { migrationsFolder });
      logger?.info(
        { driver: "pglite", dataDir: options.dataDir ?? ":memory:" },
        "database migrations applied",
      );
    },
    close: () => client.close(),
    copy: async (statement, csv) => {
      await client.query(statement, [], { blob: new Blob([csv]) });
    },
  });
}

function assemble(
  kind: Database["kind"],
  db: SqlExecutor,
  cipher: CredentialCipher,
  lifecycle: { migrate(): Promise<void>; close(): Promise<void>; copy?: CopyFromCsv; refreshLocks?: RefreshLocks },
): Database {
  let closed: Promise<void> | undefined;
  const accounts = new AccountRepository(db, cipher, lifecycle.refreshLocks);
  return {
    kind,
    db,
    migrate: () => lifecycle.migrate(),
    checkSecretKey: () => checkSecretKey(db, cipher, accounts),
    async ping() {
      await db.execute(sql`select 1`);
    },
    close() {
      closed ??= lifecycle.close();
      return closed;
    },
    groups: new GroupRepository(db),
    accounts,
    apiKeys: new ApiKeyRepository(db),
    usage: new UsageRepository(db, lifecycle.copy),
    outbox: new OutboxRepository(db),
    adminSessions: new AdminSessionRepository(db),
    modelPrices: new ModelPriceRepository(db),
  };
}
