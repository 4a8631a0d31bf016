import { randomBytes } from "node:crypto";
import type { Database } from "@subrelay/db";
import { MemorySchedulerCache } from "@subrelay/scheduler-cache";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { OutboxLease } from "./outbox-lease";
import { OutboxConsumer, type OutboxBatchResult, type OutboxSource } from "./outbox-consumer";
import { RedisOutboxLease } from "./redis-outbox-lease";
import { deferred, postgresDatabase, truncateAll } from "./testing/worker-fixture";
import { WorkerKeys } from "./worker-keys";

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error("REDIS_URL is not set: run through `node scripts/test-env.mjs -- ...`");

describe("RedisOutboxLease", () => {
  let redis: Redis;
  let prefix: string;

  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    await redis.quit();
  });
  beforeEach(() => {
    prefix = `test:${randomBytes(6).toString("hex")}:`;
  });

  it("one holder at a time; renew and release only by the holder", async () => {
    const key = new WorkerKeys(prefix).outboxLease;
    const first = new RedisOutboxLease(redis, { prefix, ttlMs: 60_000, owner: "first" });
    const second = new RedisOutboxLease(redis, { prefix, ttlMs: 60_000, owner: "second" });
    try {
      expect(await first.tryAcquire()).toBe(true);
      expect(await first.tryAcquire()).toBe(true);
      expect(await second.tryAcquire()).toBe(false);
      expect(await second.renew()).toBe(false);
      await second.release();
      expect(await redis.get(key)).toBe("first");

      await redis.pexpire(key, 1_000);
      expect(await first.renew()).toBe(true);
      expect(await redis.pttl(key)).toBeGreaterThan(1_000);

      await first.release();
      expect(await redis.exists(key)).toBe(0);
      expect(await first.renew()).toBe(false);
      expect(await second.tryAcquire()).toBe(true);
      expect(await redis.get(key)).toBe("second");
    } finally {
      await redis.del(key);
    }
  });

  it("expires when not renewed, so another replica can take it", async () => {
    const key = new WorkerKeys(prefix).outboxLease;
    const first = new RedisOutboxLease(redis, { prefix, ttlMs: 60_000, owner: "first" });
    const second = new RedisOutboxLease(redis, { prefix, ttlMs: 60_000, owner: "second" });
    expect(await first.tryAcquire()).toBe(true);
    // Stands for the TTL running out without waiting for it.
    await redis.pexpire(key, 1);
    while ((await redis.exists(key)) === 1) await redis.ping();
    expect(await second.tryAcquire()).toBe(true);
    expect(await first.renew()).toBe(false);
    await second.release();
  });
});

describe("OutboxConsumer across replicas (Redis lease)", () => {
  let database: Database;
  let dispose: () => Promise<void>;
  const clients: Redis[] = [];

  beforeAll(async () => {
    ({ database, dispose } = await postgresDatabase());
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit()));
    await dispose();
  });
  beforeEach(async () => {
    await truncateAll(database);
  });

  function client(): Redis {
    const created = new Redis(redisUrl!);
    clients.push(created);
    return created;
  }

  interface Replica {
    consumer: OutboxConsumer;
    batches: OutboxBatchResult[];
    leaseEvents: boolean[];
    acquired: Promise<void>;
    /** Resolves once a batch of this replica moved the watermark to `target` or past it. */
    reached(target: number): Promise<void>;
  }

  function replica(prefix: string, scheduler: MemorySchedulerCache, options: { lease?: OutboxLease; outbox?: OutboxSource; ttlMs?: number } = {}): Replica {
    const acquired = deferred();
    const batches: OutboxBatchResult[] = [];
    const leaseEvents: boolean[] = [];
    const waiters: Array<{ target: number; resolve: () => void }> = [];
    const consumer = new OutboxConsumer({
      accounts: database.accounts,
      outbox: options.outbox ?? database.outbox,
      scheduler,
      lease: options.lease ?? new RedisOutboxLease(client(), { prefix, ttlMs: options.ttlMs ?? 5_000 }),
      pollIntervalMs: 5,
      leaseRenewIntervalMs: 20,
      onBatch: (result) => {
        batches.push(result);
        for (const waiter of waiters) if (result.watermark >= waiter.target) waiter.resolve();
      },
      onLeaseChange: (held) => {
        leaseEvents.push(held);
        if (held) acquired.resolve();
      },
    });
    const reached = (target: number) => {
      if (batches.some((batch) => batch.watermark >= target)) return Promise.resolve();
      const waiter = deferred();
      waiters.push({ target, resolve: () => waiter.resolve() });
      return waiter.promise;
    };
    return { consumer, batches, leaseEvents, acquired: acquired.promise, reached };
  }

  it("only the lease holder consumes; the other never holds it and reads nothing", async () => {
    const prefix = `test:${randomBytes(6).toString("hex")}:`;
    const scheduler = new MemorySchedulerCache();
    let standbyReads = 0;
    const countingOutbox: OutboxSource = {
      readAfter: (watermark, limit) => {
        standbyReads++;
        return database.outbox.readAfter(watermark, limit);
      },
      deleteUpTo: (id) => database.outbox.deleteUpTo(id),
      maxId: () => database.outbox.maxId(),
    };
    const first = replica(prefix, scheduler);
    first.consumer.start();
    await first.acquired;
    const second = replica(prefix, scheduler, { outbox: countingOutbox });
    second.consumer.start();

    const group = await database.groups.create({ name: "g", platform: "claude" });
    const account = await database.accounts.create({ name: "a", platform: "claude", type: "apikey", credentials: { apiKey: "k" }, groupIds: [group.id] });
    await database.accounts.markRateLimited(account.id, Date.now() + 60_000);
    const target = await database.outbox.maxId();
    await first.reached(target);
    await Promise.all([first.consumer.stop(), second.consumer.stop()]);

    expect(first.leaseEvents).toEqual([true, false]);
    expect(second.leaseEvents).toEqual([]);
    expect(second.batches).toEqual([]);
    expect(standbyReads).toBe(0);
    expect(await database.outbox.readAfter(0, 10)).toEqual([]);
  });

  it("a holder that stops renewing (dead) is replaced, and the new holder consumes", async () => {
    const prefix = `test:${randomBytes(6).toString("hex")}:`;
    const scheduler = new MemorySchedulerCache();
    const realLease = new RedisOutboxLease(client(), { prefix, ttlMs: 200 });
    let frozen = false;
    const never = new Promise<never>(() => undefined);
    // Freezing stands for a crashed process: it neither renews nor releases, nor touches the outbox.
    const freezableLease: OutboxLease = {
      tryAcquire: () => (frozen ? never : realLease.tryAcquire()),
      renew: () => (frozen ? never : realLease.renew()),
      release: () => (frozen ? never : realLease.release()),
    };
    const freezableOutbox: OutboxSource = {
      readAfter: (watermark, limit) => (frozen ? never : database.outbox.readAfter(watermark, limit)),
      deleteUpTo: (id) => (frozen ? never : database.outbox.deleteUpTo(id)),
      maxId: () => (frozen ? never : database.outbox.maxId()),
    };
    const holder = replica(prefix, scheduler, { lease: freezableLease, outbox: freezableOutbox });
    holder.consumer.start();
    await holder.acquired;
    const standby = replica(prefix, scheduler, { ttlMs: 200 });
    standby.consumer.start();

    frozen = true;
    const batchesBeforeFreeze = holder.batches.length;
    await standby.acquired;

    const group = await database.groups.create({ name: "g", platform: "claude" });
    const account = await database.accounts.create({ name: "a", platform: "claude", type: "apikey", credentials: { apiKey: "k" }, groupIds: [group.id] });
    const until = Date.now() + 60_000;
    await database.accounts.markRateLimited(account.id, until);
    const target = await database.outbox.maxId();
    await standby.reached(target);
    await standby.consumer.stop();

    expect(standby.leaseEvents[0]).toBe(true);
    expect(holder.batches.length).toBe(batchesBeforeFreeze);
    expect(await scheduler.getAccount(account.id)).toMatchObject({ rateLimitedUntil: until });
    expect((await scheduler.getSnapshot({ groupId: group.id, platform: "claude", mode: "single" })).accounts.map((a) => a.id)).toEqual([account.id]);
    expect(await database.outbox.readAfter(0, 10)).toEqual([]);
  });
});
