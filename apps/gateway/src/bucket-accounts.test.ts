import { MemorySchedulerCache, type AccountSnapshot } from "@subrelay/scheduler-cache";
import { describe, expect, it } from "vitest";
import { BucketAccounts } from "./bucket-accounts";

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const bucket = { groupId: 1, platform: "claude", mode: "single" } as const;

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

const account = (overrides: Partial<AccountSnapshot> = {}): AccountSnapshot => ({
  id: "1",
  platform: "claude",
  priority: 50,
  concurrency: 3,
  status: "active",
  schedulable: true,
  stateVersion: 1,
  ...overrides,
});

describe("BucketAccounts miss-rebuild", () => {
  it("a slow rebuild's stale read never activates over the consumer's rebuild of a later change", async () => {
    const cache = new MemorySchedulerCache();
    let row = account();
    const readDone = deferred();
    const releaseRead = deferred();
    const buckets = new BucketAccounts({
      logger,
      read: (target) => cache.getSnapshot(target),
      cache,
      load: async () => {
        const read = [row];
        readDone.resolve();
        await releaseRead.promise; // the gateway is slow to write what it read (GC pause, event-loop lag)
        return read;
      },
    });

    // A request misses; the gateway takes the bucket lock and reads "active".
    const request = buckets.get(bucket);
    await readDone.promise;
    // An admin disables the account; the outbox consumer, past its wait for the lock, rebuilds from a read
    // after the change and activates it.
    row = account({ status: "disabled", schedulable: false, stateVersion: 2 });
    expect((await cache.setSnapshot(bucket, [row])).activated).toBe(true);
    // The gateway's stale read now tries to activate.
    releaseRead.resolve();
    await request;

    const snapshot = await cache.getSnapshot(bucket);
    expect(snapshot.hit).toBe(true);
    expect(snapshot.accounts).toEqual([row]);
  });

  it("rebuilds a missing snapshot from the database under the lock, and frees the lock", async () => {
    const cache = new MemorySchedulerCache();
    const row = account();
    const buckets = new BucketAccounts({ logger, read: (target) => cache.getSnapshot(target), cache, load: async () => [row] });
    expect(await buckets.get(bucket)).toEqual([row]);
    expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 1, accounts: [row] });
    const token = await cache.tryLockBucket(bucket, 1_000);
    expect(token).not.toBeNull();
  });
});
