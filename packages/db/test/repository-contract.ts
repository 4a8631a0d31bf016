import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import { MemorySchedulerCache } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TokenManager, TokenRefreshError, type AccountStore, type TokenRefresher, type TokenStore } from "@subrelay/token-cache";
import { AccountRepository } from "../src/account-repository";
import { hashApiKey, isApiKeyShaped } from "../src/api-key-repository";
import type { Database } from "../src/create-database";
import { CredentialCipher, generateSecretKey } from "../src/credential-cipher";
import { DatabaseError } from "../src/database-error";
import { modelPriceInputProblems } from "../src/model-price-repository";
import { queryRows } from "../src/sql-executor";

/** A freshly created, migrated database and how to dispose of it. */
function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

export interface OpenedDatabase {
  database: Database;
  dispose(): Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;

/**
 * The repository contract, run once per driver. `open` gives an empty, migrated database; tables are
 * truncated before each test so tests do not see each other's rows.
 */
export function repositoryContract(driver: string, open: () => Promise<OpenedDatabase>): void {
  describe(`repositories on ${driver}`, () => {
    let opened: OpenedDatabase;
    let database: Database;

    beforeAll(async () => {
      opened = await open();
      database = opened.database;
    }, 180_000); // PGlite compiles its WebAssembly and runs initdb here: slow on a loaded 2-core machine.
    afterAll(async () => {
      await opened?.dispose();
    });
    beforeEach(async () => {
      await database.db.execute(
        sql`truncate accounts, groups, account_groups, api_keys, usage_logs, scheduler_outbox, admin_sessions, model_prices restart identity cascade`,
      );
    });

    const raw = <Row>(query: ReturnType<typeof sql>) => queryRows<Row>(database.db, query);
    const outboxRows = () => database.outbox.readAfter(0, 1_000);
    const oauthAccount = (
      overrides: Partial<{ name: string; platform: string; groupIds: number[]; expiresAt: number }> = {},
    ) =>
      database.accounts.create({
        name: overrides.name ?? "acct",
        platform: overrides.platform ?? "claude",
        type: "oauth",
        credentials: {
          accessToken: "at-SECRET-access",
          refreshToken: "rt-SECRET-refresh",
          expiresAt: overrides.expiresAt ?? T0,
        },
        groupIds: overrides.groupIds ?? [],
      });

    it("applies migrations: every table exists, and migrating again is a no-op", async () => {
      await database.migrate();
      const tables = await raw<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      expect(tables.map((row) => row.table_name)).toEqual([
        "account_groups",
        "accounts",
        "admin_sessions",
        "api_keys",
        "groups",
        "model_prices",
        "scheduler_outbox",
        "usage_logs",
      ]);
      await database.ping();
    });

    describe("credentials at rest", () => {
      it("stores only ciphertext and round-trips OAuth credentials", async () => {
        const account = await oauthAccount({ expiresAt: T0 + 5 * MINUTE });
        const [row] = await raw<{ credentials_encrypted: string; whole: string }>(
          sql`select credentials_encrypted, accounts::text as whole from accounts where id = ${Number(account.id)}`,
        );
        expect(row!.credentials_encrypted).toMatch(/^v2\.[\w-]+\.[\w-]+\.[\w-]+$/);
        expect(row!.whole).not.toContain("SECRET-");
        expect(account.tokenExpiresAt).toBe(T0 + 5 * MINUTE);
        expect(JSON.stringify(await database.accounts.list())).not.toContain("SECRET-");

        expect(await database.accounts.get(account.id)).toEqual({
          id: account.id,
          platform: "claude",
          credentials: {
            accessToken: "at-SECRET-access",
            refreshToken: "rt-SECRET-refresh",
            expiresAt: T0 + 5 * MINUTE,
          },
        });
      });

      it("round-trips API-key credentials; get() (AccountStore) ignores API-key accounts", async () => {
        const account = await database.accounts.create({
          name: "k",
          platform: "openai",
          type: "apikey",
          credentials: { apiKey: "sk-SECRET-key" },
        });
        const [row] = await raw<{ whole: string }>(sql`select accounts::text as whole from accounts`);
        expect(row!.whole).not.toContain("SECRET-");
        expect(await database.accounts.getCredentials(account.id)).toEqual({
          type: "apikey",
          credentials: { apiKey: "sk-SECRET-key" },
        });
        expect(await database.accounts.get(account.id)).toBeNull();
        expect(account.tokenExpiresAt).toBeNull();
      });

      it("stores an OAuth account given only a refresh token as already expired", async () => {
        const account = await database.accounts.create({
          name: "r",
          platform: "claude",
          type: "oauth",
          credentials: { refreshToken: "rt-only" },
        });
        expect(account.tokenExpiresAt).toBe(0);
        expect((await database.accounts.get(account.id))!.credentials).toEqual({
          accessToken: "",
          refreshToken: "rt-only",
          expiresAt: 0,
        });
      });

      it("fails with decrypt_failed, without leaking data, under the wrong key", async () => {
        const account = await oauthAccount();
        const wrongKey = new AccountRepository(database.db, new CredentialCipher(generateSecretKey()));
        const error = await wrongKey.get(account.id).catch((caught: unknown) => caught);
        expect(DatabaseError.isInstance(error) && error.code).toBe("decrypt_failed");
        expect(String((error as Error).message)).not.toContain("SECRET-");
        const page = await wrongKey.listExpiringOAuth({ before: T0 + MINUTE, limit: 10 });
        expect(page).toEqual({ accounts: [], undecryptable: [account.id], nextAfterId: null });
      });

      it("binds credentials to their row: A's ciphertext copied into B's row fails with decrypt_failed", async () => {
        const first = await oauthAccount({ name: "a" });
        const second = await database.accounts.create({
          name: "b",
          platform: "claude",
          type: "apikey",
          credentials: { apiKey: "sk-SECRET-b" },
        });
        const third = await oauthAccount({ name: "c" });
        await database.db.execute(
          sql`update accounts set credentials_encrypted = (select credentials_encrypted from accounts where id = ${Number(first.id)}), type = 'oauth' where id = ${Number(second.id)}`,
        );
        for (const read of [
          () => database.accounts.get(second.id),
          () => database.accounts.getCredentials(second.id),
          () => database.accounts.saveCredentials(second.id, { accessToken: "x", refreshToken: "y", expiresAt: T0 }, {
            refreshToken: "rt-SECRET-refresh",
            tokenVersion: 0,
          }),
        ]) {
          const error = await read().catch((caught: unknown) => caught);
          expect(DatabaseError.isInstance(error) && error.code).toBe("decrypt_failed");
          expect(String((error as Error).message)).toMatch(/could not be decrypted/);
          expect(String((error as Error).message)).not.toContain("SECRET-");
        }
        const page = await database.accounts.listExpiringOAuth({ before: T0 + MINUTE, limit: 10 });
        expect(page.undecryptable).toEqual([second.id]);
        expect(page.accounts.map((account) => account.id)).toEqual([first.id, third.id]);
        // The row the ciphertext came from still reads.
        expect((await database.accounts.get(first.id))!.credentials.refreshToken).toBe("rt-SECRET-refresh");
      });
    });

    describe("saveCredentials writes only the credentials", () => {
      it("a priority update after a token rotation keeps the rotated refresh token, and vice versa", async () => {
        const account = await oauthAccount();
        await database.accounts.saveCredentials(account.id, {
          accessToken: "at-2",
          refreshToken: "rt-2",
          expiresAt: T0 + 60 * MINUTE,
        });
        await database.accounts.update(account.id, { priority: 7 });
        expect((await database.accounts.get(account.id))!.credentials.refreshToken).toBe("rt-2");

        await database.accounts.update(account.id, { priority: 9 });
        await database.accounts.saveCredentials(account.id, {
          accessToken: "at-3",
          refreshToken: "rt-3",
          expiresAt: T0 + 90 * MINUTE,
        });
        const record = await database.accounts.getById(account.id);
        expect(record!.priority).toBe(9);
        expect(record!.tokenExpiresAt).toBe(T0 + 90 * MINUTE);
        expect((await database.accounts.get(account.id))!.credentials.refreshToken).toBe("rt-3");
      });

      it("concurrent rotations and admin updates both survive, and token saves write no outbox row", async () => {
        const account = await oauthAccount();
        const outboxBefore = (await outboxRows()).length;
        for (let round = 1; round <= 8; round++) {
          await Promise.all([
            database.accounts.update(account.id, { priority: round, name: `name-${round}` }),
            database.accounts.saveCredentials(account.id, {
              accessToken: `at-${round}`,
              refreshToken: `rt-${round}`,
              expiresAt: T0 + round,
            }),
            database.accounts.markRateLimited(account.id, T0 + round * MINUTE, "429"),
          ]);
          const record = await database.accounts.getById(account.id);
          expect(record).toMatchObject({
            priority: round,
            name: `name-${round}`,
            tokenExpiresAt: T0 + round,
            rateLimitedUntil: T0 + round * MINUTE,
          });
          expect((await database.accounts.get(account.id))!.credentials).toMatchObject({
            refreshToken: `rt-${round}`,
          });
        }
        const events = (await outboxRows()).slice(outboxBefore).map((row) => row.event);
        expect(events.filter((event) => event === "account.updated")).toHaveLength(8);
        expect(events.filter((event) => event === "account.state")).toHaveLength(8);
        expect(events).toHaveLength(16);
      });

      it("leaves API-key and missing accounts alone", async () => {
        const account = await database.accounts.create({
          name: "k",
          platform: "openai",
          type: "apikey",
          credentials: { apiKey: "sk-1" },
        });
        await database.accounts.saveCredentials(account.id, { accessToken: "at-x" });
        await database.accounts.saveCredentials("999", { accessToken: "at-x" });
        expect(await database.accounts.getCredentials(account.id)).toEqual({
          type: "apikey",
          credentials: { apiKey: "sk-1" },
        });
        expect(await database.accounts.getById("999")).toBeNull();
      });
    });

    describe("refreshes: compare-and-set saves and the refresh lock (issue 12, item 1)", () => {
      const HOUR = 60 * MINUTE;
      /** A token store as a process sees Redis that does not answer: whether anyone holds the lock is unknown. */
      const unreachable = (): TokenStore => {
        const fail = () => Promise.reject(new Error("Command timed out"));
        return {
          getToken: fail,
          setTokenIfNewer: fail,
          invalidateToken: fail,
          acquireLock: fail,
          extendLock: fail,
          releaseLock: fail,
          waitForRefresh: fail,
        };
      };
      /** A token endpoint that spends a refresh token on arrival (a reused one gets invalid_grant); its first reply waits for `firstReply`. */
      const rotatingEndpoint = () => {
        let generation = 0;
        const sent: unknown[] = [];
        const firstReply = deferred();
        const firstCall = deferred();
        const secondCall = deferred();
        const refresher: TokenRefresher = {
          cacheKey: (account) => `claude:account:${account.id}`,
          async refresh(account) {
            sent.push(account.credentials.refreshToken);
            (sent.length === 1 ? firstCall : secondCall).resolve();
            if (account.credentials.refreshToken !== (generation === 0 ? "rt-SECRET-refresh" : `rt-${generation}`)) {
              throw new TokenRefreshError("refresh token reused", { code: "invalid_grant", permanent: true, status: 400 });
            }
            generation++;
            const issued = { accessToken: `at-${generation}`, refreshToken: `rt-${generation}`, expiresAt: Date.now() + 8 * HOUR };
            if (generation === 1) await firstReply.promise;
            return issued;
          },
        };
        return { refresher, sent, firstReply, firstCall, secondCall };
      };

      it("saveCredentials with `expected` writes only over the refresh token and version it names", async () => {
        const account = await oauthAccount();
        const read = (await database.accounts.get(account.id))!.credentials;
        const expected = { refreshToken: read.refreshToken, tokenVersion: read.tokenVersion ?? 0 };
        const first = { accessToken: "at-1", refreshToken: "rt-1", expiresAt: T0 + HOUR, tokenVersion: 5 };
        const second = { accessToken: "at-2", refreshToken: "rt-2", expiresAt: T0 + HOUR, tokenVersion: 6 };
        const [a, b] = await Promise.all([
          database.accounts.saveCredentials(account.id, first, expected),
          database.accounts.saveCredentials(account.id, second, expected),
        ]);
        expect([a, b].sort()).toEqual([false, true]);
        expect((await database.accounts.get(account.id))!.credentials).toEqual(a ? first : second);
        expect(await database.accounts.saveCredentials("999", first, expected)).toBe(false);
      });

      it("two processes that cannot reach the token store refresh once: the second waits for the database lock", async () => {
        const account = await oauthAccount({ expiresAt: Date.now() - 1 });
        const endpoint = rotatingEndpoint();
        const entered = deferred();
        // The second process's view of the database: tells the test when it goes for the refresh lock.
        const observed: AccountStore = {
          get: (id) => database.accounts.get(id),
          saveCredentials: (...args) => database.accounts.saveCredentials(...args),
          withRefreshLock: (id, waitMs, critical) => {
            entered.resolve();
            return database.accounts.withRefreshLock(id, waitMs, critical);
          },
        };
        const manager = (accounts: AccountStore) =>
          new TokenManager({ accounts, refreshers: { claude: endpoint.refresher }, store: unreachable(), lockWaitMs: 30_000 });
        const stale = (await database.accounts.get(account.id))!;
        const fromA = manager(database.accounts).getAccessToken(stale);
        await endpoint.firstCall.promise;
        const fromB = manager(observed).getAccessToken(stale);
        // B goes for the lock (the fix), or refreshes beside A with the same refresh token at once.
        await Promise.race([entered.promise, endpoint.secondCall.promise]);
        if (database.kind === "pg" && endpoint.sent.length === 1) {
          await expect
            .poll(() => raw<{ n: number }>(sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`))
            .toEqual([{ n: 1 }]);
        }
        endpoint.firstReply.resolve();
        expect(await fromA).toBe("at-1");
        expect(await fromB).toBe("at-1");
        expect(endpoint.sent).toEqual(["rt-SECRET-refresh"]);
        expect((await database.accounts.get(account.id))!.credentials.refreshToken).toBe("rt-1");
      });

      it("an operator's replacement during a refresh is kept: the refresh's save finds other credentials", async () => {
        const account = await oauthAccount({ expiresAt: Date.now() - 1 });
        const endpoint = rotatingEndpoint();
        const tokens = new TokenManager({ accounts: database.accounts, refreshers: { claude: endpoint.refresher } });
        const served = tokens.getAccessToken((await database.accounts.get(account.id))!);
        await endpoint.firstCall.promise;
        await database.accounts.update(account.id, {
          credentials: { accessToken: "at-operator", refreshToken: "rt-operator", expiresAt: Date.now() + 8 * HOUR },
        });
        endpoint.firstReply.resolve();
        expect(await served).toBe("at-operator");
        expect((await database.accounts.get(account.id))!.credentials).toMatchObject({
          accessToken: "at-operator",
          refreshToken: "rt-operator",
        });
      });

      it("withRefreshLock gives up after waitMs while another holder keeps the lock, without running", async () => {
        const account = await oauthAccount();
        const holding = deferred();
        const held = deferred();
        const holder = database.accounts.withRefreshLock(account.id, 1_000, async () => {
          held.resolve();
          await holding.promise;
          return "holder";
        });
        await held.promise;
        let ran = false;
        const waiter = await database.accounts.withRefreshLock(account.id, 50, async () => {
          ran = true;
          return "waiter";
        });
        expect(waiter).toEqual({ locked: false });
        expect(ran).toBe(false);
        holding.resolve();
        expect(await holder).toEqual({ locked: true, value: "holder" });
        expect(await database.accounts.withRefreshLock(account.id, 50, async () => "next")).toEqual({ locked: true, value: "next" });
      });
    });

    describe("outbox rows in the same transaction", () => {
      it("writes one row per change with the event, account and groups", async () => {
        const claude = await database.groups.create({ name: "g1", platform: "claude" });
        const other = await database.groups.create({ name: "g2", platform: "claude" });
        const account = await oauthAccount({ groupIds: [claude.id] });
        await database.accounts.update(account.id, { groupIds: [other.id] });
        await database.accounts.markRateLimited(account.id, T0, "429");
        await database.accounts.markOverloaded(account.id, T0);
        await database.accounts.markTempUnschedulable(account.id, T0, "refresh failed");
        await database.accounts.markError(account.id, "invalid_grant");
        await database.accounts.reset(account.id);
        await database.accounts.delete(account.id);
        const rows = await outboxRows();
        expect(
          rows.map(({ event, accountId, groupId, payload }) => ({ event, accountId, groupId, payload })),
        ).toEqual([
          { event: "group.created", accountId: null, groupId: claude.id, payload: null },
          { event: "group.created", accountId: null, groupId: other.id, payload: null },
          {
            event: "account.created",
            accountId: account.id,
            groupId: null,
            payload: { groupIds: [claude.id] },
          },
          {
            event: "account.updated",
            accountId: account.id,
            groupId: null,
            payload: { groupIds: [claude.id, other.id] },
          },
          {
            event: "account.state",
            accountId: account.id,
            groupId: null,
            payload: { change: "rate_limited" },
          },
          { event: "account.state", accountId: account.id, groupId: null, payload: { change: "overloaded" } },
          {
            event: "account.state",
            accountId: account.id,
            groupId: null,
            payload: { change: "temp_unschedulable" },
          },
          { event: "account.state", accountId: account.id, groupId: null, payload: { change: "error" } },
          { event: "account.state", accountId: account.id, groupId: null, payload: { change: "reset" } },
          {
            event: "account.deleted",
            accountId: account.id,
            groupId: null,
            payload: { groupIds: [other.id] },
          },
        ]);
        expect(rows.every((row, index) => index === 0 || row.id > rows[index - 1]!.id)).toBe(true);
      });

      it("rolls the state change back when the outbox insert fails, and writes no outbox row when the change fails", async () => {
        const account = await oauthAccount();
        const before = await outboxRows();
        await database.db.execute(
          sql`alter table scheduler_outbox add constraint reject_all check (false) not valid`,
        );
        try {
          await expect(database.accounts.markRateLimited(account.id, T0, "429")).rejects.toThrow();
          await expect(database.accounts.markError(account.id, "boom")).rejects.toThrow();
          await expect(database.accounts.update(account.id, { priority: 1 })).rejects.toThrow();
        } finally {
          await database.db.execute(sql`alter table scheduler_outbox drop constraint reject_all`);
        }
        expect(await database.accounts.getById(account.id)).toMatchObject({
          rateLimitedUntil: null,
          status: "active",
          errorMessage: null,
          priority: 50,
        });

        const error = await oauthAccount({ groupIds: [424242] }).catch((caught: unknown) => caught);
        expect(DatabaseError.isInstance(error) && error.code).toBe("invalid_reference");
        expect(await database.accounts.list()).toHaveLength(1);
        expect(await outboxRows()).toEqual(before);
      });
    });

    describe("state marks", () => {
      it("are idempotent and only move a state forward", async () => {
        const account = await oauthAccount();
        expect(await database.accounts.markRateLimited(account.id, T0 + MINUTE, "429")).toBe(true);
        expect(await database.accounts.markRateLimited(account.id, T0 + MINUTE, "429")).toBe(false);
        expect(await database.accounts.markRateLimited(account.id, T0, "429")).toBe(false);
        expect(await database.accounts.markRateLimited(account.id, T0 + 2 * MINUTE, "429 again")).toBe(true);

        expect(await database.accounts.markOverloaded(account.id, T0 + MINUTE)).toBe(true);
        expect(await database.accounts.markOverloaded(account.id, T0 + MINUTE)).toBe(false);

        expect(await database.accounts.markTempUnschedulable(account.id, T0 + MINUTE, "cool")).toBe(true);
        expect(await database.accounts.markTempUnschedulable(account.id, T0 + MINUTE, "cool")).toBe(false);

        expect(await database.accounts.markError(account.id, "invalid_grant")).toBe(true);
        expect(await database.accounts.markError(account.id, "invalid_grant")).toBe(false);
        expect(await database.accounts.markError(account.id, "other")).toBe(true);

        expect(await database.accounts.markRateLimited("999", T0, "429")).toBe(false);

        const stateRows = (await outboxRows()).filter((row) => row.event === "account.state");
        expect(stateRows).toHaveLength(6);
        expect(await database.accounts.getById(account.id)).toMatchObject({
          rateLimitedUntil: T0 + 2 * MINUTE,
          rateLimitReason: "429 again",
          overloadedUntil: T0 + MINUTE,
          tempUnschedulableUntil: T0 + MINUTE,
          tempUnschedulableReason: "cool",
          status: "error",
          errorMessage: "other",
        });
      });

      it("every change with an outbox row moves stateVersion up by one; a stale push of an older state is refused", async () => {
        const account = await oauthAccount();
        const version = async () => (await database.accounts.getAccountSnapshot(account.id))!.stateVersion;
        expect(await version()).toBe(1);
        const steps: Array<[string, () => Promise<unknown>]> = [
          ["markRateLimited", () => database.accounts.markRateLimited(account.id, T0 + MINUTE, "429")],
          ["markOverloaded", () => database.accounts.markOverloaded(account.id, T0 + MINUTE)],
          ["markTempUnschedulable", () => database.accounts.markTempUnschedulable(account.id, T0 + MINUTE, "refresh: x")],
          ["clearTempUnschedulable", () => database.accounts.clearTempUnschedulable(account.id, "refresh:")],
          ["clearExpiredStates", () => database.accounts.clearExpiredStates(T0 + 2 * MINUTE)],
          ["markError", () => database.accounts.markError(account.id, "invalid_grant")],
          ["reset", () => database.accounts.reset(account.id)],
          ["update", () => database.accounts.update(account.id, { status: "disabled" })],
        ];
        let expected = 1;
        for (const [name, step] of steps) {
          const rowsBefore = (await outboxRows()).length;
          await step();
          const wroteRow = (await outboxRows()).length > rowsBefore;
          expect(wroteRow, name).toBe(true);
          expected += 1;
          expect(await version(), name).toBe(expected);
        }
        // No-ops and token saves write no outbox row and leave the version alone.
        expect(await database.accounts.markOverloaded(account.id, T0 + 5 * MINUTE)).toBe(true);
        expected += 1;
        expect(await database.accounts.markOverloaded(account.id, T0 + 5 * MINUTE)).toBe(false);
        expect(await database.accounts.markOverloaded(account.id, T0)).toBe(false);
        await database.accounts.saveCredentials(account.id, { accessToken: "at-2", refreshToken: "rt-2", expiresAt: T0 });
        expect(await version()).toBe(expected);

        // The race: a push built from an older read lands after one built from a newer read.
        const scheduler = new MemorySchedulerCache();
        const older = (await database.accounts.getAccountSnapshot(account.id))!;
        await database.accounts.update(account.id, { status: "active" });
        const newer = (await database.accounts.getAccountSnapshot(account.id))!;
        expect(newer.stateVersion).toBe(older.stateVersion! + 1);
        await scheduler.setAccount(newer);
        await scheduler.setAccount(older);
        expect(await scheduler.getAccount(account.id)).toEqual(newer);
      });

      it("coalesce a burst of identical concurrent marks into one outbox row", async () => {
        const account = await oauthAccount();
        const results = await Promise.all(
          Array.from({ length: 10 }, () => database.accounts.markRateLimited(account.id, T0 + MINUTE, "429")),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await outboxRows()).filter((row) => row.event === "account.state")).toHaveLength(1);
      });

      it("clearTempUnschedulable ends only a cool-down with the given reason prefix, with an outbox row", async () => {
        const mine = await oauthAccount({ name: "mine" });
        const other = await oauthAccount({ name: "other" });
        await database.accounts.markTempUnschedulable(mine.id, T0 + MINUTE, "token refresh failing: server");
        await database.accounts.markTempUnschedulable(other.id, T0 + MINUTE, "upstream said no");
        const before = (await outboxRows()).length;

        expect(await database.accounts.clearTempUnschedulable(other.id, "token refresh failing:")).toBe(false);
        expect(await database.accounts.clearTempUnschedulable(mine.id, "token refresh failing:")).toBe(true);
        expect(await database.accounts.clearTempUnschedulable(mine.id, "token refresh failing:")).toBe(false);
        // LIKE wildcards in the prefix are literal.
        expect(await database.accounts.clearTempUnschedulable(other.id, "%")).toBe(false);

        expect(await database.accounts.getById(mine.id)).toMatchObject({ tempUnschedulableUntil: null, tempUnschedulableReason: null });
        expect(await database.accounts.getById(other.id)).toMatchObject({ tempUnschedulableUntil: T0 + MINUTE });
        const added = (await outboxRows()).slice(before);
        expect(added).toHaveLength(1);
        expect(added[0]).toMatchObject({ event: "account.state", accountId: mine.id });
      });

      it("markScopedRateLimit merges by scope and window, drops ended entries, and reaches snapshots", async () => {
        const account = await oauthAccount({ name: "scoped" });
        const before = (await outboxRows()).length;
        const opus = { scope: "family:opus", window: "7d_opus", until: T0 + 10 * MINUTE, reason: "429" };
        expect(await database.accounts.markScopedRateLimit(account.id, opus, T0)).toBe(true);
        // The same or an earlier end changes nothing; a later one extends it.
        expect(await database.accounts.markScopedRateLimit(account.id, { ...opus, until: T0 + 5 * MINUTE }, T0)).toBe(false);
        expect(await database.accounts.markScopedRateLimit(account.id, { ...opus, until: T0 + 20 * MINUTE }, T0)).toBe(true);
        const model = { scope: "model:gemini-2.5-pro", until: T0 + 2 * MINUTE };
        expect(await database.accounts.markScopedRateLimit(account.id, model, T0)).toBe(true);
        expect(await database.accounts.getById(account.id)).toMatchObject({
          rateLimitedUntil: null,
          rateLimits: [{ ...opus, until: T0 + 20 * MINUTE }, model],
        });
        expect((await database.accounts.getAccountSnapshot(account.id))!.rateLimits).toEqual([{ ...opus, until: T0 + 20 * MINUTE }, model]);
        expect((await outboxRows()).length - before).toBe(3);

        // A write after the model's quota ended drops it.
        const sonnet = { scope: "family:sonnet", until: T0 + 30 * MINUTE };
        expect(await database.accounts.markScopedRateLimit(account.id, sonnet, T0 + 3 * MINUTE)).toBe(true);
        expect((await database.accounts.getById(account.id))!.rateLimits).toEqual([{ ...opus, until: T0 + 20 * MINUTE }, sonnet]);

        // An account scope is the account-wide limit; reset clears them all.
        expect(await database.accounts.markScopedRateLimit(account.id, { scope: "account", until: T0 + MINUTE }, T0)).toBe(true);
        expect((await database.accounts.getById(account.id))!.rateLimits[0]).toEqual({ scope: "account", until: T0 + MINUTE });
        const reset = await database.accounts.reset(account.id);
        expect(reset).toMatchObject({ rateLimitedUntil: null, rateLimits: [] });
        expect((await database.accounts.getAccountSnapshot(account.id))!.rateLimits).toBeUndefined();
      });

      it("clearExpiredStates clears only what has ended, once", async () => {
        const expired = await oauthAccount({ name: "expired" });
        const live = await oauthAccount({ name: "live" });
        await database.accounts.markRateLimited(expired.id, T0, "429");
        await database.accounts.markOverloaded(expired.id, T0 + 10 * MINUTE);
        await database.accounts.markTempUnschedulable(live.id, T0 + 10 * MINUTE, "cool");
        const before = (await outboxRows()).length;

        expect(await database.accounts.clearExpiredStates(T0 + MINUTE)).toEqual([expired.id]);
        expect(await database.accounts.getById(expired.id)).toMatchObject({
          rateLimitedUntil: null,
          rateLimitReason: null,
          overloadedUntil: T0 + 10 * MINUTE,
        });
        expect(await database.accounts.getById(live.id)).toMatchObject({
          tempUnschedulableUntil: T0 + 10 * MINUTE,
        });
        expect(await database.accounts.clearExpiredStates(T0 + MINUTE)).toEqual([]);
        const added = (await outboxRows()).slice(before);
        expect(added.map((row) => [row.accountId, row.payload])).toEqual([
          [expired.id, { change: "expired_cleared" }],
        ]);

        expect((await database.accounts.clearExpiredStates(T0 + 10 * MINUTE)).sort()).toEqual(
          [expired.id, live.id].sort(),
        );
      });

      it("touchLastUsed only moves forward and writes no outbox row", async () => {
        const first = await oauthAccount({ name: "a" });
        const second = await oauthAccount({ name: "b" });
        const before = (await outboxRows()).length;
        await database.accounts.touchLastUsed(
          new Map([
            [first.id, T0 + 5],
            [second.id, T0 + 9],
          ]),
        );
        await database.accounts.touchLastUsed(
          new Map([
            [first.id, T0 + 1],
            [second.id, T0 + 10],
            ["999", T0],
          ]),
        );
        expect((await database.accounts.getById(first.id))!.lastUsedAt).toBe(T0 + 5);
        expect((await database.accounts.getById(second.id))!.lastUsedAt).toBe(T0 + 10);
        expect(await outboxRows()).toHaveLength(before);
      });
    });

    describe("admin", () => {
      it("creates, lists, patches, resets and deletes accounts", async () => {
        const group = await database.groups.create({ name: "g", platform: "claude", mode: "mixed" });
        const account = await database.accounts.create({
          name: "main",
          platform: "claude",
          type: "oauth",
          credentials: { accessToken: "at", refreshToken: "rt", expiresAt: T0 },
          groupIds: [group.id],
          priority: 10,
          concurrency: 5,
          baseUrl: "http://127.0.0.1:1",
          models: ["claude-x"],
        });
        expect(account).toMatchObject({
          name: "main",
          type: "oauth",
          priority: 10,
          concurrency: 5,
          status: "active",
          schedulable: true,
          baseUrl: "http://127.0.0.1:1",
          models: ["claude-x"],
          groupIds: [group.id],
        });
        expect(await database.accounts.list()).toEqual([account]);

        const patched = await database.accounts.update(account.id, {
          schedulable: false,
          models: null,
          credentials: { refreshToken: "rt-new" },
        });
        expect(patched).toMatchObject({ schedulable: false, models: null, priority: 10, tokenExpiresAt: 0 });
        expect((await database.accounts.get(account.id))!.credentials.refreshToken).toBe("rt-new");
        await expect(
          database.accounts.update(account.id, { credentials: { apiKey: "x" } }),
        ).rejects.toMatchObject({ code: "invalid_input" });
        await expect(database.accounts.update(account.id, { concurrency: 0 })).rejects.toMatchObject({
          code: "invalid_input",
        });

        await database.accounts.markError(account.id, "bad");
        await database.accounts.markRateLimited(account.id, T0, "429");
        expect(await database.accounts.reset(account.id)).toMatchObject({
          status: "active",
          errorMessage: null,
          rateLimitedUntil: null,
        });

        expect(await database.accounts.update("999", { priority: 1 })).toBeNull();
        expect(await database.accounts.reset("999")).toBeNull();
        expect(await database.accounts.delete(account.id)).toBe(true);
        expect(await database.accounts.delete(account.id)).toBe(false);
        expect(await raw(sql`select * from account_groups`)).toEqual([]);
      });

      it("stores an account's own cooldowns, shows them in its record and snapshot, and refuses bad ones", async () => {
        const group = await database.groups.create({ name: "cool", platform: "claude" });
        const account = await database.accounts.create({
          name: "cool",
          platform: "claude",
          type: "apikey",
          credentials: { apiKey: "sk-cool" },
          groupIds: [group.id],
          cooldowns: { serverError: 30_000, max: 600_000 },
        });
        expect(account.cooldowns).toEqual({ serverError: 30_000, max: 600_000 });
        expect(await database.accounts.getAccountSnapshot(account.id)).toMatchObject({ cooldowns: { serverError: 30_000, max: 600_000 } });
        const bucket = await database.accounts.listBucketAccounts({ groupId: group.id, platform: "claude", mode: "single" });
        expect(bucket[0]?.cooldowns).toEqual({ serverError: 30_000, max: 600_000 });

        expect((await database.accounts.update(account.id, { cooldowns: { timeout: 0 } }))?.cooldowns).toEqual({ timeout: 0 });
        await expect(database.accounts.update(account.id, { cooldowns: { timeout: -5 } })).rejects.toMatchObject({
          code: "invalid_input",
          problems: [{ field: "cooldowns.timeout" }],
        });
        const cleared = await database.accounts.update(account.id, { cooldowns: null });
        expect(cleared?.cooldowns).toBeNull();
        expect(await database.accounts.getAccountSnapshot(account.id)).not.toHaveProperty("cooldowns");
      });

      it("stores an account's modelMap, shows it in its record and snapshot, and refuses bad ones", async () => {
        const group = await database.groups.create({ name: "mapped", platform: "claude" });
        const modelMap = { "claude-sonnet-4-5": "claude-sonnet-4-5-20250929", "claude-*": "claude-haiku-4-5-20251001" };
        const account = await database.accounts.create({
          name: "mapped",
          platform: "claude",
          type: "apikey",
          credentials: { apiKey: "sk-mapped" },
          groupIds: [group.id],
          modelMap,
        });
        expect(account.modelMap).toEqual(modelMap);
        expect(await database.accounts.getAccountSnapshot(account.id)).toMatchObject({ modelMap });
        const bucket = await database.accounts.listBucketAccounts({ groupId: group.id, platform: "claude", mode: "single" });
        expect(bucket[0]?.modelMap).toEqual(modelMap);

        for (const bad of [["x"], { a: 1 }, { a: "" }, { "": "b" }, Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`m${i}`, "x"]))]) {
          await expect(database.accounts.update(account.id, { modelMap: bad as Record<string, string> })).rejects.toMatchObject({
            code: "invalid_input",
            problems: [{ field: expect.stringMatching(/^modelMap/) as unknown }],
          });
        }
        const cleared = await database.accounts.update(account.id, { modelMap: null });
        expect(cleared?.modelMap).toBeNull();
        expect(await database.accounts.getAccountSnapshot(account.id)).not.toHaveProperty("modelMap");
      });

      it("groups: a default model on create and update, with the key lookup carrying it", async () => {
        const group = await database.groups.create({ name: "defaulted", platform: "claude", defaultModel: "claude-sonnet-4-5" });
        expect(group.defaultModel).toBe("claude-sonnet-4-5");
        const key = await database.apiKeys.create({ name: "k", groupId: group.id });
        expect((await database.apiKeys.findByKey(key.key))?.group).toEqual({ platform: "claude", mode: "single", defaultModel: "claude-sonnet-4-5" });
        const renamed = await database.groups.update(group.id, { name: "renamed", defaultModel: null });
        expect(renamed).toMatchObject({ id: group.id, name: "renamed", defaultModel: null });
        expect((await database.apiKeys.findByKey(key.key))?.group).toEqual({ platform: "claude", mode: "single" });
        expect(await database.groups.update(group.id, {})).toEqual(renamed);
        expect(await database.groups.update(999_999, { defaultModel: "x" })).toBeNull();
        await expect(database.groups.update(group.id, { defaultModel: "" })).rejects.toMatchObject({ code: "invalid_input" });
        await database.groups.create({ name: "taken", platform: "claude" });
        await expect(database.groups.update(group.id, { name: "taken" })).rejects.toMatchObject({ code: "conflict" });
      });

      it("replaced OAuth credentials get a tokenVersion above the stored one, whatever the operator sent", async () => {
        const account = await oauthAccount();
        const versionNow = async () => (await database.accounts.get(account.id))!.credentials.tokenVersion ?? 0;
        const created = await versionNow();
        const startedAt = Date.now();
        await database.accounts.update(account.id, {
          credentials: { accessToken: "at-B", refreshToken: "rt-B", expiresAt: T0, tokenVersion: 3 },
        });
        const replaced = await versionNow();
        expect(replaced).toBeGreaterThan(created);
        expect(replaced).toBeGreaterThanOrEqual(startedAt);
        expect((await database.accounts.get(account.id))!.credentials).toMatchObject({ accessToken: "at-B", refreshToken: "rt-B" });

        // A refresh saved a version far above the clock: the next replacement still goes above it.
        const refreshed = Date.now() + 10 * MINUTE;
        await database.accounts.saveCredentials(account.id, {
          accessToken: "at-C",
          refreshToken: "rt-C",
          expiresAt: T0,
          tokenVersion: refreshed,
        });
        expect(await versionNow()).toBe(refreshed);
        await database.accounts.update(account.id, {
          credentials: { refreshToken: "rt-D", tokenVersion: Number.MAX_SAFE_INTEGER },
        });
        expect(await versionNow()).toBe(refreshed + 1);

        // Other patches leave the version alone; API-key accounts get none.
        await database.accounts.update(account.id, { priority: 7 });
        expect(await versionNow()).toBe(refreshed + 1);
        const apiKey = await database.accounts.create({
          name: "k",
          platform: "claude",
          type: "apikey",
          credentials: { apiKey: "sk-1" },
        });
        await database.accounts.update(apiKey.id, { credentials: { apiKey: "sk-2" } });
        expect(await database.accounts.getCredentials(apiKey.id)).toEqual({ type: "apikey", credentials: { apiKey: "sk-2" } });
      });

      it("refuses to link an account to a single group of another platform, writing nothing", async () => {
        const single = await database.groups.create({ name: "claude-single", platform: "claude" });
        const mixed = await database.groups.create({ name: "claude-mixed", platform: "claude", mode: "mixed" });
        const outboxBefore = await outboxRows();
        const refusal = {
          code: "invalid_input",
          message:
            'Account of platform openai cannot join group "claude-single": it is a single claude group; only a mixed group holds accounts of several platforms',
        };
        for (const groupIds of [[single.id], [mixed.id, single.id]]) {
          const error = await database.accounts
            .create({
              name: "o",
              platform: "openai",
              type: "apikey",
              credentials: { apiKey: "sk-SECRET-openai" },
              groupIds,
            })
            .catch((caught: unknown) => caught);
          expect(DatabaseError.isInstance(error)).toBe(true);
          expect(error).toMatchObject(refusal);
          expect((error as Error).message).not.toContain("SECRET");
        }
        expect(await database.accounts.list()).toEqual([]);
        expect(await raw(sql`select * from account_groups`)).toEqual([]);
        expect(await outboxRows()).toEqual(outboxBefore);

        // Its own platform's single group and any mixed group take it.
        const claude = await oauthAccount({ platform: "claude", groupIds: [single.id, mixed.id] });
        expect(claude.groupIds).toEqual([single.id, mixed.id]);
        const openai = await database.accounts.create({
          name: "o",
          platform: "openai",
          type: "apikey",
          credentials: { apiKey: "sk-SECRET-openai" },
          groupIds: [mixed.id],
        });

        const outboxBeforeUpdate = await outboxRows();
        await expect(
          database.accounts.update(openai.id, { groupIds: [mixed.id, single.id], name: "renamed", priority: 1 }),
        ).rejects.toMatchObject(refusal);
        expect(await database.accounts.getById(openai.id)).toEqual(openai);
        expect(await outboxRows()).toEqual(outboxBeforeUpdate);
        // A patch without groupIds is not checked against the groups, and an empty list is always allowed.
        expect(await database.accounts.update(openai.id, { priority: 2 })).toMatchObject({
          priority: 2,
          groupIds: [mixed.id],
        });
        expect(await database.accounts.update(openai.id, { groupIds: [] })).toMatchObject({ groupIds: [] });
      });

      it("refuses a bad account with one problem per field, the same rules as the admin API's", async () => {
        const group = await database.groups.create({ name: "rules", platform: "claude" });
        const bad = {
          name: " ",
          platform: "claude",
          type: "apikey" as const,
          credentials: { apiKey: "" },
          groupIds: [group.id],
          priority: null as unknown as number,
          concurrency: 0,
          models: ["ok", ""],
        };
        const error = await database.accounts.create(bad).catch((caught: unknown) => caught);
        expect(DatabaseError.isInstance(error) && error.code).toBe("invalid_input");
        const fields = (error as DatabaseError).problems.map((problem) => problem.field).sort();
        expect(fields).toEqual(["concurrency", "credentials.apiKey", "models[1]", "name", "priority"]);
        expect(await database.accounts.list()).toEqual([]);

        const fine = { name: "ok", platform: "openai", type: "apikey" as const, credentials: { apiKey: "sk" }, groupIds: [group.id, 424242] };
        expect((await database.accounts.problemsOfNew(fine)).map((problem) => problem.message)).toEqual([
          'Account of platform openai cannot join group "rules": it is a single claude group; only a mixed group holds accounts of several platforms',
          "groupIds: no group has the id 424242.",
        ]);
        expect((await database.accounts.problemsOfNew({ ...fine, platform: "claude", groupIds: [] }, { admin: true })).map((problem) => problem.field)).toEqual([
          "groupIds",
        ]);
        expect(await database.accounts.problemsOfNew({ ...fine, platform: "claude", groupIds: [] })).toEqual([]);
      });

      it("groups: create, list, get; duplicate names conflict", async () => {
        const group = await database.groups.create({ name: "team", platform: "openai" });
        expect(group).toMatchObject({ name: "team", platform: "openai", mode: "single" });
        expect(await database.groups.list()).toEqual([group]);
        expect(await database.groups.get(group.id)).toEqual(group);
        expect(await database.groups.get(999)).toBeNull();
        await expect(database.groups.create({ name: "team", platform: "claude" })).rejects.toMatchObject({
          code: "conflict",
        });
        await expect(
          database.groups.create({ name: "x", platform: "claude", mode: "weird" as "single" }),
        ).rejects.toMatchObject({
          code: "invalid_input",
        });
        await expect(
          database.groups.create({ name: "x", platform: "claude", mode: "forced" as "single" }),
        ).rejects.toMatchObject({
          code: "invalid_input",
          message: 'Group mode "forced" no longer exists: use single or mixed',
        });
        expect(await database.groups.list()).toEqual([group]);
      });
    });

    describe("API keys", () => {
      it("stores only the SHA-256 of the key and finds it by hash", async () => {
        const group = await database.groups.create({ name: "g", platform: "gemini", mode: "single" });
        const created = await database.apiKeys.create({ name: "ci", groupId: group.id, expiresAt: T0 });
        expect(created.key).toMatch(/^sr-[0-9A-Za-z]{40}$/);
        expect(created.prefix).toBe(created.key.slice(0, 9));
        const [row] = await raw<{ key_hash: string; whole: string }>(
          sql`select key_hash, api_keys::text as whole from api_keys`,
        );
        expect(row!.key_hash).toBe(createHash("sha256").update(created.key).digest("hex"));
        expect(row!.whole).not.toContain(created.key);

        expect(await database.apiKeys.findByKey(created.key)).toEqual({
          id: created.id,
          name: "ci",
          groupId: group.id,
          status: "active",
          expiresAt: T0,
          limits: null,
          group: { platform: "gemini", mode: "single" },
        });
        expect(await database.apiKeys.findByKey(`${created.key}x`)).toBeNull();
        expect(await database.apiKeys.findByKeyHash(hashApiKey(created.key))).toEqual(await database.apiKeys.findByKey(created.key));
        expect(isApiKeyShaped(created.key)).toBe(true);
        for (const bogus of [`${created.key}x`, created.key.slice(0, -1), `sk-${created.key.slice(3)}`, `${created.key.slice(0, -1)}-`, ""]) {
          expect(isApiKeyShaped(bogus)).toBe(false);
        }
        const listed = await database.apiKeys.list();
        expect(listed).toHaveLength(1);
        expect(JSON.stringify(listed)).not.toContain(created.key);

        await database.apiKeys.touchLastUsed(new Map([[created.id, T0 + 3]]));
        await database.apiKeys.touchLastUsed(new Map([[created.id, T0 + 1]]));
        expect((await database.apiKeys.get(created.id))!.lastUsedAt).toBe(T0 + 3);

        expect(await database.apiKeys.revoke(created.id)).toBe(true);
        expect((await database.apiKeys.findByKey(created.key))!.status).toBe("revoked");
        expect(await database.apiKeys.delete(created.id)).toBe(true);
        expect(await database.apiKeys.findByKey(created.key)).toBeNull();
        expect(await database.apiKeys.revoke(created.id)).toBe(false);
        await expect(database.apiKeys.create({ name: "x", groupId: 999 })).rejects.toMatchObject({
          code: "invalid_reference",
        });
      });

      it("stores limits on create and patch (name, expiry, limits; null clears), refusing bad ones one field at a time", async () => {
        const group = await database.groups.create({ name: "g", platform: "claude" });
        const limits = { requestsPerMinute: 5, costPerDayUsd: 0.05, models: ["claude-sonnet-4-5"], allowedIps: ["10.0.0.0/8", "2001:db8::1"] };
        const created = await database.apiKeys.create({ name: "k", groupId: group.id, limits });
        expect(created.limits).toEqual(limits);
        expect((await database.apiKeys.findByKey(created.key))?.limits).toEqual(limits);
        const patched = await database.apiKeys.update(created.id, { name: "renamed", expiresAt: T0, limits: { costTotalUsd: 1 } });
        expect(patched).toMatchObject({ name: "renamed", expiresAt: T0, limits: { costTotalUsd: 1 } });
        expect((await database.apiKeys.update(created.id, { limits: null, expiresAt: null }))!).toMatchObject({ name: "renamed", expiresAt: null, limits: null });
        expect(await database.apiKeys.update(999_999, { name: "x" })).toBeNull();
        await expect(
          database.apiKeys.update(created.id, { limits: { requestsPerMinute: 0, costPerDayUsd: -1, allowedIps: ["10.0.0.1", "10.0.0.0/33", "nope"], models: [""] } }),
        ).rejects.toMatchObject({
          code: "invalid_input",
          problems: [
            { field: "limits.requestsPerMinute" },
            { field: "limits.costPerDayUsd" },
            { field: "limits.models[0]" },
            { field: "limits.allowedIps[1]" },
            { field: "limits.allowedIps[2]" },
          ],
        });
      });

      it("sums one key's cost, requests and tokens per window from its usage rows", async () => {
        const base = { groupId: 1, accountId: "1", platform: "claude", model: "m", stream: false, durationMs: 1, ttfbMs: null, status: 200, inputTokens: 10, outputTokens: 5, cacheReadTokens: 2, cacheWriteTokens: 1 };
        const DAY = 1_440 * MINUTE;
        await database.usage.insertMany([
          { ...base, requestId: "k-1", apiKeyId: 41, costUsd: 1, createdAt: T0 - 40 * DAY },
          { ...base, requestId: "k-2", apiKeyId: 41, costUsd: 0.5, createdAt: T0 - 3 * DAY },
          { ...base, requestId: "k-3", apiKeyId: 41, costUsd: 0.25, createdAt: T0 - 5 * MINUTE },
          { ...base, requestId: "k-4", apiKeyId: 41, costUsd: 0.125, createdAt: T0 - 1_000 },
          { ...base, requestId: "k-5", apiKeyId: 42, costUsd: 100, createdAt: T0 - 1_000 },
        ]);
        const usage = await database.usage.keyUsage({ apiKeyId: 41, minuteStart: T0 - MINUTE, dayStart: T0 - DAY, weekStart: T0 - 7 * DAY, monthStart: T0 - 30 * DAY });
        expect(usage).toEqual({ totalUsd: 1.875, monthUsd: 0.875, weekUsd: 0.875, dayUsd: 0.375, requestsDay: 2, requestsMinute: 1, tokensDay: 36, tokensMinute: 18 });
        expect((await database.usage.keyUsage({ apiKeyId: 43, minuteStart: T0, dayStart: T0, weekStart: T0, monthStart: T0 })).totalUsd).toBe(0);
      });

      it("generates distinct keys", async () => {
        const group = await database.groups.create({ name: "g", platform: "claude" });
        const keys = await Promise.all(
          Array.from({ length: 5 }, (_, index) =>
            database.apiKeys.create({ name: `k${index}`, groupId: group.id }),
          ),
        );
        expect(new Set(keys.map((key) => key.key)).size).toBe(5);
      });
    });

    it("listExpiringOAuth pages by id over active OAuth accounts expiring before the cut-off", async () => {
      const expected: string[] = [];
      for (let index = 0; index < 7; index++) {
        const soon = await oauthAccount({ name: `soon-${index}`, expiresAt: T0 + index * MINUTE });
        expected.push(soon.id);
        await oauthAccount({ name: `late-${index}`, expiresAt: T0 + 120 * MINUTE });
      }
      const unknownExpiry = await database.accounts.create({
        name: "unknown",
        platform: "openai",
        type: "oauth",
        credentials: { accessToken: "at" },
      });
      expected.push(unknownExpiry.id);
      const disabled = await oauthAccount({ name: "disabled" });
      await database.accounts.update(disabled.id, { status: "disabled" });
      const errored = await oauthAccount({ name: "errored" });
      await database.accounts.markError(errored.id, "invalid_grant");
      await database.accounts.create({
        name: "key",
        platform: "openai",
        type: "apikey",
        credentials: { apiKey: "sk" },
      });

      const seen: string[] = [];
      let afterId: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await database.accounts.listExpiringOAuth({
          before: T0 + 30 * MINUTE,
          limit: 3,
          ...(afterId ? { afterId } : {}),
        });
        pages++;
        seen.push(...page.accounts.map((account) => account.id));
        expect(page.accounts.every((account) => account.credentials.accessToken.length > 0)).toBe(true);
        if (page.nextAfterId === null) break;
        afterId = page.nextAfterId;
      }
      expect(seen).toEqual(expected);
      expect(pages).toBe(3);
      const [first] = (await database.accounts.listExpiringOAuth({ before: T0, limit: 1 })).accounts;
      expect(first).toMatchObject({ id: expected[0], platform: "claude", tokenExpiresAt: T0 });
    });

    it("usage: inserts a batch and totals it by account, key and model over [from, to)", async () => {
      const base = {
        requestId: "r",
        groupId: 1,
        platform: "claude",
        stream: false,
        durationMs: 12.4,
        ttfbMs: null,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      };
      await database.usage.insertMany([
        {
          ...base,
          apiKeyId: 1,
          accountId: "1",
          model: "m1",
          inputTokens: 10,
          outputTokens: 1,
          cacheReadTokens: 5,
          costUsd: 0.25,
          status: 200,
          createdAt: T0,
        },
        {
          ...base,
          apiKeyId: 1,
          accountId: "2",
          model: "m1",
          inputTokens: 20,
          outputTokens: 2,
          status: 200,
          createdAt: T0 + 1,
        },
        {
          ...base,
          apiKeyId: 2,
          accountId: "2",
          model: "m2",
          inputTokens: 30,
          outputTokens: 3,
          cacheWriteTokens: 7,
          costUsd: 0.5,
          status: 429,
          ttfbMs: 4,
          createdAt: T0 + 2,
        },
        {
          ...base,
          apiKeyId: 2,
          accountId: "2",
          model: "m2",
          inputTokens: 1000,
          outputTokens: 1000,
          costUsd: 100,
          status: 200,
          createdAt: T0 + MINUTE,
        },
        {
          ...base,
          apiKeyId: null,
          accountId: null,
          model: "m3",
          inputTokens: 1000,
          outputTokens: 1000,
          status: 200,
          createdAt: T0 - 1,
        },
      ]);
      const window = { from: T0, to: T0 + MINUTE };
      expect(await database.usage.totals({ ...window, groupBy: "model" })).toEqual([
        {
          key: "m1",
          requests: 2,
          errors: 0,
          inputTokens: 30,
          outputTokens: 3,
          cacheReadTokens: 5,
          cacheWriteTokens: 0,
          costUsd: 0.25,
        },
        {
          key: "m2",
          requests: 1,
          errors: 1,
          inputTokens: 30,
          outputTokens: 3,
          cacheReadTokens: 0,
          cacheWriteTokens: 7,
          costUsd: 0.5,
        },
      ]);
      expect(await database.usage.totals({ ...window, groupBy: "account" })).toEqual([
        {
          key: "2",
          requests: 2,
          errors: 1,
          inputTokens: 50,
          outputTokens: 5,
          cacheReadTokens: 0,
          cacheWriteTokens: 7,
          costUsd: 0.5,
        },
        {
          key: "1",
          requests: 1,
          errors: 0,
          inputTokens: 10,
          outputTokens: 1,
          cacheReadTokens: 5,
          cacheWriteTokens: 0,
          costUsd: 0.25,
        },
      ]);
      expect(
        (await database.usage.totals({ from: T0 - 1, to: T0 + 2 * MINUTE, groupBy: "key" })).map((row) => [
          row.key,
          row.requests,
        ]),
      ).toEqual([
        ["1", 2],
        ["2", 2],
        [null, 1],
      ]);
      await database.usage.insertMany([]);
    });

    it("usage: stores each row's cost, upstream model and cache-write split (and makes a bad cost storable)", async () => {
      const base = { groupId: 1, apiKeyId: 7, accountId: "1", platform: "claude", model: "claude-sonnet-4-5", stream: false, durationMs: 1, ttfbMs: null, status: 200, inputTokens: 10, outputTokens: 2, cacheReadTokens: 0 };
      await database.usage.insertMany([
        { ...base, requestId: "cost-1", cacheWriteTokens: 30, cacheWrite5mTokens: 10, cacheWrite1hTokens: 20, upstreamModel: "claude-sonnet-4-5-20250929", costUsd: 0.000123456789, unpriced: false },
        { ...base, requestId: "cost-2", cacheWriteTokens: 0, costUsd: Number.NaN, unpriced: true },
        { ...base, requestId: "cost-3", cacheWriteTokens: 0 },
      ]);
      const rows = await raw<{ request_id: string; cache_write_5m_tokens: number; cache_write_1h_tokens: number; upstream_model: string | null; cost_usd: number; unpriced: boolean }>(
        sql`select request_id, cache_write_5m_tokens, cache_write_1h_tokens, upstream_model, cost_usd, unpriced from usage_logs where request_id like 'cost-%' order by request_id`,
      );
      expect(rows.map((row) => ({ ...row, cost_usd: Number(row.cost_usd) }))).toEqual([
        { request_id: "cost-1", cache_write_5m_tokens: 10, cache_write_1h_tokens: 20, upstream_model: "claude-sonnet-4-5-20250929", cost_usd: 0.000123456789, unpriced: false },
        { request_id: "cost-2", cache_write_5m_tokens: 0, cache_write_1h_tokens: 0, upstream_model: null, cost_usd: 0, unpriced: true },
        { request_id: "cost-3", cache_write_5m_tokens: 0, cache_write_1h_tokens: 0, upstream_model: null, cost_usd: 0, unpriced: false },
      ]);
    });

    it("model prices: upsert replaces a model's override, list gives them all by model, delete says whether there was one", async () => {
      const price = { inputUsdPerMTok: 3, outputUsdPerMTok: 15, cacheReadUsdPerMTok: 0.3, cacheWrite5mUsdPerMTok: 3.75, cacheWrite1hUsdPerMTok: 6 };
      expect(await database.modelPrices.list()).toEqual([]);
      const stored = await database.modelPrices.upsert({ model: "claude-sonnet-4-5", ...price });
      expect(stored).toMatchObject({ model: "claude-sonnet-4-5", ...price });
      expect(typeof stored.updatedAt).toBe("number");
      await database.modelPrices.upsert({ model: "a-test-model", ...price, inputUsdPerMTok: 1_000_000, outputUsdPerMTok: 0.000001 });
      const replaced = await database.modelPrices.upsert({ model: "claude-sonnet-4-5", ...price, inputUsdPerMTok: 2.5 });
      expect(replaced.inputUsdPerMTok).toBe(2.5);
      expect(replaced.updatedAt).toBeGreaterThanOrEqual(stored.updatedAt);
      const listed = await database.modelPrices.list();
      expect(listed.map(({ updatedAt: _at, ...row }) => row)).toEqual([
        { model: "a-test-model", ...price, inputUsdPerMTok: 1_000_000, outputUsdPerMTok: 0.000001 },
        { model: "claude-sonnet-4-5", ...price, inputUsdPerMTok: 2.5 },
      ]);
      expect(await database.modelPrices.delete("claude-sonnet-4-5")).toBe(true);
      expect(await database.modelPrices.delete("claude-sonnet-4-5")).toBe(false);
      expect((await database.modelPrices.list()).map((row) => row.model)).toEqual(["a-test-model"]);
    });

    it("usage: unpricedModels lists the models of unpriced rows in range, most requests first", async () => {
      const base = { requestId: "u", groupId: 1, apiKeyId: 1, accountId: "1", platform: "claude", stream: false, durationMs: 1, ttfbMs: null, status: 200, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
      await database.usage.insertMany([
        { ...base, model: "mystery-a", unpriced: true, createdAt: T0 },
        { ...base, model: "mystery-b", unpriced: true, createdAt: T0 + 1 },
        { ...base, model: "mystery-b", unpriced: true, createdAt: T0 + 2 },
        { ...base, model: "priced", costUsd: 1, createdAt: T0 + 3 },
        { ...base, model: "mystery-old", unpriced: true, createdAt: T0 - 1 },
      ]);
      expect(await database.usage.unpricedModels({ from: T0, to: T0 + MINUTE })).toEqual([
        { model: "mystery-b", requests: 2 },
        { model: "mystery-a", requests: 1 },
      ]);
      expect(await database.usage.unpricedModels({ from: T0, to: T0 + MINUTE, limit: 1 })).toEqual([{ model: "mystery-b", requests: 2 }]);
    });

    it("model prices: the input rules list every problem, one per field", () => {
      const price = { inputUsdPerMTok: 3, outputUsdPerMTok: 15, cacheReadUsdPerMTok: 0.3, cacheWrite5mUsdPerMTok: 3.75, cacheWrite1hUsdPerMTok: 6 };
      expect(modelPriceInputProblems("claude-sonnet-4-5", price)).toEqual([]);
      expect(modelPriceInputProblems("m", { ...price, inputUsdPerMTok: 0, cacheReadUsdPerMTok: 1_000_000 })).toEqual([]);
      const problems = modelPriceInputProblems("x".repeat(201), {
        inputUsdPerMTok: -1,
        outputUsdPerMTok: "15",
        cacheReadUsdPerMTok: Number.POSITIVE_INFINITY,
        cacheWrite5mUsdPerMTok: 1_000_001,
        extra: 1,
      });
      expect(problems.map((problem) => problem.field)).toEqual([
        "model",
        "inputUsdPerMTok",
        "outputUsdPerMTok",
        "cacheReadUsdPerMTok",
        "cacheWrite5mUsdPerMTok",
        "cacheWrite1hUsdPerMTok",
        "extra",
      ]);
      expect(modelPriceInputProblems("", null).map((problem) => problem.field)).toEqual(["model", "body"]);
      expect(modelPriceInputProblems("  ", [])).toHaveLength(2);
    });

    it("usage: series buckets rows by minute, hour or day in SQL, every bucket present, per account, key or model", async () => {
      const base = { requestId: "r", groupId: 1, platform: "claude", stream: false, durationMs: 1, ttfbMs: null, cacheReadTokens: 0, cacheWriteTokens: 0 };
      const HOUR = 60 * MINUTE;
      await database.usage.insertMany([
        { ...base, apiKeyId: 1, accountId: "1", model: "m1", inputTokens: 10, outputTokens: 1, cacheReadTokens: 4, costUsd: 0.125, status: 200, createdAt: T0 + 5_000 },
        { ...base, apiKeyId: 1, accountId: "2", model: "m1", inputTokens: 20, outputTokens: 2, status: 500, createdAt: T0 + MINUTE - 1 },
        { ...base, apiKeyId: 2, accountId: "2", model: "m2", inputTokens: 30, outputTokens: 3, cacheWriteTokens: 6, costUsd: 0.5, status: 429, createdAt: T0 + 2 * MINUTE },
        { ...base, apiKeyId: null, accountId: null, model: "m2", inputTokens: 1, outputTokens: 1, status: 401, createdAt: T0 + 2 * MINUTE + 1 },
        // Outside [from, to): counted nowhere.
        { ...base, apiKeyId: 1, accountId: "1", model: "m1", inputTokens: 999, outputTokens: 999, status: 200, createdAt: T0 - 1 },
        { ...base, apiKeyId: 1, accountId: "1", model: "m1", inputTokens: 999, outputTokens: 999, status: 200, createdAt: T0 + 3 * MINUTE },
      ]);
      const total = await database.usage.series({ from: T0, to: T0 + 3 * MINUTE, step: "minute" });
      expect(total).toEqual({
        buckets: [T0, T0 + MINUTE, T0 + 2 * MINUTE],
        series: [
          {
            key: "total",
            requests: [2, 0, 2],
            errors: [1, 0, 2],
            inputTokens: [30, 0, 31],
            outputTokens: [3, 0, 4],
            cacheReadTokens: [4, 0, 0],
            cacheWriteTokens: [0, 0, 6],
            costUsd: [0.125, 0, 0.5],
          },
        ],
      });
      const byAccount = await database.usage.series({ from: T0, to: T0 + 3 * MINUTE, step: "minute", groupBy: "account" });
      expect(byAccount.series.map((line) => [line.key, line.requests, line.errors])).toEqual([
        ["2", [1, 0, 1], [1, 0, 1]],
        ["1", [1, 0, 0], [0, 0, 0]],
        [null, [0, 0, 1], [0, 0, 1]],
      ]);
      const byModel = await database.usage.series({ from: T0, to: T0 + 3 * MINUTE, step: "minute", groupBy: "model" });
      expect(byModel.series.map((line) => [line.key, line.inputTokens])).toEqual([
        ["m1", [30, 0, 0]],
        ["m2", [0, 0, 31]],
      ]);
      const byKey = await database.usage.series({ from: T0, to: T0 + 3 * MINUTE, step: "minute", groupBy: "key" });
      expect(byKey.series.map((line) => line.key)).toEqual(["1", "2", null]);
      // A range not on a step boundary starts at the bucket holding `from`; hours and UTC days likewise.
      const hourly = await database.usage.series({ from: T0 + 30_000, to: T0 + 2 * HOUR, step: "hour" });
      expect(hourly.buckets).toEqual([T0, T0 + HOUR]);
      expect(hourly.series[0]!.requests).toEqual([4, 0]);
      const daily = await database.usage.series({ from: T0 - 1, to: T0 + 1, step: "day" });
      expect(daily.buckets).toEqual([T0 - 24 * HOUR, T0]);
      expect(daily.series[0]!.requests).toEqual([1, 0]);
      const empty = await database.usage.series({ from: T0 + 10 * HOUR, to: T0 + 10 * HOUR + 2 * MINUTE, step: "minute" });
      expect(empty).toEqual({ buckets: [T0 + 10 * HOUR, T0 + 10 * HOUR + MINUTE], series: [] });
      await expect(database.usage.series({ from: T0, to: T0 + 2001 * MINUTE, step: "minute" })).rejects.toMatchObject({ code: "invalid_input" });
      expect((await database.usage.series({ from: T0, to: T0 + 2000 * MINUTE, step: "minute" })).buckets).toHaveLength(2000);
    });

    it("groups: delete refuses while keys that are not revoked use it, then drops memberships with outbox rows", async () => {
      const group = await database.groups.create({ name: "doomed", platform: "claude" });
      const other = await database.groups.create({ name: "stays", platform: "claude" });
      const account = await oauthAccount({ groupIds: [group.id, other.id] });
      const key = await database.apiKeys.create({ name: "k", groupId: group.id });
      const revoked = await database.apiKeys.create({ name: "old", groupId: group.id });
      await database.apiKeys.revoke(revoked.id);
      expect(await database.groups.delete(group.id)).toEqual({ outcome: "in_use", keys: 1 });
      expect(await database.groups.get(group.id)).not.toBeNull();
      await database.apiKeys.revoke(key.id);
      const before = (await outboxRows()).length;
      expect(await database.groups.delete(group.id)).toEqual({ outcome: "deleted" });
      expect(await database.groups.get(group.id)).toBeNull();
      expect((await database.accounts.getById(account.id))?.groupIds).toEqual([other.id]);
      expect((await database.apiKeys.list()).map((row) => row.id)).toEqual([]);
      const rows = (await outboxRows()).slice(before);
      expect(rows.map((row) => [row.event, row.accountId, row.groupId, row.payload])).toEqual([
        ["account.updated", account.id, null, { groupIds: [group.id, other.id] }],
        ["group.deleted", null, group.id, { platform: "claude", mode: "single" }],
      ]);
      expect(await database.groups.delete(group.id)).toEqual({ outcome: "not_found" });
    });

    it("admin sessions: found while open, expired rows deleted lazily, deleted at once", async () => {
      const hash = (value: string) => createHash("sha256").update(value).digest("hex");
      await database.adminSessions.create(hash("a"), T0 + MINUTE);
      await database.adminSessions.create(hash("b"), T0 + MINUTE);
      expect(await database.adminSessions.find(hash("a"), T0)).toBe(T0 + MINUTE);
      expect(await database.adminSessions.find(hash("nobody"), T0)).toBeNull();
      expect(await database.adminSessions.find(hash("a"), T0 + MINUTE)).toBeNull();
      expect(await raw(sql`select 1 from admin_sessions where id_hash = ${hash("a")}`)).toEqual([]);
      expect(await database.adminSessions.delete(hash("b"))).toBe(true);
      expect(await database.adminSessions.find(hash("b"), T0)).toBeNull();
      expect(await database.adminSessions.delete(hash("b"))).toBe(false);
      await database.adminSessions.create(hash("c"), T0);
      expect(await database.adminSessions.deleteExpired(T0)).toBe(1);
    });

    it("usage: any text a client sends is stored, and no value can make a batch unwritable", async () => {
      const odd = [
        'quoted "model", with commas',
        "line\nbreaks\r\nand\ttabs",
        "back\\slash \\N and a NUL\u0000 inside",
        "lone \uD800 surrogate and a pair \uD83D\uDE00",
        "ünïcödé 模型",
        "",
      ];
      const before = Date.now();
      await database.usage.insertMany(
        odd.map((model, index) => ({
          requestId: `odd-${index}`,
          apiKeyId: index === 0 ? null : 1,
          accountId: index === 1 ? null : "3",
          groupId: null,
          platform: "claude",
          model,
          // Counts as an upstream might report them: fractional, negative, absurdly large, not a number.
          inputTokens: [1.6, -5, 1e12, Number.NaN, 7, 0][index]!,
          outputTokens: 1,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          status: 200,
          stream: index % 2 === 0,
          durationMs: 0.4,
          ttfbMs: index === 2 ? 1.5 : null,
        })),
      );
      const totals = await database.usage.totals({ from: before - MINUTE, to: Date.now() + MINUTE, groupBy: "model" });
      expect(totals.map((row) => row.key).sort()).toEqual(
        [
          'quoted "model", with commas',
          "line\nbreaks\r\nand\ttabs",
          "back\\slash \\N and a NUL inside",
          "lone \uFFFD surrogate and a pair \uD83D\uDE00",
          "ünïcödé 模型",
          "",
        ].sort(),
      );
      expect(Object.fromEntries(totals.map((row) => [row.key, row.inputTokens]))).toEqual({
        'quoted "model", with commas': 2,
        "line\nbreaks\r\nand\ttabs": 0,
        "back\\slash \\N and a NUL inside": 2_147_483_647,
        "lone \uFFFD surrogate and a pair \uD83D\uDE00": 0,
        "ünïcödé 模型": 7,
        "": 0,
      });
      // Rows without createdAt are stamped when written, inside the window.
      expect(totals.reduce((sum, row) => sum + row.requests, 0)).toBe(odd.length);
    });

    it("scheduler: buckets per group, bucket members by mode, snapshots without secrets", async () => {
      const single = await database.groups.create({ name: "claude-only", platform: "claude" });
      const mixed = await database.groups.create({ name: "all", platform: "claude", mode: "mixed" });
      const claude = await oauthAccount({ name: "c", platform: "claude", groupIds: [single.id, mixed.id] });
      const openai = await database.accounts.create({
        name: "o",
        platform: "openai",
        type: "apikey",
        credentials: { apiKey: "sk-SECRET" },
        groupIds: [mixed.id],
        models: ["gpt-x"],
        priority: 1,
      });
      // A link the repositories refuse to make, as a database from before that check may hold: the single
      // bucket must still list only its own platform's accounts.
      await database.db.execute(
        sql`insert into account_groups (account_id, group_id) values (${Number(openai.id)}, ${single.id})`,
      );
      await database.accounts.markRateLimited(claude.id, T0, "429");
      await database.accounts.touchLastUsed(new Map([[claude.id, T0 - 5]]));

      expect(await database.accounts.listBuckets()).toEqual([
        { groupId: single.id, platform: "claude", mode: "single" },
        { groupId: mixed.id, platform: "claude", mode: "mixed" },
      ]);
      const singleMembers = await database.accounts.listBucketAccounts({
        groupId: single.id,
        platform: "claude",
        mode: "single",
      });
      expect(singleMembers).toEqual([
        {
          id: claude.id,
          platform: "claude",
          priority: 50,
          concurrency: 3,
          status: "active",
          schedulable: true,
          type: "oauth",
          stateVersion: 2,
          rateLimitedUntil: T0,
          lastUsedAt: T0 - 5,
        },
      ]);
      const mixedMembers = await database.accounts.listBucketAccounts({
        groupId: mixed.id,
        platform: "claude",
        mode: "mixed",
      });
      expect(mixedMembers.map((member) => member.id)).toEqual([claude.id, openai.id]);
      expect(mixedMembers[1]).toMatchObject({
        platform: "openai",
        models: ["gpt-x"],
        priority: 1,
        type: "apikey",
      });
      expect(JSON.stringify(mixedMembers)).not.toContain("SECRET-");
      expect(await database.accounts.getAccountSnapshot(openai.id)).toEqual(mixedMembers[1]);
      expect(await database.accounts.getAccountSnapshot("999")).toBeNull();
      expect(await database.accounts.bucketsOfAccount(openai.id)).toEqual([
        { groupId: single.id, platform: "claude", mode: "single" },
        { groupId: mixed.id, platform: "claude", mode: "mixed" },
      ]);
    });

    it("outbox: readAfter pages past a watermark, deleteUpTo removes consumed rows, maxId", async () => {
      expect(await database.outbox.maxId()).toBe(0);
      for (let index = 0; index < 5; index++)
        await database.groups.create({ name: `g${index}`, platform: "claude" });
      const all = await database.outbox.readAfter(0, 100);
      expect(all).toHaveLength(5);
      expect(await database.outbox.maxId()).toBe(all[4]!.id);
      const page = await database.outbox.readAfter(all[1]!.id, 2);
      expect(page.map((row) => row.id)).toEqual([all[2]!.id, all[3]!.id]);
      expect(await database.outbox.deleteUpTo(all[3]!.id)).toBe(4);
      expect((await database.outbox.readAfter(0, 100)).map((row) => row.id)).toEqual([all[4]!.id]);
    });
  });
}
