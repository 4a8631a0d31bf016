import type { AccountSnapshot, SchedulerBucket } from "@subrelay/scheduler-cache";
import type {
  AccountStore,
  CredentialsExpectation,
  OAuthCredentials,
  RefreshLockResult,
  TokenAccount,
} from "@subrelay/token-cache";
import { matchesExpectation } from "@subrelay/token-cache";
import { and, asc, eq, gt, inArray, isNull, like, lt, lte, or, sql, type SQL } from "drizzle-orm";
import { isUnboundCiphertext, type CredentialCipher } from "./credential-cipher";
import { DatabaseError, translateConstraintError } from "./database-error";
import { fromEpochMs, toEpochMs } from "./epoch-ms";
import {
  accountInputProblems,
  accountPatchProblems,
  cooldownFields,
  type AccountCooldowns,
  problemsError,
  type InputProblem,
  type InputRuleOptions,
  type RateLimitInput,
} from "./input-rules";
import { writeOutboxEvents } from "./outbox-repository";
import { inProcessRefreshLocks, type RefreshLocks } from "./refresh-locks";
import { accountGroups, accounts, groups } from "./schema";
import { queryRows, type SqlExecutor } from "./sql-executor";

export type AccountType = "oauth" | "apikey";
export type AccountStatus = "active" | "error" | "disabled";

/**
 * OAuth credentials as an operator supplies them. At least one of `accessToken` / `refreshToken`.
 * Without an `accessToken` the account is stored as already expired (`accessToken: ""`, `expiresAt: 0`),
 * so the first use or the refresh worker refreshes it.
 */
export interface OAuthCredentialsInput {
  accessToken?: string;
  refreshToken?: string;
  /** Epoch ms. */
  expiresAt?: number;
  [extra: string]: unknown;
}

export interface ApiKeyCredentials {
  apiKey: string;
}

/** An account's decrypted secret, by account type. */
export type AccountCredentials =
  { type: "oauth"; credentials: OAuthCredentials } | { type: "apikey"; credentials: ApiKeyCredentials };

/** An account as the admin API shows it: state, never secrets. Times are epoch ms or null. */
export interface AccountRecord {
  id: string;
  name: string;
  platform: string;
  type: AccountType;
  priority: number;
  concurrency: number;
  status: AccountStatus;
  errorMessage: string | null;
  schedulable: boolean;
  rateLimitedUntil: number | null;
  rateLimitReason: string | null;
  tempUnschedulableUntil: number | null;
  tempUnschedulableReason: string | null;
  overloadedUntil: number | null;
  lastUsedAt: number | null;
  /** When the stored OAuth access token expires (null for API-key accounts or when unknown). */
  tokenExpiresAt: number | null;
  baseUrl: string | null;
  /** Models served; null or empty: any. */
  models: string[] | null;
  /** The account's own cool-downs (ms); null: the gateway's COOLDOWN_*. */
  cooldowns: AccountCooldowns | null;
  /** Client model name -> upstream model name (a key ending in `*` matches by prefix); null: none. */
  modelMap: Record<string, string> | null;
  /**
   * The exhausted upstream windows per scope, `until` in epoch ms, as stored (ended ones included until the
   * next write drops them): the account-wide rate limit (`rateLimitedUntil`) listed as `scope: "account"`,
   * then the scoped ones (`family:opus`, `model:<id>`, ...).
   */
  rateLimits: RateLimitInput[];
  groupIds: number[];
  createdAt: number;
  updatedAt: number;
}

interface NewAccountFields {
  name: string;
  platform: string;
  /**
   * Existing group ids; an unknown id throws DatabaseError `invalid_reference`, a `single` group of another
   * platform throws `invalid_input` (only `mixed` groups hold several platforms), and nothing is written.
   */
  groupIds?: number[];
  /** Lower is preferred. Default 50. */
  priority?: number;
  /** Requests served at once, >= 1. Default 3. */
  concurrency?: number;
  /** Default true. */
  schedulable?: boolean;
  /** Default `"active"`. */
  status?: AccountStatus;
  /** Upstream origin override; null: the platform default. */
  baseUrl?: string | null;
  models?: string[] | null;
  /** The account's own cool-downs (ms); null or omitted: the gateway's. */
  cooldowns?: AccountCooldowns | null;
  /** Client model name -> upstream model name; null or omitted: none. */
  modelMap?: Record<string, string> | null;
}

export type NewAccount = NewAccountFields &
  (
    { type: "oauth"; credentials: OAuthCredentialsInput } | { type: "apikey"; credentials: ApiKeyCredentials }
  );

/**
 * A partial update; omitted fields are left alone. `groupIds` replaces the account's groups (refused as on
 * create: unknown ids, and `single` groups of another platform; nothing is written then). `credentials`
 * replaces the secret (shape by the account's type); replaced OAuth credentials are stamped with a
 * `tokenVersion` above the stored one and at least the clock (epoch ms), whatever version they carried, so
 * tokens cached for the old credentials can be invalidated below it. Setting `status: "active"` clears
 * `errorMessage`.
 */
export interface AccountPatch {
  name?: string;
  priority?: number;
  concurrency?: number;
  status?: AccountStatus;
  schedulable?: boolean;
  baseUrl?: string | null;
  models?: string[] | null;
  /** Replaces the account's own cool-downs as a whole; null clears them. */
  cooldowns?: AccountCooldowns | null;
  /** Replaces the account's model map as a whole; null clears it. */
  modelMap?: Record<string, string> | null;
  /**
   * Replaces the account's rate limits as a whole (`[]` or null clears them): an `account` entry sets
   * `rateLimitedUntil` (none clears it), the others are the scoped limits.
   */
  rateLimits?: RateLimitInput[] | null;
  groupIds?: number[];
  credentials?: OAuthCredentialsInput | ApiKeyCredentials;
}

/** An active OAuth account whose token needs refreshing, with its decrypted credentials. */
export interface ExpiringOAuthAccount extends TokenAccount {
  /** Epoch ms; null when the expiry is unknown. */
  tokenExpiresAt: number | null;
}

export interface ExpiringOAuthQuery {
  /** Epoch ms: accounts whose token expires at or before this (or whose expiry is unknown). */
  before: number;
  /** Keyset cursor: only accounts with a larger id. Omitted: from the start. */
  afterId?: string;
  /** Page size, >= 1. */
  limit: number;
}

export interface ExpiringOAuthPage {
  accounts: ExpiringOAuthAccount[];
  /** Ids in this page whose credentials could not be decrypted (DatabaseError `decrypt_failed`). */
  undecryptable: string[];
  /** Pass as `afterId` for the next page; null when this page was the last. */
  nextAfterId: string | null;
}

// Every column but the ciphertext: what records and snapshots are built from.
const stateColumns = {
  id: accounts.id,
  name: accounts.name,
  platform: accounts.platform,
  type: accounts.type,
  tokenExpiresAt: accounts.tokenExpiresAt,
  priority: accounts.priority,
  concurrency: accounts.concurrency,
  status: accounts.status,
  errorMessage: accounts.errorMessage,
  schedulable: accounts.schedulable,
  rateLimitedUntil: accounts.rateLimitedUntil,
  rateLimitReason: accounts.rateLimitReason,
  tempUnschedulableUntil: accounts.tempUnschedulableUntil,
  tempUnschedulableReason: accounts.tempUnschedulableReason,
  overloadedUntil: accounts.overloadedUntil,
  lastUsedAt: accounts.lastUsedAt,
  baseUrl: accounts.baseUrl,
  models: accounts.models,
  cooldowns: accounts.cooldowns,
  modelMap: accounts.modelMap,
  rateLimits: accounts.rateLimits,
  stateVersion: accounts.stateVersion,
  createdAt: accounts.createdAt,
  updatedAt: accounts.updatedAt,
};

type StateRow = {
  [Key in keyof typeof stateColumns]: (typeof accounts.$inferSelect)[Key];
};

/**
 * The `set` fragment every update that writes an outbox row carries: the state version moves up in the same
 * transaction as the row, so pushes built from later reads carry higher versions.
 */
function nextStateVersion() {
  return { stateVersion: sql`${accounts.stateVersion} + 1` };
}


/** Account ids are strings at the API (token-cache's convention) and serial integers in the table. */
function parseId(id: string): number | null {
  if (typeof id !== "string" || !/^[1-9][0-9]{0,9}$/.test(id)) return null;
  const value = Number(id);
  return value <= 2_147_483_647 ? value : null;
}

/**
 * Accounts: token-cache's `AccountStore`, the admin CRUD, the state changes the request path and the
 * refresh worker record, and what the scheduler snapshots are built from.
 *
 * Every change the scheduler must learn about writes a `scheduler_outbox` row in the same transaction
 * (a rollback drops both). State marks only move a state forward: repeating a mark, or marking an earlier
 * `until`, changes nothing and writes no outbox row.
 */
export class AccountRepository implements AccountStore {
  readonly #db: SqlExecutor;
  readonly #cipher: CredentialCipher;
  readonly #refreshLocks: RefreshLocks;

  /** `refreshLocks`: how `withRefreshLock` locks (default: in this process only, right for embedded PGlite). */
  constructor(db: SqlExecutor, cipher: CredentialCipher, refreshLocks: RefreshLocks = inProcessRefreshLocks(db)) {
    this.#db = db;
    this.#cipher = cipher;
    this.#refreshLocks = refreshLocks;
  }

  // ---- AccountStore ----

  /**
   * The OAuth account with decrypted credentials; null when it does not exist or is an API-key account
   * (those have nothing to refresh; use `getCredentials`). Throws DatabaseError `decrypt_failed`.
   */
  async get(id: string): Promise<TokenAccount | null> {
    const numericId = parseId(id);
    if (numericId === null) return null;
    const [row] = await this.#db
      .select({
        id: accounts.id,
        platform: accounts.platform,
        type: accounts.type,
        credentialsEncrypted: accounts.credentialsEncrypted,
      })
      .from(accounts)
      .where(eq(accounts.id, numericId));
    if (!row || row.type !== "oauth") return null;
    return {
      id: String(row.id),
      platform: row.platform,
      credentials: this.#decryptOAuth(row.id, row.credentialsEncrypted),
    };
  }

  /**
   * Stores refreshed OAuth credentials. Writes only `credentials_encrypted`, `token_expires_at` and
   * `updated_at` — never the whole record — so a concurrent admin update of other columns cannot drop a
   * rotated refresh token, nor this write undo theirs. A missing or API-key account is left alone (false).
   * With `expected`, a compare-and-set: written (true) only while the stored credentials still hold that
   * refresh token and token version (the row is locked while they are compared); false otherwise.
   */
  async saveCredentials(id: string, credentials: OAuthCredentials, expected?: CredentialsExpectation): Promise<boolean> {
    const numericId = parseId(id);
    if (numericId === null) return false;
    const normalised = normaliseCredentials("oauth", credentials);
    const values = {
      credentialsEncrypted: this.#cipher.encryptJson(normalised.stored, accountAdditionalData(numericId)),
      tokenExpiresAt: normalised.expiresAt,
      updatedAt: sql`now()`,
    };
    const oauthAccount = and(eq(accounts.id, numericId), eq(accounts.type, "oauth"));
    if (expected === undefined) {
      const written = await this.#db.update(accounts).set(values).where(oauthAccount).returning({ id: accounts.id });
      return written.length > 0;
    }
    return this.#db.transaction(async (transaction) => {
      const [row] = await transaction
        .select({ credentialsEncrypted: accounts.credentialsEncrypted })
        .from(accounts)
        .where(oauthAccount)
        .for("update");
      if (!row) return false;
      const stored = this.#decryptOAuth(numericId, row.credentialsEncrypted);
      if (!matchesExpectation(stored, expected)) return false;
      await transaction.update(accounts).set(values).where(eq(accounts.id, numericId));
      return true;
    });
  }

  /**
   * Runs `critical` holding the account's refresh lock (Postgres: a session advisory lock, across every
   * process on the database; embedded: in this process), with a repository on the lock's own connection to
   * read and save through. `{ locked: false }` when another holder kept it for `waitMs`.
   */
  async withRefreshLock<T>(
    id: string,
    waitMs: number,
    critical: (locked: Pick<AccountStore, "get" | "saveCredentials">) => Promise<T>,
  ): Promise<RefreshLockResult<T>> {
    const numericId = parseId(id);
    if (numericId === null) return { locked: true, value: await critical(this) };
    return this.#refreshLocks.run(numericId, waitMs, (db) =>
      critical(db === this.#db ? this : new AccountRepository(db, this.#cipher, this.#refreshLocks)),
    );
  }

  // ---- secrets ----

  /** The decrypted secret of any account type; null when it does not exist. Throws DatabaseError `decrypt_failed`. */
  async getCredentials(id: string): Promise<AccountCredentials | null> {
    const numericId = parseId(id);
    if (numericId === null) return null;
    const [row] = await this.#db
      .select({ type: accounts.type, credentialsEncrypted: accounts.credentialsEncrypted })
      .from(accounts)
      .where(eq(accounts.id, numericId));
    if (!row) return null;
    if (row.type === "oauth")
      return { type: "oauth", credentials: this.#decryptOAuth(numericId, row.credentialsEncrypted) };
    const decoded = this.#cipher.decryptJson(row.credentialsEncrypted, accountAdditionalData(numericId)) as
      | Partial<ApiKeyCredentials>
      | null;
    if (typeof decoded?.apiKey !== "string") {
      throw new DatabaseError("Stored API-key credentials have no apiKey", { code: "decrypt_failed" });
    }
    return { type: "apikey", credentials: { apiKey: decoded.apiKey } };
  }

  // ---- admin ----

  /** Creates the account and its group links in one transaction with an `account.created` outbox row. */
  async create(input: NewAccount): Promise<AccountRecord> {
    const problems = accountInputProblems(input);
    if (problems.length > 0) throw problemsError("Account", problems);
    const fields = columnsOf(input);
    const credentials = normaliseCredentials(input.type, input.credentials);
    const groupIds = sortedGroupIds(input.groupIds ?? []);
    try {
      const id = await this.#db.transaction(async (transaction) => {
        const refused = await groupProblems(transaction, input.platform, groupIds, true);
        if (refused.length > 0) throw groupsError(refused);
        // The id is taken first: the credentials are encrypted bound to it.
        const [next] = await queryRows<{ id: number | string }>(
          transaction,
          sql`select nextval(pg_get_serial_sequence('accounts', 'id')) as id`,
        );
        if (!next) throw new Error("nextval returned no row");
        const newId = Number(next.id);
        const [row] = await transaction
          .insert(accounts)
          .values({
            id: newId,
            ...fields,
            name: input.name,
            platform: input.platform,
            type: input.type,
            credentialsEncrypted: this.#cipher.encryptJson(credentials.stored, accountAdditionalData(newId)),
            tokenExpiresAt: credentials.expiresAt,
          })
          .returning({ id: accounts.id });
        if (!row) throw new Error("insert returned no row");
        if (groupIds.length > 0) {
          await transaction
            .insert(accountGroups)
            .values(groupIds.map((groupId) => ({ accountId: row.id, groupId })));
        }
        await writeOutboxEvents(transaction, [
          { event: "account.created", accountId: row.id, payload: { groupIds } },
        ]);
        return row.id;
      });
      const record = await this.getById(String(id));
      if (!record) throw new Error("created account vanished");
      return record;
    } catch (error) {
      return translateConstraintError(error, "Account");
    }
  }

  /**
   * Every problem `create(input)` would refuse, without writing: the input rules (`options.admin` for the
   * admin API's), unknown groups and `single` groups of another platform. For checking an operator's input
   * before anything else is done with it (such as asking the platform about the account).
   */
  async problemsOfNew(input: unknown, options: InputRuleOptions = {}): Promise<InputProblem[]> {
    const problems = accountInputProblems(input, options);
    const given = input as Partial<NewAccount> | null;
    if (problems.some((problem) => problem.field.startsWith("groupIds") || problem.field === "platform")) return problems;
    if (typeof given?.platform !== "string" || !Array.isArray(given.groupIds)) return problems;
    return [...problems, ...(await groupProblems(this.#db, given.platform, sortedGroupIds(given.groupIds), false))];
  }

  /**
   * Every problem `update(id, patch)` would refuse, without writing (as `problemsOfNew`); empty as well when
   * the account does not exist (the update then answers null).
   */
  async problemsOfPatch(id: string, patch: unknown, options: InputRuleOptions = {}): Promise<InputProblem[]> {
    const numericId = parseId(id);
    const [current] =
      numericId === null
        ? []
        : await this.#db.select({ type: accounts.type, platform: accounts.platform }).from(accounts).where(eq(accounts.id, numericId));
    const problems = accountPatchProblems(patch, current?.type, options);
    const groupIds = (patch as AccountPatch | null)?.groupIds;
    if (!current || groupIds === undefined || problems.some((problem) => problem.field.startsWith("groupIds"))) return problems;
    return [...problems, ...(await groupProblems(this.#db, current.platform, sortedGroupIds(groupIds), false))];
  }

  /** Every account (state, never secrets), by id. */
  async list(): Promise<AccountRecord[]> {
    const [rows, links] = await Promise.all([
      this.#db.select(stateColumns).from(accounts).orderBy(asc(accounts.id)),
      this.#db.select().from(accountGroups).orderBy(asc(accountGroups.groupId)),
    ]);
    const groupsByAccount = new Map<number, number[]>();
    for (const link of links) {
      const list = groupsByAccount.get(link.accountId) ?? [];
      list.push(link.groupId);
      groupsByAccount.set(link.accountId, list);
    }
    return rows.map((row) => toRecord(row, groupsByAccount.get(row.id) ?? []));
  }

  async getById(id: string): Promise<AccountRecord | null> {
    const numericId = parseId(id);
    if (numericId === null) return null;
    return this.#recordOf(this.#db, numericId);
  }

  /** Applies a partial patch with an `account.updated` outbox row; null when the account does not exist. */
  async update(id: string, patch: AccountPatch): Promise<AccountRecord | null> {
    const numericId = parseId(id);
    if (numericId === null) return null;
    const problems = accountPatchProblems(patch, undefined);
    if (problems.length > 0) throw problemsError("Account", problems);
    const fields = columnsOf(patch);
    const groupIds = patch.groupIds === undefined ? undefined : sortedGroupIds(patch.groupIds);
    try {
      return await this.#db.transaction(async (transaction) => {
        const [current] = await transaction
          .select({
            type: accounts.type,
            platform: accounts.platform,
            credentialsEncrypted: accounts.credentialsEncrypted,
          })
          .from(accounts)
          .where(eq(accounts.id, numericId))
          .for("update");
        if (!current) return null;
        const credentialProblems =
          patch.credentials === undefined ? [] : accountPatchProblems({ credentials: patch.credentials }, current.type);
        const refused = groupIds === undefined ? [] : await groupProblems(transaction, current.platform, groupIds, true);
        if (refused.length > 0) throw groupsError([...credentialProblems, ...refused]);
        if (credentialProblems.length > 0) throw problemsError("Account", credentialProblems);
        const set: Partial<typeof accounts.$inferInsert> = { ...fields };
        if (patch.status === "active") set.errorMessage = null;
        if (patch.credentials !== undefined) {
          const credentials = normaliseCredentials(current.type, patch.credentials);
          if (current.type === "oauth") {
            // Replaced credentials are newer than any token cached or saved for the old ones: the caller
            // invalidates the shared cache at (tokenVersion - 1), and no older token is cached again.
            (credentials.stored as OAuthCredentials).tokenVersion = nextTokenVersion(
              this.#storedTokenVersion(numericId, current.credentialsEncrypted),
            );
          }
          set.credentialsEncrypted = this.#cipher.encryptJson(credentials.stored, accountAdditionalData(numericId));
          set.tokenExpiresAt = credentials.expiresAt;
        }
        const before = await this.#groupIdsOf(transaction, numericId);
        if (Object.keys(set).length === 0 && groupIds === undefined)
          return this.#recordOf(transaction, numericId);
        await transaction
          .update(accounts)
          .set({ ...set, ...nextStateVersion(), updatedAt: sql`now()` })
          .where(eq(accounts.id, numericId));
        if (groupIds !== undefined) {
          await transaction.delete(accountGroups).where(eq(accountGroups.accountId, numericId));
          if (groupIds.length > 0) {
            await transaction
              .insert(accountGroups)
              .values(groupIds.map((groupId) => ({ accountId: numericId, groupId })));
          }
        }
        const affected = [...new Set([...before, ...(groupIds ?? [])])].sort((a, b) => a - b);
        await writeOutboxEvents(transaction, [
          { event: "account.updated", accountId: numericId, payload: { groupIds: affected } },
        ]);
        return this.#recordOf(transaction, numericId);
      });
    } catch (error) {
      return translateConstraintError(error, "Account");
    }
  }

  /** Deletes the account (its group links go with it) with an `account.deleted` outbox row; false when absent. */
  async delete(id: string): Promise<boolean> {
    const numericId = parseId(id);
    if (numericId === null) return false;
    return this.#db.transaction(async (transaction) => {
      const groupIds = await this.#groupIdsOf(transaction, numericId);
      const deleted = await transaction
        .delete(accounts)
        .where(eq(accounts.id, numericId))
        .returning({ id: accounts.id });
      if (deleted.length === 0) return false;
      await writeOutboxEvents(transaction, [
        { event: "account.deleted", accountId: numericId, payload: { groupIds } },
      ]);
      return true;
    });
  }

  /** Back to `active`: clears the error and every cool-down, with an `account.state` outbox row; null when absent. */
  async reset(id: string): Promise<AccountRecord | null> {
    const numericId = parseId(id);
    if (numericId === null) return null;
    return this.#db.transaction(async (transaction) => {
      const updated = await transaction
        .update(accounts)
        .set({
          status: "active",
          errorMessage: null,
          rateLimitedUntil: null,
          rateLimitReason: null,
          tempUnschedulableUntil: null,
          tempUnschedulableReason: null,
          overloadedUntil: null,
          rateLimits: null,
          ...nextStateVersion(),
          updatedAt: sql`now()`,
        })
        .where(eq(accounts.id, numericId))
        .returning({ id: accounts.id });
      if (updated.length === 0) return null;
      await writeOutboxEvents(transaction, [
        { event: "account.state", accountId: numericId, payload: { change: "reset" } },
      ]);
      return this.#recordOf(transaction, numericId);
    });
  }

  // ---- state changes (each: true when it changed something and wrote an outbox row) ----

  /** Rate limited until `until` (epoch ms). A no-op unless it extends the current rate limit. */
  markRateLimited(id: string, until: number, reason?: string): Promise<boolean> {
    const at = requireEpoch(until, "until");
    return this.#markState(
      id,
      or(isNull(accounts.rateLimitedUntil), lt(accounts.rateLimitedUntil, at)),
      { rateLimitedUntil: at, rateLimitReason: reason ?? null },
      "rate_limited",
    );
  }

  /**
   * A scoped rate limit (`family:opus`, `model:<id>`, ...; an `account` scope is `markRateLimited`): merged into
   * the account's `rateLimits` by scope and window (the later end kept), ended entries (at `now`) dropped, with an
   * `account.state` outbox row. A no-op (false) unless it adds a limit or extends one.
   */
  async markScopedRateLimit(id: string, limit: RateLimitInput, now: number): Promise<boolean> {
    if (limit.scope === "account") return this.markRateLimited(id, limit.until, limit.reason);
    requireEpoch(limit.until, "until");
    const numericId = parseId(id);
    if (numericId === null) return false;
    return this.#db.transaction(async (transaction) => {
      const [current] = await transaction
        .select({ rateLimits: accounts.rateLimits })
        .from(accounts)
        .where(eq(accounts.id, numericId))
        .for("update");
      if (!current) return false;
      const kept = (current.rateLimits ?? []).filter((entry) => entry.until > now);
      const same = kept.find((entry) => entry.scope === limit.scope && entry.window === limit.window);
      if (same && same.until >= limit.until) return false;
      const merged = [...kept.filter((entry) => entry !== same), storedLimit(limit)];
      await transaction
        .update(accounts)
        .set({ rateLimits: merged, ...nextStateVersion(), updatedAt: sql`now()` })
        .where(eq(accounts.id, numericId));
      await writeOutboxEvents(transaction, [
        { event: "account.state", accountId: numericId, payload: { change: "rate_limited" } },
      ]);
      return true;
    });
  }

  /** Overloaded until `until` (epoch ms). A no-op unless it extends the current one. */
  markOverloaded(id: string, until: number): Promise<boolean> {
    const at = requireEpoch(until, "until");
    return this.#markState(
      id,
      or(isNull(accounts.overloadedUntil), lt(accounts.overloadedUntil, at)),
      { overloadedUntil: at },
      "overloaded",
    );
  }

  /** Cooling down until `until` (epoch ms) for `reason`. A no-op unless it extends the current cool-down. */
  /**
   * Ends a cool-down whose reason starts with `reasonPrefix` (e.g. the refresh worker's own), with an
   * `account.state` outbox row in the same transaction. A cool-down set for another reason stays. Resolves
   * to true when one was cleared.
   */
  async clearTempUnschedulable(id: string, reasonPrefix: string): Promise<boolean> {
    const numericId = parseId(id);
    if (numericId === null) return false;
    const pattern = `${reasonPrefix.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
    return this.#db.transaction(async (transaction) => {
      const updated = await transaction
        .update(accounts)
        .set({
          tempUnschedulableUntil: null,
          tempUnschedulableReason: null,
          ...nextStateVersion(),
          updatedAt: sql`now()`,
        })
        .where(and(eq(accounts.id, numericId), like(accounts.tempUnschedulableReason, pattern)))
        .returning({ id: accounts.id });
      if (updated.length === 0) return false;
      await writeOutboxEvents(transaction, [
        { event: "account.state", accountId: numericId, payload: { change: "reset" } },
      ]);
      return true;
    });
  }

  markTempUnschedulable(id: string, until: number, reason: string): Promise<boolean> {
    const at = requireEpoch(until, "until");
    return this.#markState(
      id,
      or(isNull(accounts.tempUnschedulableUntil), lt(accounts.tempUnschedulableUntil, at)),
      { tempUnschedulableUntil: at, tempUnschedulableReason: reason },
      "temp_unschedulable",
    );
  }

  /** Status `error` with `message` (shown to operators; must not contain secrets). A no-op if already exactly that. */
  markError(id: string, message: string): Promise<boolean> {
    return this.#markState(
      id,
      sql`(${accounts.status} <> 'error' or ${accounts.errorMessage} is distinct from ${message})`,
      { status: "error", errorMessage: message },
      "error",
    );
  }

  /**
   * Clears rate limits, cool-downs and overloads that ended at or before `now` (epoch ms), so the admin view
   * is true; one `account.state` outbox row per account changed. Returns the ids changed.
   */
  async clearExpiredStates(now: number): Promise<string[]> {
    const at = requireEpoch(now, "now");
    const expired = (column: SQL | typeof accounts.rateLimitedUntil) =>
      sql`${column} <= ${at.toISOString()}::timestamptz`;
    return this.#db.transaction(async (transaction) => {
      const changed = await transaction
        .update(accounts)
        .set({
          rateLimitedUntil: sql`case when ${expired(accounts.rateLimitedUntil)} then null else ${accounts.rateLimitedUntil} end`,
          rateLimitReason: sql`case when ${expired(accounts.rateLimitedUntil)} then null else ${accounts.rateLimitReason} end`,
          tempUnschedulableUntil: sql`case when ${expired(accounts.tempUnschedulableUntil)} then null else ${accounts.tempUnschedulableUntil} end`,
          tempUnschedulableReason: sql`case when ${expired(accounts.tempUnschedulableUntil)} then null else ${accounts.tempUnschedulableReason} end`,
          overloadedUntil: sql`case when ${expired(accounts.overloadedUntil)} then null else ${accounts.overloadedUntil} end`,
          ...nextStateVersion(),
          updatedAt: sql`now()`,
        })
        .where(
          or(
            lte(accounts.rateLimitedUntil, at),
            lte(accounts.tempUnschedulableUntil, at),
            lte(accounts.overloadedUntil, at),
          ),
        )
        .returning({ id: accounts.id });
      const ids = changed.map((row) => row.id).sort((a, b) => a - b);
      await writeOutboxEvents(
        transaction,
        ids.map((accountId) => ({
          event: "account.state" as const,
          accountId,
          payload: { change: "expired_cleared" },
        })),
      );
      return ids.map(String);
    });
  }

  /**
   * Records account use: `updates` maps account id -> epoch ms. One statement; a value only moves forward.
   * No outbox row (too frequent; the scheduler cache tracks `lastUsedAt` itself). Batch it.
   */
  async touchLastUsed(updates: Map<string, number>): Promise<void> {
    const values: SQL[] = [];
    for (const [id, at] of updates) {
      const numericId = parseId(id);
      if (numericId === null || !Number.isFinite(at)) continue;
      values.push(sql`(${numericId}::integer, ${new Date(at).toISOString()}::timestamptz)`);
    }
    if (values.length === 0) return;
    await this.#db.execute(sql`
      update ${accounts} set last_used_at = touched.at
      from (values ${sql.join(values, sql`, `)}) as touched(id, at)
      where ${accounts}.id = touched.id and (${accounts}.last_used_at is null or ${accounts}.last_used_at < touched.at)`);
  }

  // ---- refresh worker ----

  /**
   * Active OAuth accounts whose token expires at or before `before` (or whose expiry is unknown), by id,
   * one keyset page at a time. Credentials are decrypted; rows that fail to decrypt are listed in
   * `undecryptable` instead of failing the page.
   */
  async listExpiringOAuth(query: ExpiringOAuthQuery): Promise<ExpiringOAuthPage> {
    if (!Number.isSafeInteger(query.limit) || query.limit < 1)
      throw invalid("limit must be a positive integer");
    const before = requireEpoch(query.before, "before");
    const afterId = query.afterId === undefined ? 0 : parseId(query.afterId);
    if (afterId === null) throw invalid("afterId must be an account id");
    const rows = await this.#db
      .select({
        id: accounts.id,
        platform: accounts.platform,
        credentialsEncrypted: accounts.credentialsEncrypted,
        tokenExpiresAt: accounts.tokenExpiresAt,
      })
      .from(accounts)
      .where(
        and(
          eq(accounts.type, "oauth"),
          eq(accounts.status, "active"),
          or(isNull(accounts.tokenExpiresAt), lte(accounts.tokenExpiresAt, before)),
          gt(accounts.id, afterId),
        ),
      )
      .orderBy(asc(accounts.id))
      .limit(query.limit);
    const page: ExpiringOAuthPage = { accounts: [], undecryptable: [], nextAfterId: null };
    for (const row of rows) {
      try {
        page.accounts.push({
          id: String(row.id),
          platform: row.platform,
          credentials: this.#decryptOAuth(row.id, row.credentialsEncrypted),
          tokenExpiresAt: toEpochMs(row.tokenExpiresAt),
        });
      } catch (error) {
        if (!DatabaseError.isInstance(error)) throw error;
        page.undecryptable.push(String(row.id));
      }
    }
    const last = rows.at(-1);
    if (rows.length === query.limit && last) page.nextAfterId = String(last.id);
    return page;
  }

  // ---- scheduler ----

  /** One bucket per group: `{ groupId, platform, mode }`, by group id. */
  async listBuckets(): Promise<SchedulerBucket[]> {
    const rows = await this.#db
      .select({ groupId: groups.id, platform: groups.platform, mode: groups.mode })
      .from(groups)
      .orderBy(asc(groups.id));
    return rows;
  }

  /**
   * The accounts of a bucket, whatever their state (the scheduler filters by status and time): the group's
   * accounts of the bucket's platform for `single`, of every platform for `mixed`.
   */
  async listBucketAccounts(bucket: SchedulerBucket): Promise<AccountSnapshot[]> {
    const inGroup = eq(accountGroups.groupId, bucket.groupId);
    const rows = await this.#db
      .select(stateColumns)
      .from(accounts)
      .innerJoin(accountGroups, eq(accountGroups.accountId, accounts.id))
      .where(bucket.mode === "mixed" ? inGroup : and(inGroup, eq(accounts.platform, bucket.platform)))
      .orderBy(asc(accounts.id));
    return rows.map(toSnapshot);
  }

  /** One account's snapshot; null when it does not exist. */
  async getAccountSnapshot(id: string): Promise<AccountSnapshot | null> {
    const numericId = parseId(id);
    if (numericId === null) return null;
    const [row] = await this.#db.select(stateColumns).from(accounts).where(eq(accounts.id, numericId));
    return row ? toSnapshot(row) : null;
  }

  /** The buckets (groups) an account belongs to, by group id. */
  async bucketsOfAccount(id: string): Promise<SchedulerBucket[]> {
    const numericId = parseId(id);
    if (numericId === null) return [];
    return this.#db
      .select({ groupId: groups.id, platform: groups.platform, mode: groups.mode })
      .from(groups)
      .innerJoin(accountGroups, eq(accountGroups.groupId, groups.id))
      .where(eq(accountGroups.accountId, numericId))
      .orderBy(asc(groups.id));
  }

  // ---- start-up ----

  /**
   * Re-encrypts credentials still in the unbound v1 format (written before credentials were bound to their
   * row) bound to their account id (v2); the key check runs it at every start, once the key is known to be
   * the right one. Each row is rewritten only while it still holds the value read (a concurrent write wins);
   * `credentials_encrypted` is the only column written. A v1 value that does not decrypt is left as it is and
   * listed in `undecryptable` (it reads as `decrypt_failed`, as before). Reads refuse v1 values.
   */
  async bindUnboundCredentials(): Promise<{ bound: number; undecryptable: string[] }> {
    const rows = await this.#db
      .select({ id: accounts.id, credentialsEncrypted: accounts.credentialsEncrypted })
      .from(accounts)
      .where(like(accounts.credentialsEncrypted, "v1.%"))
      .orderBy(asc(accounts.id));
    const result = { bound: 0, undecryptable: [] as string[] };
    for (const row of rows) {
      let plaintext: string;
      try {
        plaintext = this.#cipher.decrypt(row.credentialsEncrypted);
      } catch (error) {
        if (!DatabaseError.isInstance(error)) throw error;
        result.undecryptable.push(String(row.id));
        continue;
      }
      const written = await this.#db
        .update(accounts)
        .set({ credentialsEncrypted: this.#cipher.encrypt(plaintext, accountAdditionalData(row.id)) })
        .where(and(eq(accounts.id, row.id), eq(accounts.credentialsEncrypted, row.credentialsEncrypted)))
        .returning({ id: accounts.id });
      if (written.length > 0) result.bound += 1;
    }
    return result;
  }

  // ---- internals ----

  async #markState(
    id: string,
    condition: SQL | undefined,
    set: Partial<typeof accounts.$inferInsert>,
    change: string,
  ): Promise<boolean> {
    const numericId = parseId(id);
    if (numericId === null) return false;
    return this.#db.transaction(async (transaction) => {
      const updated = await transaction
        .update(accounts)
        .set({ ...set, ...nextStateVersion(), updatedAt: sql`now()` })
        .where(and(eq(accounts.id, numericId), condition))
        .returning({ id: accounts.id });
      if (updated.length === 0) return false;
      await writeOutboxEvents(transaction, [
        { event: "account.state", accountId: numericId, payload: { change } },
      ]);
      return true;
    });
  }

  async #groupIdsOf(executor: SqlExecutor, accountId: number): Promise<number[]> {
    const rows = await executor
      .select({ groupId: accountGroups.groupId })
      .from(accountGroups)
      .where(eq(accountGroups.accountId, accountId))
      .orderBy(asc(accountGroups.groupId));
    return rows.map((row) => row.groupId);
  }

  async #recordOf(executor: SqlExecutor, accountId: number): Promise<AccountRecord | null> {
    const [row] = await executor.select(stateColumns).from(accounts).where(eq(accounts.id, accountId));
    if (!row) return null;
    return toRecord(row, await this.#groupIdsOf(executor, accountId));
  }

  /**
   * The `tokenVersion` of stored OAuth credentials; 0 when they have none, or cannot be decrypted (the
   * operator is replacing them then; the clock-based version still beats any token they were cached with).
   */
  #storedTokenVersion(id: number, encoded: string): number {
    try {
      const version = (this.#cipher.decryptJson(encoded, accountAdditionalData(id)) as { tokenVersion?: unknown } | null)?.tokenVersion;
      return typeof version === "number" && Number.isSafeInteger(version) && version > 0 ? version : 0;
    } catch (error) {
      if (DatabaseError.isInstance(error)) return 0;
      throw error;
    }
  }

  #decryptOAuth(id: number, encoded: string): OAuthCredentials {
    const decoded = this.#cipher.decryptJson(encoded, accountAdditionalData(id)) as OAuthCredentials | null;
    if (typeof decoded?.accessToken !== "string") {
      throw new DatabaseError("Stored OAuth credentials have no accessToken", { code: "decrypt_failed" });
    }
    return decoded;
  }
}

/**
 * The additional data an account's credentials are encrypted with (format v2): its id, so a ciphertext
 * copied into another account's row does not decrypt there.
 */
function accountAdditionalData(id: number | string): string {
  return `subrelay account ${id}`;
}

/**
 * Decrypts one stored credentials value whatever its format (v1 unbound, v2 bound to `id`): what the key
 * check of a database from before the check value tries its key on.
 */
export function decryptStoredCredentials(cipher: CredentialCipher, id: number | string, encoded: string): string {
  return cipher.decrypt(encoded, isUnboundCiphertext(encoded) ? undefined : accountAdditionalData(id));
}

/**
 * The `tokenVersion` stamped on credentials an operator replaces: above the previous stored one, and at
 * least the clock (epoch ms), as TokenManager stamps refreshes, so it also beats a cached token whose
 * refresh was never saved. Whatever version the operator sent is ignored.
 */
function nextTokenVersion(previous: number): number {
  return Math.max(previous + 1, Date.now());
}

function invalid(message: string): DatabaseError {
  return new DatabaseError(`Account ${message}`, { code: "invalid_input" });
}

/**
 * Why an account of `platform` cannot join `groupIds`: an id naming no group, or a `single` group of
 * another platform (only `mixed` groups hold several). With `lock`, the groups are locked (FOR SHARE) until
 * the transaction ends, so no change to their platform or mode can slip in between this check and the link.
 */
async function groupProblems(
  executor: SqlExecutor,
  platform: string,
  groupIds: number[],
  lock: boolean,
): Promise<InputProblem[]> {
  if (groupIds.length === 0) return [];
  const query = executor
    .select({ id: groups.id, name: groups.name, platform: groups.platform, mode: groups.mode })
    .from(groups)
    .where(inArray(groups.id, groupIds))
    .orderBy(asc(groups.id));
  const rows = lock ? await query.for("share") : await query;
  const problems: InputProblem[] = [];
  for (const groupId of groupIds) {
    const group = rows.find((row) => row.id === groupId);
    if (!group) problems.push({ field: "groupIds", message: `${NO_GROUP}${groupId}.` });
    else if (group.mode !== "mixed" && group.platform !== platform) {
      problems.push({
        field: "groupIds",
        message: `Account of platform ${platform} cannot join group "${group.name}": it is a single ${group.platform} group; only a mixed group holds accounts of several platforms`,
      });
    }
  }
  return problems;
}

const NO_GROUP = "groupIds: no group has the id ";

/** Group problems as an error: `invalid_reference` when an id names no group, `invalid_input` otherwise. */
function groupsError(problems: InputProblem[]): DatabaseError {
  const error = problemsError("Account", problems);
  if (!problems.some((problem) => problem.message.startsWith(NO_GROUP))) return error;
  return new DatabaseError(error.message, { code: "invalid_reference", problems });
}

function requireEpoch(value: number, name: string): Date {
  if (!Number.isFinite(value)) throw invalid(`${name} must be epoch milliseconds`);
  return new Date(value);
}

/** Group ids as stored: each once, ascending. */
function sortedGroupIds(groupIds: number[]): number[] {
  return [...new Set(groupIds)].sort((a, b) => a - b);
}

/** The plain columns of a create or patch that passed the input rules; only the ones given. */
function columnsOf(input: AccountPatch): Partial<typeof accounts.$inferInsert> {
  const fields: Partial<typeof accounts.$inferInsert> = {};
  if (input.name !== undefined) fields.name = input.name;
  if (input.priority !== undefined) fields.priority = input.priority;
  if (input.concurrency !== undefined) fields.concurrency = input.concurrency;
  if (input.status !== undefined) fields.status = input.status;
  if (input.schedulable !== undefined) fields.schedulable = input.schedulable;
  if (input.baseUrl !== undefined) fields.baseUrl = input.baseUrl;
  if (input.models !== undefined) fields.models = input.models;
  if (input.cooldowns !== undefined) fields.cooldowns = input.cooldowns === null ? null : cooldownsOf(input.cooldowns);
  if (input.modelMap !== undefined) fields.modelMap = input.modelMap === null ? null : modelMapOf(input.modelMap);
  if (input.rateLimits !== undefined) {
    const given = input.rateLimits ?? [];
    const wide = given.filter((limit) => limit.scope === "account");
    fields.rateLimitedUntil = wide.length === 0 ? null : new Date(Math.max(...wide.map((limit) => limit.until)));
    fields.rateLimitReason = wide.find((limit) => limit.reason !== undefined)?.reason ?? null;
    const scoped = given.filter((limit) => limit.scope !== "account").map(storedLimit);
    fields.rateLimits = scoped.length === 0 ? null : scoped;
  }
  return fields;
}

/** A rate limit as stored: its known fields only. */
function storedLimit(limit: RateLimitInput): RateLimitInput {
  return {
    scope: limit.scope,
    ...(limit.window !== undefined ? { window: limit.window } : {}),
    until: limit.until,
    ...(limit.reason !== undefined ? { reason: limit.reason } : {}),
  };
}

/** Checks a secret's shape for the account type; returns what to encrypt and the plaintext expiry column. */
function normaliseCredentials(
  type: AccountType,
  input: unknown,
): { stored: OAuthCredentials | ApiKeyCredentials; expiresAt: Date | null } {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw invalid("credentials must be an object");
  const value = input as Record<string, unknown>;
  if (type === "apikey") {
    if (typeof value.apiKey !== "string" || value.apiKey === "")
      throw invalid("credentials.apiKey must be a non-empty string");
    return { stored: { apiKey: value.apiKey }, expiresAt: null };
  }
  const { accessToken, refreshToken, expiresAt } = value;
  if (accessToken !== undefined && typeof accessToken !== "string")
    throw invalid("credentials.accessToken must be a string");
  if (refreshToken !== undefined && typeof refreshToken !== "string")
    throw invalid("credentials.refreshToken must be a string");
  if (expiresAt !== undefined && !(typeof expiresAt === "number" && Number.isFinite(expiresAt))) {
    throw invalid("credentials.expiresAt must be epoch milliseconds");
  }
  if (!accessToken && !refreshToken) throw invalid("credentials need an accessToken or a refreshToken");
  const stored: OAuthCredentials = accessToken
    ? { ...value, accessToken }
    : { ...value, accessToken: "", expiresAt: 0 };
  return { stored, expiresAt: fromEpochMs(stored.expiresAt) };
}

function toRecord(row: StateRow, groupIds: number[]): AccountRecord {
  return {
    id: String(row.id),
    name: row.name,
    platform: row.platform,
    type: row.type,
    priority: row.priority,
    concurrency: row.concurrency,
    status: row.status,
    errorMessage: row.errorMessage,
    schedulable: row.schedulable,
    rateLimitedUntil: toEpochMs(row.rateLimitedUntil),
    rateLimitReason: row.rateLimitReason,
    tempUnschedulableUntil: toEpochMs(row.tempUnschedulableUntil),
    tempUnschedulableReason: row.tempUnschedulableReason,
    overloadedUntil: toEpochMs(row.overloadedUntil),
    lastUsedAt: toEpochMs(row.lastUsedAt),
    tokenExpiresAt: toEpochMs(row.tokenExpiresAt),
    baseUrl: row.baseUrl,
    models: row.models,
    cooldowns: row.cooldowns ? cooldownsOf(row.cooldowns) : null,
    modelMap: row.modelMap ? modelMapOf(row.modelMap) : null,
    rateLimits: [
      ...(row.rateLimitedUntil
        ? [{ scope: "account", until: row.rateLimitedUntil.getTime(), ...(row.rateLimitReason ? { reason: row.rateLimitReason } : {}) }]
        : []),
      ...(row.rateLimits ?? []),
    ],
    groupIds,
    createdAt: row.createdAt.getTime(),
    updatedAt: row.updatedAt.getTime(),
  };
}

/** The known fields of stored or given cool-downs, in their order (what passed the input rules). */
function cooldownsOf(value: AccountCooldowns): AccountCooldowns {
  const cooldowns: AccountCooldowns = {};
  for (const field of cooldownFields) {
    const ms = value[field];
    if (typeof ms === "number") cooldowns[field] = ms;
  }
  return cooldowns;
}

/** The string entries of a stored or given model map (what passed the input rules), in their order. */
function modelMapOf(value: Record<string, unknown>): Record<string, string> {
  const modelMap: Record<string, string> = {};
  for (const [from, to] of Object.entries(value)) if (typeof to === "string") modelMap[from] = to;
  return modelMap;
}

/**
 * Snapshot fields per scheduler-cache (`modelMap` included), plus `type`, `baseUrl` and `cooldowns` (the request path needs them; none
 * is secret).
 */
function toSnapshot(row: StateRow): AccountSnapshot {
  const snapshot: AccountSnapshot = {
    id: String(row.id),
    platform: row.platform,
    priority: row.priority,
    concurrency: row.concurrency,
    status: row.status,
    schedulable: row.schedulable,
    type: row.type,
    stateVersion: row.stateVersion,
  };
  if (row.rateLimitedUntil) snapshot.rateLimitedUntil = row.rateLimitedUntil.getTime();
  if (row.tempUnschedulableUntil) snapshot.tempUnschedulableUntil = row.tempUnschedulableUntil.getTime();
  if (row.overloadedUntil) snapshot.overloadedUntil = row.overloadedUntil.getTime();
  if (row.models) snapshot.models = row.models;
  if (row.lastUsedAt) snapshot.lastUsedAt = row.lastUsedAt.getTime();
  if (row.baseUrl) snapshot.baseUrl = row.baseUrl;
  if (row.cooldowns) snapshot.cooldowns = cooldownsOf(row.cooldowns);
  if (row.modelMap) {
    const modelMap = modelMapOf(row.modelMap);
    if (Object.keys(modelMap).length > 0) snapshot.modelMap = modelMap;
  }
  if (row.rateLimits && row.rateLimits.length > 0) snapshot.rateLimits = row.rateLimits;
  return snapshot;
}
