import type { Database } from "@subrelay/db";
import { formatBucket, MemorySchedulerCache, type SnapshotTicket } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryOutboxLease } from "./memory-outbox-lease";
import { OutboxConsumer, type OutboxAccountSource, type OutboxConsumerOptions } from "./outbox-consumer";
import { deferred, postgresDatabase, truncateAll } from "./testing/worker-fixture";
import { WorkerMetrics } from "./worker-metrics";

/** A MemorySchedulerCache that counts snapshot writes per bucket and can fail the next watermark write. */
class CountingScheduler extends MemorySchedulerCache {
  readonly snapshotWrites = new Map<string, number>();
  failNextWatermark = false;

  // setSnapshot commits through commitSnapshot too, so every snapshot write is counted here.
  override async commitSnapshot(ticket: SnapshotTicket, accounts: Parameters<MemorySchedulerCache["commitSnapshot"]>[1]) {
    const key = formatBucket(ticket.bucket);
    this.snapshotWrites.set(key, (this.snapshotWrites.get(key) ?? 0) + 1);
    return super.commitSnapshot(ticket, accounts);
  }

  override async setOutboxWatermark(id: number): Promise<void> {
    if (this.failNextWatermark) {
      this.failNextWatermark = false;
      throw new Error("crash before the watermark");
    }
    return super.setOutboxWatermark(id);
  }
}

describe("OutboxConsumer", () => {
  let database: Database;
  let dispose: () => Promise<void>;
  let scheduler: CountingScheduler;
  let metrics: WorkerMetrics;

  beforeAll(async () => {
    ({ database, dispose } = await postgresDatabase());
  });
  afterAll(async () => {
    await dispose();
  });
  beforeEach(async () => {
    await truncateAll(database);
    scheduler = new CountingScheduler();
    metrics = new WorkerMetrics();
  });

  function consumer(overrides: Partial<OutboxConsumerOptions> = {}): OutboxConsumer {
    return new OutboxConsumer({
      accounts: database.accounts,
      outbox: database.outbox,
      scheduler,
      lease: new MemoryOutboxLease(),
      metrics,
      ...overrides,
    });
  }

  async function apiKeyAccount(name: string, groupIds: number[]): Promise<string> {
    const created = await database.accounts.create({ name, platform: "claude", type: "apikey", credentials: { apiKey: `sk-${name}` }, groupIds });
    return created.id;
  }

  it("rebuilds each affected bucket once per batch, advances the watermark and deletes the consumed rows", async () => {
    const first = await database.groups.create({ name: "first", platform: "claude" });
    const second = await database.groups.create({ name: "second", platform: "claude" });
    const a = await apiKeyAccount("a", [first.id]);
    const b = await apiKeyAccount("b", [first.id, second.id]);
    await apiKeyAccount("c", [first.id]);
    await database.accounts.update(a, { priority: 5 });
    const lastId = await database.outbox.maxId();
    expect(lastId).toBeGreaterThanOrEqual(6);

    const result = await consumer().processBatch();

    const firstBucket = { groupId: first.id, platform: "claude", mode: "single" } as const;
    const secondBucket = { groupId: second.id, platform: "claude", mode: "single" } as const;
    expect(result.rows).toBe(lastId);
    expect(result.watermark).toBe(lastId);
    expect([...result.rebuiltBuckets].sort()).toEqual([formatBucket(firstBucket), formatBucket(secondBucket)].sort());
    expect(scheduler.snapshotWrites.get(formatBucket(firstBucket))).toBe(1);
    expect(scheduler.snapshotWrites.get(formatBucket(secondBucket))).toBe(1);
    const snapshot = await scheduler.getSnapshot(firstBucket);
    expect(snapshot.hit).toBe(true);
    expect(snapshot.accounts.map((account) => account.id)).toEqual([a, b, expect.any(String)]);
    expect(snapshot.accounts[0]?.priority).toBe(5);
    expect((await scheduler.getSnapshot(secondBucket)).accounts.map((account) => account.id)).toEqual([b]);

    expect(await scheduler.getOutboxWatermark()).toBe(lastId);
    expect(await database.outbox.readAfter(0, 100)).toEqual([]);
    expect(await metrics.registry.metrics()).toContain(`subrelay_worker_outbox_rows_processed_total ${lastId}`);

    const idle = await consumer().processBatch();
    expect(idle).toMatchObject({ rows: 0, watermark: lastId, rebuiltBuckets: [] });
  });

  it("pushes single-account state changes with setAccount, without a rebuild", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const id = await apiKeyAccount("a", [group.id]);
    await consumer().processBatch();
    scheduler.snapshotWrites.clear();
    const until = Date.now() + 60_000;
    await database.accounts.markRateLimited(id, until, "429");
    await database.accounts.markOverloaded(id, until);

    const result = await consumer().processBatch();

    expect(result).toMatchObject({ rows: 2, rebuiltBuckets: [], pushedAccounts: [id] });
    expect(scheduler.snapshotWrites.size).toBe(0);
    expect(await scheduler.getAccount(id)).toMatchObject({ rateLimitedUntil: until, overloadedUntil: until });
    const snapshot = await scheduler.getSnapshot({ groupId: group.id, platform: "claude", mode: "single" });
    expect(snapshot.accounts[0]).toMatchObject({ id, rateLimitedUntil: until });
  });

  it("removes a deleted account and rebuilds the buckets it was in", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const kept = await apiKeyAccount("kept", [group.id]);
    const gone = await apiKeyAccount("gone", [group.id]);
    await consumer().processBatch();
    await database.accounts.markRateLimited(gone, Date.now() + 60_000);
    await database.accounts.delete(gone);

    const result = await consumer().processBatch();

    expect(result.deletedAccounts).toEqual([gone]);
    expect(result.pushedAccounts).toEqual([]);
    expect(await scheduler.getAccount(gone)).toBeNull();
    const snapshot = await scheduler.getSnapshot({ groupId: group.id, platform: "claude", mode: "single" });
    expect(snapshot.accounts.map((account) => account.id)).toEqual([kept]);
  });

  it("a deleted group: its bucket is emptied and its members' other buckets rebuilt without it", async () => {
    const doomed = await database.groups.create({ name: "doomed", platform: "claude" });
    const kept = await database.groups.create({ name: "kept", platform: "claude" });
    const member = await apiKeyAccount("member", [doomed.id, kept.id]);
    await consumer().processBatch();
    const doomedBucket = { groupId: doomed.id, platform: "claude", mode: "single" } as const;
    const keptBucket = { groupId: kept.id, platform: "claude", mode: "single" } as const;
    expect((await scheduler.getSnapshot(doomedBucket)).accounts.map((account) => account.id)).toEqual([member]);
    expect(await database.groups.delete(doomed.id)).toEqual({ outcome: "deleted" });

    const result = await consumer().processBatch();

    expect([...result.rebuiltBuckets].sort()).toEqual([formatBucket(doomedBucket), formatBucket(keptBucket)].sort());
    expect((await scheduler.getSnapshot(doomedBucket)).accounts).toEqual([]);
    const snapshot = await scheduler.getSnapshot(keptBucket);
    expect(snapshot.accounts.map((account) => account.id)).toEqual([member]);
  });

  it("reads in batches of batchSize, oldest first", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const id = await apiKeyAccount("a", [group.id]);
    for (let index = 1; index <= 4; index++) await database.accounts.markRateLimited(id, Date.now() + index * 60_000);
    const total = await database.outbox.maxId();
    const small = consumer({ batchSize: 2 });
    const first = await small.processBatch();
    expect(first.rows).toBe(2);
    expect(await scheduler.getOutboxWatermark()).toBe(first.watermark);
    expect((await database.outbox.readAfter(0, 100)).map((row) => row.id)[0]).toBe(first.watermark + 1);
    let watermark = first.watermark;
    while (watermark < total) watermark = (await small.processBatch()).watermark;
    expect(await database.outbox.readAfter(0, 100)).toEqual([]);
  });

  it("a crash before the watermark moves re-processes the batch: nothing is deleted, nothing is lost", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const id = await apiKeyAccount("a", [group.id]);
    const until = Date.now() + 60_000;
    await database.accounts.markRateLimited(id, until);
    const rowsBefore = await database.outbox.readAfter(0, 100);

    scheduler.failNextWatermark = true;
    await expect(consumer().processBatch()).rejects.toThrow("crash before the watermark");
    expect(await scheduler.getOutboxWatermark()).toBe(0);
    expect(await database.outbox.readAfter(0, 100)).toEqual(rowsBefore);

    // Another holder (a fresh cache: as if the first one's pushes were lost too) converges from the same rows.
    scheduler = new CountingScheduler();
    const result = await consumer().processBatch();
    expect(result.rows).toBe(rowsBefore.length);
    expect(await scheduler.getAccount(id)).toMatchObject({ rateLimitedUntil: until });
    expect(await database.outbox.readAfter(0, 100)).toEqual([]);
  });

  it("rebuildAll rebuilds every bucket and empties cached buckets whose group is gone", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const id = await apiKeyAccount("a", [group.id]);
    const stale = { groupId: 9_999, platform: "claude", mode: "single" } as const;
    await scheduler.setSnapshot(stale, [{ id: "77", platform: "claude", priority: 1, concurrency: 1, status: "active", schedulable: true }]);

    expect(await consumer().rebuildAll()).toBe(2);

    expect((await scheduler.getSnapshot({ groupId: group.id, platform: "claude", mode: "single" })).accounts.map((a) => a.id)).toEqual([id]);
    expect((await scheduler.getSnapshot(stale)).accounts).toEqual([]);
  });

  it("the loop rebuilds everything on start, then follows the outbox; stop() finishes and resolves", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const bucket = { groupId: group.id, platform: "claude", mode: "single" } as const;
    const batches: number[] = [];
    const caughtUp = deferred();
    let target = Number.POSITIVE_INFINITY;
    const loop = consumer({
      pollIntervalMs: 5,
      onBatch: (result) => {
        batches.push(result.rows);
        if (result.watermark >= target) caughtUp.resolve();
      },
    });
    loop.start();
    const id = await apiKeyAccount("a", [group.id]);
    await database.accounts.markRateLimited(id, Date.now() + 60_000);
    target = await database.outbox.maxId();
    if ((await scheduler.getOutboxWatermark()) >= target) caughtUp.resolve();
    await caughtUp.promise;
    await loop.stop();
    expect(loop.leaseHeld).toBe(false);
    expect(scheduler.snapshotWrites.get(formatBucket(bucket))).toBeGreaterThanOrEqual(1);
    expect((await scheduler.getSnapshot(bucket)).accounts.map((account) => account.id)).toEqual([id]);
    expect(await database.outbox.readAfter(0, 100)).toEqual([]);
  });

  it("waits for a bucket lock held elsewhere, rebuilds after it is released, and releases its own", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const bucket = { groupId: group.id, platform: "claude", mode: "single" } as const;
    const id = await apiKeyAccount("a", [group.id]);
    const gatewayLock = await scheduler.tryLockBucket(bucket, 60_000);
    expect(gatewayLock).not.toBeNull();
    const waits: number[] = [];
    const result = await consumer({
      sleep: async (ms) => {
        waits.push(ms);
        // The gateway finishes its own rebuild while the consumer waits.
        if (waits.length === 3) await scheduler.unlockBucket(bucket, gatewayLock!);
      },
    }).processBatch();
    expect(waits).toEqual([50, 50, 50]);
    expect(result.rebuiltBuckets).toEqual([formatBucket(bucket)]);
    expect((await scheduler.getSnapshot(bucket)).accounts.map((account) => account.id)).toEqual([id]);
    const free = await scheduler.tryLockBucket(bucket, 1_000);
    expect(free).not.toBeNull();
  });

  it("rebuilds anyway when a bucket lock stays held past bucketLockWaitMs", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const bucket = { groupId: group.id, platform: "claude", mode: "single" } as const;
    const id = await apiKeyAccount("a", [group.id]);
    await scheduler.tryLockBucket(bucket, 60_000);
    const waits: number[] = [];
    await consumer({ bucketLockWaitMs: 200, sleep: async (ms) => void waits.push(ms) }).processBatch();
    expect(waits).toEqual([50, 50, 50, 50]);
    expect((await scheduler.getSnapshot(bucket)).accounts.map((account) => account.id)).toEqual([id]);
  });

  it("a lease takeover's overlap: the old holder's older read never activates over the new holder's", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const bucket = { groupId: group.id, platform: "claude", mode: "single" } as const;
    const id = await apiKeyAccount("a", [group.id]);
    const oldHolderRead = deferred();
    const releaseOldHolder = deferred();
    // The old holder reads the bucket ("active"), then stalls (GC pause, lost lease) before writing it.
    const slowAccounts: OutboxAccountSource = {
      listBuckets: () => database.accounts.listBuckets(),
      bucketsOfAccount: (account) => database.accounts.bucketsOfAccount(account),
      getAccountSnapshot: (account) => database.accounts.getAccountSnapshot(account),
      listBucketAccounts: async (target) => {
        const read = await database.accounts.listBucketAccounts(target);
        oldHolderRead.resolve();
        await releaseOldHolder.promise;
        return read;
      },
    };
    const oldHolder = consumer({ accounts: slowAccounts }).processBatch();
    await oldHolderRead.promise;
    // An admin disables the account; the new holder processes the outbox (past its short wait for the
    // bucket lock the old holder still holds) and activates "disabled".
    await database.accounts.update(id, { status: "disabled" });
    await consumer({ bucketLockWaitMs: 100, sleep: async () => undefined }).processBatch();
    expect((await scheduler.getSnapshot(bucket)).accounts.map((account) => account.status)).toEqual(["disabled"]);
    releaseOldHolder.resolve();
    await oldHolder;
    const snapshot = await scheduler.getSnapshot(bucket);
    expect(snapshot.hit).toBe(true);
    expect(snapshot.accounts.map((account) => [account.id, account.status])).toEqual([[id, "disabled"]]);
  });

  it("reports the lag (age of the oldest unprocessed row) and the rows behind", async () => {
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const id = await apiKeyAccount("a", [group.id]);
    for (let index = 1; index <= 3; index++) await database.accounts.markRateLimited(id, Date.now() + index * 60_000);
    const oldest = (await database.outbox.readAfter(0, 1))[0]!;
    const total = await database.outbox.maxId();
    await consumer({ batchSize: 2, now: () => oldest.createdAt + 42_000 }).processBatch();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    let text = await metrics.registry.metrics();
    expect(gauge("subrelay_worker_outbox_lag_seconds")).toBe(42);
    expect(gauge("subrelay_worker_outbox_rows_behind")).toBe(total - 2);
    await consumer().processBatch();
    await consumer().processBatch();
    text = await metrics.registry.metrics();
    expect(gauge("subrelay_worker_outbox_rows_behind")).toBe(0);
  });
});
