import { afterEach, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { CachedSchedulerReader } from "./cached-scheduler-reader";
import { RedisSchedulerCache, type RedisSchedulerCacheOptions } from "./redis-scheduler-cache";
import { account, deferred, describeSchedulerCacheContract } from "./scheduler-cache.contract";
import { SchedulerKeys } from "./scheduler-keys";
import { schedulerScripts, type SchedulerScriptName } from "./scheduler-scripts";
import { countCommands, createTestRedis } from "./redis-test-client";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function setUp(options: RedisSchedulerCacheOptions = {}): Promise<{ cache: RedisSchedulerCache; redis: Redis; keys: SchedulerKeys }> {
  const { redis, prefix, cleanup } = await createTestRedis();
  cleanups.push(cleanup);
  return { cache: new RedisSchedulerCache(redis, { prefix, ...options }), redis, keys: new SchedulerKeys(prefix) };
}

/** Makes the connection deliver each named command twice and answer with the second reply (ioredis's re-send after a reconnect). */
function resendCommands(redis: Redis, names: readonly SchedulerScriptName[]): void {
  const commands = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of names) {
    const command = schedulerScripts[name].command;
    const send = commands[command]!;
    commands[command] = async (...args: unknown[]) => {
      await send.apply(redis, args);
      return send.apply(redis, args);
    };
  }
}

describeSchedulerCacheContract("RedisSchedulerCache", async ({ resendCommands: resend, ...options } = {}) => {
  const { cache, redis } = await setUp(options);
  if (resend) resendCommands(redis, ["activateSnapshot", "tryLockBucket"]);
  return cache;
});

describe("RedisSchedulerCache", () => {
  const bucket = { groupId: 3, platform: "gemini", mode: "mixed" } as const;
  const bucketKeys = (keys: SchedulerKeys) => keys.bucket("3:gemini:mixed");

  it("a losing writer deletes its own version keys; the winner's superseded version expires after graceMs", async () => {
    const holdFirst = deferred();
    const { cache, redis, keys } = await setUp({
      graceMs: 45_000,
      beforeActivate: async (_bucket, version) => {
        if (version === 2) await holdFirst.promise;
      },
    });
    await cache.setSnapshot(bucket, [account("a")]);
    const loser = cache.setSnapshot(bucket, [account("b")]);
    expect(await cache.setSnapshot(bucket, [account("c")])).toEqual({ version: 3, activated: true });
    holdFirst.resolve();
    expect(await loser).toEqual({ version: 2, activated: false });
    const bucketKey = bucketKeys(keys);
    expect(await redis.exists(bucketKey.version(2), bucketKey.staged(2))).toBe(0);
    const superseded = await redis.pttl(bucketKey.version(1));
    expect(superseded).toBeGreaterThan(0);
    expect(superseded).toBeLessThanOrEqual(45_000);
    expect(await redis.pttl(bucketKey.version(3))).toBe(-1);
    expect(await redis.exists(bucketKey.staged(3))).toBe(0);
    // The dropped account's record stays for readers of version 1 until the grace period ends.
    expect(await redis.hexists(bucketKey.accounts, "a")).toBe(1);
  });

  it("no reader misses while the bucket switches 1,000 times between disjoint member sets (the grace period)", async () => {
    const { redis, prefix, cleanup } = await createTestRedis();
    cleanups.push(cleanup);
    const cache = new RedisSchedulerCache(redis, { prefix, graceMs: 60_000 });
    // Readers on a connection of their own, so their two reads (active version, then its list) interleave
    // with the writer's activations as another process's would.
    const readerConnection = redis.duplicate();
    cleanups.push(async () => void readerConnection.disconnect());
    const reader = new RedisSchedulerCache(readerConnection, { prefix });
    const sets = [["a", "b"], ["c", "d"]];
    await cache.setSnapshot(bucket, sets[0]!.map((id) => account(id)));
    let writing = true;
    const seen: string[] = [];
    let reads = 0;
    const readers = Array.from({ length: 4 }, async () => {
      while (writing) {
        const snapshot = await reader.getSnapshot(bucket);
        reads++;
        const ids = snapshot.hit ? snapshot.accounts.map((item) => item.id).sort().join(",") : `miss@${snapshot.version}`;
        if (ids !== "a,b" && ids !== "c,d") seen.push(ids);
      }
    });
    for (let switchNo = 1; switchNo <= 1_000; switchNo++) {
      await cache.setSnapshot(bucket, sets[switchNo % 2]!.map((id) => account(id)));
    }
    writing = false;
    await Promise.all(readers);
    expect(reads).toBeGreaterThan(1_000);
    expect(seen.slice(0, 5), `${seen.length} of ${reads} reads were not a whole snapshot`).toEqual([]);
  });

  it("collects records of dropped accounts once their grace period is over", async () => {
    const { cache, redis, keys } = await setUp({ graceMs: 0 });
    await cache.setSnapshot(bucket, [account("a"), account("b")]);
    await cache.setSnapshot(bucket, [account("b")]);
    const bucketKey = bucketKeys(keys);
    expect(await redis.hkeys(bucketKey.accounts)).toEqual(["b"]);
    expect(await redis.exists(bucketKey.version(1))).toBe(0);
    expect(await redis.zcard(bucketKey.orphans)).toBe(0);
  });

  it("a newcomer's record written by setAccount for a version that then lost is collected after graceMs", async () => {
    const reachedActivation = deferred();
    const proceed = deferred();
    const { cache, redis, keys } = await setUp({
      graceMs: 0,
      beforeActivate: async (_bucket, version) => {
        if (version !== 2) return;
        reachedActivation.resolve();
        await proceed.promise;
      },
    });
    await cache.setSnapshot(bucket, [account("a")]);
    const loser = cache.setSnapshot(bucket, [account("a"), account("newcomer")]);
    await reachedActivation.promise;
    await cache.setAccount(account("newcomer", { priority: 2 }));
    const bucketKey = bucketKeys(keys);
    expect(await redis.hexists(bucketKey.accounts, "newcomer")).toBe(1);
    expect(await cache.setSnapshot(bucket, [account("a")])).toEqual({ version: 3, activated: true });
    proceed.resolve();
    expect(await loser).toEqual({ version: 2, activated: false });
    expect(await redis.hkeys(bucketKey.accounts)).toEqual(["a"]);
    expect(await redis.zcard(bucketKey.orphans)).toBe(0);
  });

  it("getSnapshot of a 1,000-account bucket sends 2 commands; through CachedSchedulerReader, unchanged, 1", async () => {
    const { cache, redis } = await setUp();
    const accounts = Array.from({ length: 1_000 }, (_, index) => account(`account-${index}`));
    await cache.setSnapshot(bucket, accounts);
    const commands = countCommands(redis);
    const snapshot = await cache.getSnapshot(bucket);
    expect(snapshot.hit).toBe(true);
    expect(snapshot.accounts).toHaveLength(1_000);
    expect(commands.count).toBe(2);

    const reader = new CachedSchedulerReader(cache);
    await reader.getSnapshot(bucket);
    commands.reset();
    const cached = await reader.getSnapshot(bucket);
    expect(cached.accounts).toHaveLength(1_000);
    expect(commands.count).toBe(1);

    await cache.setAccount(account("account-10", { status: "error" }));
    commands.reset();
    const refreshed = await reader.getSnapshot(bucket);
    expect(refreshed.accounts[10]!.status).toBe("error");
    expect(commands.count).toBe(3);
  });

  it("skips malformed entries in the bucket registry", async () => {
    const { cache, redis, keys } = await setUp();
    await cache.setSnapshot(bucket, []);
    await redis.sadd(keys.buckets, "1:claude", "x:claude:single", "1:claude:weird");
    expect(await cache.listBuckets()).toEqual([bucket]);
  });

  it("keeps every key under the configured prefix", async () => {
    const { cache, redis, keys } = await setUp();
    await cache.setSnapshot(bucket, [account("a")]);
    await cache.setAccount(account("a", { priority: 2 }));
    await cache.updateLastUsed(new Map([["a", 10]]));
    await cache.setOutboxWatermark(4);
    const token = await cache.tryLockBucket(bucket, 10_000);
    const prefix = keys.buckets.slice(0, keys.buckets.indexOf("sched:"));
    const all = await redis.keys(`${prefix}*`);
    expect(all.length).toBeGreaterThan(5);
    expect(all.every((key) => key.startsWith(prefix))).toBe(true);
    expect(await cache.unlockBucket(bucket, token!)).toBe(true);
  });
});
