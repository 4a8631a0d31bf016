import { afterEach, describe, expect, it } from "vitest";
import { RedisSchedulerCache } from "./redis-scheduler-cache";
import { account, deferred } from "./scheduler-cache.contract";
import { SchedulerKeys } from "./scheduler-keys";
import { createTestRedis } from "./redis-test-client";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe("activation's expected check (guard)", () => {
  it("a newer version activating over an unexpected active one collects that one's list and its dropped members", async () => {
    const { redis, prefix, cleanup } = await createTestRedis();
    cleanups.push(cleanup);
    const bucket = { groupId: 4, platform: "claude", mode: "single" } as const;
    const keys = new SchedulerKeys(prefix).bucket("4:claude:single");
    const holdTwo = deferred();
    const holdThree = deferred();
    const reachedThree = deferred();
    const cache = new RedisSchedulerCache(redis, {
      prefix,
      graceMs: 0,
      beforeActivate: async (_bucket, version) => {
        if (version === 2) await holdTwo.promise;
        if (version === 3) {
          reachedThree.resolve();
          await holdThree.promise;
        }
      },
    });
    await cache.setSnapshot(bucket, [account("a")]);
    const two = cache.setSnapshot(bucket, [account("a"), account("only-in-two")]);
    const three = cache.setSnapshot(bucket, [account("a")]);
    await reachedThree.promise;
    holdTwo.resolve();
    expect(await two).toEqual({ version: 2, activated: true });
    holdThree.resolve();
    expect(await three).toEqual({ version: 3, activated: true });
    expect(await redis.exists(keys.version(1), keys.version(2))).toBe(0);
    expect(await redis.hkeys(keys.accounts)).toEqual(["a"]);
    expect(await redis.zcard(keys.orphans)).toBe(0);
  });
});
