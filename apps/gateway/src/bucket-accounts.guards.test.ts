import { MemorySchedulerCache, type AccountSnapshot } from "@subrelay/scheduler-cache";
import { describe, expect, it } from "vitest";
import { BucketAccounts } from "./bucket-accounts";

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("BucketAccounts rebuild singleflight (guard)", () => {
  it("50 concurrent misses of one bucket load the database once and all get that load's accounts", async () => {
    const bucket = { groupId: 1, platform: "claude", mode: "single" } as const;
    const cache = new MemorySchedulerCache();
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let loadStarted!: () => void;
    const started = new Promise<void>((resolve) => (loadStarted = resolve));
    const accounts = [{ id: "a" }] as unknown as AccountSnapshot[];
    const bucketAccounts = new BucketAccounts({
      read: () => Promise.resolve({ hit: false, accounts: [] }),
      cache,
      load: async () => {
        loads += 1;
        loadStarted();
        await gate;
        return accounts;
      },
      logger: silent,
    });
    const callers = Array.from({ length: 50 }, () => bucketAccounts.get(bucket));
    await started;
    release();
    const results = await Promise.all(callers);
    expect(loads).toBe(1);
    for (const result of results) expect(result).toBe(accounts);
  });
});
