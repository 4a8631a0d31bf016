import { describe, expect, it } from "vitest";
import { CachedSchedulerReader } from "./cached-scheduler-reader";
import { MemorySchedulerCache } from "./memory-scheduler-cache";
import { account, deferred } from "./scheduler-cache.contract";
import type { SchedulerBucket, SchedulerSnapshot, SnapshotStamp } from "./types";

const bucket: SchedulerBucket = { groupId: 2, platform: "claude", mode: "single" };

/** Counts the calls the reader makes, and lets a test run code between them. */
class CountingCache extends MemorySchedulerCache {
  stampCalls = 0;
  snapshotCalls = 0;
  afterStamp: (() => Promise<void>) | undefined;
  stampGate: Promise<void> | undefined;

  override async getSnapshotStamp(target: SchedulerBucket): Promise<SnapshotStamp | null> {
    this.stampCalls += 1;
    await this.stampGate;
    const stamp = await super.getSnapshotStamp(target);
    const hook = this.afterStamp;
    this.afterStamp = undefined;
    await hook?.();
    return stamp;
  }

  override async getSnapshot(target: SchedulerBucket): Promise<SchedulerSnapshot> {
    this.snapshotCalls += 1;
    return super.getSnapshot(target);
  }
}

describe("CachedSchedulerReader", () => {
  it("fetches once, then serves the kept snapshot after one stamp call while nothing changed", async () => {
    const cache = new CountingCache();
    await cache.setSnapshot(bucket, [account("a"), account("b")]);
    const reader = new CachedSchedulerReader(cache);
    const first = await reader.getSnapshot(bucket);
    const second = await reader.getSnapshot(bucket);
    expect(first).toEqual({ hit: true, version: 1, accounts: [account("a"), account("b")] });
    expect(second).toBe(first);
    expect(cache.snapshotCalls).toBe(1);
    expect(cache.stampCalls).toBe(2);
    expect(Object.isFrozen(first.accounts)).toBe(true);
    expect(Object.isFrozen(first.accounts[0])).toBe(true);
  });

  it("refetches after setAccount, deleteAccount or a new version, but not after updateLastUsed", async () => {
    const cache = new CountingCache();
    await cache.setSnapshot(bucket, [account("a"), account("b")]);
    const reader = new CachedSchedulerReader(cache);
    await reader.getSnapshot(bucket);

    await cache.updateLastUsed(new Map([["a", 5_000]]));
    expect((await reader.getSnapshot(bucket)).accounts[0]!.lastUsedAt).toBeUndefined();
    expect(cache.snapshotCalls).toBe(1);

    await cache.setAccount(account("a", { rateLimitedUntil: 99 }));
    const afterSet = await reader.getSnapshot(bucket);
    expect(afterSet.accounts[0]).toEqual({ ...account("a", { rateLimitedUntil: 99 }), lastUsedAt: 5_000 });
    expect(cache.snapshotCalls).toBe(2);

    await cache.setSnapshot(bucket, [account("c")]);
    expect((await reader.getSnapshot(bucket)).accounts.map((item) => item.id)).toEqual(["c"]);
    expect(cache.snapshotCalls).toBe(3);

    await cache.deleteAccount("c");
    expect(await reader.getSnapshot(bucket)).toEqual({ hit: false, version: 2, accounts: [] });
    expect(await reader.getSnapshot(bucket)).toEqual({ hit: false, version: 2, accounts: [] });
    expect(cache.snapshotCalls).toBe(5);
  });

  it("answers a miss without fetching when the bucket has no active version", async () => {
    const cache = new CountingCache();
    const reader = new CachedSchedulerReader(cache);
    expect(await reader.getSnapshot(bucket)).toEqual({ hit: false, version: 0, accounts: [] });
    expect(cache.snapshotCalls).toBe(0);
  });

  it("coalesces concurrent reads of one bucket into one call", async () => {
    const cache = new CountingCache();
    await cache.setSnapshot(bucket, [account("a")]);
    const gate = deferred();
    cache.stampGate = gate.promise;
    const reader = new CachedSchedulerReader(cache);
    const reads = Array.from({ length: 10 }, () => reader.getSnapshot(bucket));
    gate.resolve();
    const results = await Promise.all(reads);
    expect(cache.stampCalls).toBe(1);
    expect(cache.snapshotCalls).toBe(1);
    expect(new Set(results).size).toBe(1);
  });

  it("never keeps data under a stamp that does not describe it (version switched between the two calls)", async () => {
    const cache = new CountingCache();
    await cache.setSnapshot(bucket, [account("a")]);
    const reader = new CachedSchedulerReader(cache);
    cache.afterStamp = async () => {
      await cache.setSnapshot(bucket, [account("b")]);
    };
    const switched = await reader.getSnapshot(bucket);
    expect(switched.version).toBe(2);
    expect(switched.accounts.map((item) => item.id)).toEqual(["b"]);
    await reader.getSnapshot(bucket);
    expect(cache.snapshotCalls).toBe(2);
    await reader.getSnapshot(bucket);
    expect(cache.snapshotCalls).toBe(2);
  });

  it("with maxStalenessMs, serves without any call inside the window and revalidates after it", async () => {
    let now = 10_000;
    const cache = new CountingCache();
    await cache.setSnapshot(bucket, [account("a")]);
    const reader = new CachedSchedulerReader(cache, { now: () => now, maxStalenessMs: 1_000 });
    await reader.getSnapshot(bucket);
    await cache.setAccount(account("a", { status: "error" }));
    now = 10_999;
    expect((await reader.getSnapshot(bucket)).accounts[0]!.status).toBe("active");
    expect(cache.stampCalls).toBe(1);
    now = 11_000;
    expect((await reader.getSnapshot(bucket)).accounts[0]!.status).toBe("error");
    expect(cache.stampCalls).toBe(2);
  });

  it("invalidate drops kept snapshots", async () => {
    const cache = new CountingCache();
    await cache.setSnapshot(bucket, [account("a")]);
    const reader = new CachedSchedulerReader(cache);
    await reader.getSnapshot(bucket);
    reader.invalidate(bucket);
    await reader.getSnapshot(bucket);
    reader.invalidate();
    await reader.getSnapshot(bucket);
    expect(cache.snapshotCalls).toBe(3);
  });
});
