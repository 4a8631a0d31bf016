import type { Database } from "@subrelay/db";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { MemorySchedulerCache } from "@subrelay/scheduler-cache";
import { TokenManager } from "@subrelay/token-cache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProviders } from "@subrelay/runtime";
import { deferred, memoryDatabase, serveTokens, silentLogger, testConfig, tokenPath } from "./testing/worker-fixture";
import { startWorker } from "./worker";

describe("startWorker, embedded mode (no Redis, PGlite, in-memory caches)", () => {
  let database: Database;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    database = await memoryDatabase();
    upstream = await FakeUpstream.start();
  });
  afterAll(async () => {
    await upstream.close();
    await database.close();
  });

  it("refreshes, clears its cool-down and follows the outbox into the scheduler cache; stop() resolves", async () => {
    serveTokens(upstream);
    const now = Date.now();
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const account = await database.accounts.create({
      name: "a",
      platform: "claude",
      type: "oauth",
      groupIds: [group.id],
      credentials: { accessToken: "at-a", refreshToken: "rt-a", expiresAt: now + 60_000 },
    });
    await database.accounts.markTempUnschedulable(account.id, now + 600_000, "token refresh failing: server");
    const config = testConfig(upstream.url, { refreshIntervalMs: 3_600_000, outboxPollIntervalMs: 5 });
    const providers = createProviders(config);
    const tokens = new TokenManager({
      accounts: database.accounts,
      refreshers: Object.fromEntries(providers.all().map((provider) => [provider.platform, provider.refresher])),
    });
    const scheduler = new MemorySchedulerCache();
    let target = Number.POSITIVE_INFINITY;
    const caughtUp = deferred();
    const worker = await startWorker({
      database,
      tokens,
      scheduler,
      redis: null,
      config,
      logger: silentLogger,
      onBatch: (result) => result.watermark >= target && caughtUp.resolve(),
    });

    const pass = await worker.refresher.runOnce();
    expect(pass.refreshed).toBe(1);
    expect(upstream.requestsTo(tokenPath)).toHaveLength(1);
    expect(await database.accounts.getById(account.id)).toMatchObject({ tempUnschedulableUntil: null, tokenExpiresAt: expect.any(Number) });
    target = await database.outbox.maxId();
    if ((await scheduler.getOutboxWatermark()) >= target) caughtUp.resolve();
    await caughtUp.promise;
    await worker.stop();

    const snapshot = await scheduler.getSnapshot({ groupId: group.id, platform: "claude", mode: "single" });
    expect(snapshot.hit).toBe(true);
    expect(snapshot.accounts).toEqual([await database.accounts.getAccountSnapshot(account.id)]);
    expect(snapshot.accounts[0]?.tempUnschedulableUntil).toBeUndefined();
    expect(await database.outbox.readAfter(0, 100)).toEqual([]);
    expect(worker.consumer.leaseHeld).toBe(false);
  });
});
