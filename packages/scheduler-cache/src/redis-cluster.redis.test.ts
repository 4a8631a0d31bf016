import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { CachedSchedulerReader } from "./cached-scheduler-reader";
import { RedisSchedulerCache } from "./redis-scheduler-cache";
import { account } from "./scheduler-cache.contract";

const nodes = (process.env.REDIS_CLUSTER_NODES ?? "")
  .split(",")
  .filter(Boolean)
  .map((node) => {
    const [host, port] = node.split(":");
    return { host: host!, port: Number(port) };
  });

describe("RedisSchedulerCache on Redis Cluster", () => {
  let cluster: Cluster | undefined;
  afterAll(async () => {
    await cluster?.quit();
  });

  it.skipIf(!process.env.REDIS_CLUSTER_NODES)("runs every script with keys spread over the cluster's slots", async () => {
    cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    const prefix = `test:${randomBytes(6).toString("hex")}:`;
    const cache = new RedisSchedulerCache(cluster, { prefix, graceMs: 1_000 });
    const buckets = Array.from({ length: 6 }, (_, index) => ({ groupId: index, platform: "claude", mode: "single" as const }));
    const accounts = Array.from({ length: 40 }, (_, index) => account(`cluster-account-${index}`));

    for (const bucket of buckets) {
      expect(await cache.setSnapshot(bucket, accounts)).toEqual({ version: 1, activated: true });
      expect(await cache.setSnapshot(bucket, accounts.slice(1))).toEqual({ version: 2, activated: true });
    }
    const limited = account("cluster-account-5", { rateLimitedUntil: 1_900_000_000_000 });
    await cache.setAccount(limited);
    await cache.updateLastUsed(new Map([["cluster-account-5", 42], ["cluster-account-6", 43]]));
    const reader = new CachedSchedulerReader(cache);
    for (const bucket of buckets) {
      const snapshot = await cache.getSnapshot(bucket);
      expect(snapshot.hit).toBe(true);
      expect(snapshot.version).toBe(2);
      expect(snapshot.accounts).toHaveLength(39);
      expect(snapshot.accounts[4]).toEqual({ ...limited, lastUsedAt: 42 });
      expect((await reader.getSnapshot(bucket)).accounts[5]!.lastUsedAt).toBe(43);
    }
    expect(await cache.getAccount("cluster-account-5")).toEqual({ ...limited, lastUsedAt: 42 });

    await cache.deleteAccount("cluster-account-7");
    expect((await cache.getSnapshot(buckets[0]!)).hit).toBe(false);

    const token = await cache.tryLockBucket(buckets[1]!, 30_000);
    expect(token).not.toBeNull();
    expect(await cache.tryLockBucket(buckets[1]!, 30_000)).toBeNull();
    expect(await cache.unlockBucket(buckets[1]!, "someone-else")).toBe(false);
    expect(await cache.unlockBucket(buckets[1]!, token!)).toBe(true);
    expect(await cache.tryLockBucket(buckets[1]!, 30_000)).not.toBeNull();

    await cache.setOutboxWatermark(10);
    await cache.setOutboxWatermark(4);
    expect(await cache.getOutboxWatermark()).toBe(10);
    expect(await cache.listBuckets()).toEqual(expect.arrayContaining(buckets));

    const masters = cluster.nodes("master");
    expect(masters.length).toBeGreaterThan(1);
    const keyed = await Promise.all(masters.map((node) => node.keys(`${prefix}*`)));
    // The keys really landed on more than one node: the scripts ran where their hash tag lives.
    expect(keyed.filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
    await Promise.all(masters.map(async (node, index) => {
      for (const key of keyed[index]!) await node.del(key);
    }));
  });
});
