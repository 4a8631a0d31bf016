import { randomBytes } from "node:crypto";
import { createDatabase, type Database } from "@subrelay/db";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { RedisSchedulerCache } from "@subrelay/scheduler-cache/redis";
import { MemoryTokenStore, TokenManager } from "@subrelay/token-cache";
import { RedisTokenStore } from "@subrelay/token-cache/redis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProviders, tokenCacheKey } from "@subrelay/runtime";
import { deferred, freshPostgres, refreshTokenOf, silentLogger, testConfig, tokenPath } from "./testing/worker-fixture";
import { startWorker, type WorkerHandle, type WorkerOptions } from "./worker";

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error("REDIS_URL is not set: run through `node scripts/test-env.mjs -- ...`");

describe("two refresh workers on one Postgres and one Redis", () => {
  let target: Awaited<ReturnType<typeof freshPostgres>>;
  let upstream: FakeUpstream;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    target = await freshPostgres();
    upstream = await FakeUpstream.start();
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await upstream.close();
    await target.drop();
  });

  async function worker(
    prefix: string,
    listed: () => void,
    sharedTokenStore = true,
  ): Promise<{ handle: WorkerHandle; database: Database; tokens: TokenManager }> {
    const config = testConfig(upstream.url, { redisPrefix: prefix, refreshIntervalMs: 3_600_000, outboxPollIntervalMs: 20 });
    const database = await createDatabase({ url: target.url, secretKey: target.secretKey, poolSize: 4 });
    const redis = new Redis(redisUrl!);
    const store = sharedTokenStore
      ? new RedisTokenStore(redis, { prefix: `${prefix}token:`, encryptionKey: tokenCacheKey(target.secretKey) })
      : new MemoryTokenStore();
    const providers = createProviders(config);
    const tokens = new TokenManager({
      accounts: database.accounts,
      refreshers: Object.fromEntries(providers.all().map((provider) => [provider.platform, provider.refresher])),
      store,
    });
    const accounts = database.accounts;
    // The real repository, with a signal when this worker has listed the expiring accounts.
    const observed: WorkerOptions["database"]["accounts"] = {
      listExpiringOAuth: async (query) => {
        const page = await accounts.listExpiringOAuth(query);
        listed();
        return page;
      },
      markTempUnschedulable: (id, until, reason) => accounts.markTempUnschedulable(id, until, reason),
      markError: (id, message) => accounts.markError(id, message),
      getAccountSnapshot: (id) => accounts.getAccountSnapshot(id),
      listBuckets: () => accounts.listBuckets(),
      listBucketAccounts: (bucket) => accounts.listBucketAccounts(bucket),
      bucketsOfAccount: (id) => accounts.bucketsOfAccount(id),
      clearExpiredStates: (now) => accounts.clearExpiredStates(now),
      clearTempUnschedulable: (id, reasonPrefix) => accounts.clearTempUnschedulable(id, reasonPrefix),
    };
    const handle = await startWorker({
      database: { accounts: observed, outbox: database.outbox },
      tokens,
      scheduler: new RedisSchedulerCache(redis, { prefix }),
      redis,
      config,
      logger: silentLogger,
    });
    cleanups.push(async () => {
      await handle.stop();
      if (store instanceof RedisTokenStore) await store.close();
      redis.disconnect();
      await database.close();
    });
    return { handle, database, tokens };
  }

  async function expiringAccounts(database: Database, label: string): Promise<string[]> {
    const group = await database.groups.create({ name: label, platform: "claude" });
    const ids: string[] = [];
    for (let index = 0; index < 6; index++) {
      const account = await database.accounts.create({
        name: `${label}-${index}`,
        platform: "claude",
        type: "oauth",
        groupIds: [group.id],
        credentials: { accessToken: `at-${label}-${index}`, refreshToken: `rt-${label}-${index}`, expiresAt: Date.now() + 60_000 },
      });
      ids.push(account.id);
    }
    return ids;
  }

  it("refresh the same expiring accounts concurrently: the token endpoint sees exactly one refresh per account", async () => {
    const setup = await createDatabase({ url: target.url, secretKey: target.secretKey, poolSize: 2 });
    cleanups.push(() => setup.close());
    await setup.migrate();
    const ids = await expiringAccounts(setup, "shared");

    // The endpoint answers only once both workers have listed the accounts: both passes overlap for sure.
    const firstListed = deferred();
    const secondListed = deferred();
    upstream.on("POST", tokenPath, async (request) => {
      await Promise.all([firstListed.promise, secondListed.promise]);
      const refreshToken = refreshTokenOf(request);
      return { json: { access_token: `at:${refreshToken}`, refresh_token: `${refreshToken}+`, expires_in: 3600 } };
    });
    const prefix = `test:${randomBytes(6).toString("hex")}:`;
    const [first, second] = await Promise.all([worker(prefix, () => firstListed.resolve()), worker(prefix, () => secondListed.resolve())]);

    const [firstPass, secondPass] = await Promise.all([first.handle.refresher.runOnce(), second.handle.refresher.runOnce()]);

    const refreshed = upstream.requestsTo(tokenPath).map(refreshTokenOf).sort();
    expect(refreshed).toEqual(ids.map((_id, index) => `rt-shared-${index}`).sort());
    expect(firstPass.examined).toBe(6);
    expect(secondPass.examined).toBe(6);
    expect(firstPass.refreshed + secondPass.refreshed).toBe(6);
    expect(firstPass.cooledDown + secondPass.cooledDown + firstPass.permanentFailures + secondPass.permanentFailures).toBe(0);
    for (const [index, id] of ids.entries()) {
      const stored = await setup.accounts.get(id);
      expect(stored?.credentials).toMatchObject({ accessToken: `at:rt-shared-${index}`, refreshToken: `rt-shared-${index}+` });
      // Both replicas serve the new token from the shared cache without another refresh.
      expect(await second.tokens.getAccessToken(stored!)).toBe(`at:rt-shared-${index}`);
    }
    expect(upstream.requestsTo(tokenPath)).toHaveLength(6);

    // Exactly one of the two holds the outbox lease.
    expect([first.handle.consumer.leaseHeld, second.handle.consumer.leaseHeld].filter(Boolean)).toHaveLength(1);
  });

  it("without the shared lock (a token store per worker) the database's refresh lock alone keeps the same overlap to one refresh per account", async () => {
    // Before step 8 this was the control showing that the shared lock mattered: each account was refreshed
    // twice. A lock that cannot be shared is now backed by the database's lock (issue 12, item 1).
    const setup = await createDatabase({ url: target.url, secretKey: target.secretKey, poolSize: 2 });
    cleanups.push(() => setup.close());
    const ids = await expiringAccounts(setup, "unlocked");
    upstream.reset();
    const firstListed = deferred();
    const secondListed = deferred();
    upstream.on("POST", tokenPath, async (request) => {
      await Promise.all([firstListed.promise, secondListed.promise]);
      const refreshToken = refreshTokenOf(request);
      return { json: { access_token: `at:${refreshToken}`, refresh_token: `${refreshToken}+`, expires_in: 3600 } };
    });
    const prefix = `test:${randomBytes(6).toString("hex")}:`;
    const [first, second] = await Promise.all([
      worker(prefix, () => firstListed.resolve(), false),
      worker(prefix, () => secondListed.resolve(), false),
    ]);
    await Promise.all([first.handle.refresher.runOnce(), second.handle.refresher.runOnce()]);
    const refreshed = upstream.requestsTo(tokenPath).map(refreshTokenOf).sort();
    expect(refreshed).toEqual(ids.map((_id, index) => `rt-unlocked-${index}`).sort());
    for (const [index, id] of ids.entries()) {
      expect((await setup.accounts.get(id))?.credentials).toMatchObject({ refreshToken: `rt-unlocked-${index}+` });
    }
  });
});
