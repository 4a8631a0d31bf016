import { describe, expect, it } from "vitest";
import { MemorySchedulerCache } from "./memory-scheduler-cache";
import { account, describeSchedulerCacheContract } from "./scheduler-cache.contract";

// The memory cache has no transport to re-send through; resendCommands does not apply to it.
describeSchedulerCacheContract(
  "MemorySchedulerCache",
  async ({ resendCommands: _resend, ...options } = {}) => new MemorySchedulerCache(options),
);

describe("MemorySchedulerCache", () => {
  const bucket = { groupId: 1, platform: "openai", mode: "single" } as const;

  it("frees a lock when its ttl ran out on the injected clock, and the old owner can no longer unlock", async () => {
    let now = 1_000;
    const cache = new MemorySchedulerCache({ now: () => now });
    const token = await cache.tryLockBucket(bucket, 500);
    expect(token).not.toBeNull();
    now = 1_499;
    expect(await cache.tryLockBucket(bucket, 500)).toBeNull();
    now = 1_500;
    const next = await cache.tryLockBucket(bucket, 500);
    expect(next).not.toBeNull();
    expect(await cache.unlockBucket(bucket, token!)).toBe(false);
    expect(await cache.unlockBucket(bucket, next!)).toBe(true);
  });

  it("never shares objects with callers", async () => {
    const cache = new MemorySchedulerCache();
    const written = account("a", { models: ["x"] });
    await cache.setSnapshot(bucket, [written]);
    written.models!.push("mutated");
    const read = await cache.getSnapshot(bucket);
    expect(read.accounts[0]!.models).toEqual(["x"]);
    read.accounts[0]!.priority = 99;
    expect((await cache.getSnapshot(bucket)).accounts[0]!.priority).toBe(1);
  });
});
