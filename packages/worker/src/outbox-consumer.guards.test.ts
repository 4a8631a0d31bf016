// Guards of the outbox's ordering (issue step 8, item 13). Real Postgres: the interleavings below need two
// connections, which PGlite (one connection, transactions serialised) cannot produce.
import { GroupRepository, type Database } from "@subrelay/db";
import { formatBucket, MemorySchedulerCache, type SnapshotTicket } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryOutboxLease } from "./memory-outbox-lease";
import { OutboxConsumer } from "./outbox-consumer";
import { deferred, postgresDatabase, truncateAll } from "./testing/worker-fixture";

/** Fails the snapshot write of one bucket once, as a Redis error midway through a batch does. */
class FailingScheduler extends MemorySchedulerCache {
  failOnce: string | undefined;

  // Every snapshot write (setSnapshot too) ends in commitSnapshot.
  override async commitSnapshot(ticket: SnapshotTicket, accounts: Parameters<MemorySchedulerCache["commitSnapshot"]>[1]) {
    if (this.failOnce === formatBucket(ticket.bucket)) {
      this.failOnce = undefined;
      throw new Error("scheduler cache failed midway through the batch");
    }
    return super.commitSnapshot(ticket, accounts);
  }
}

describe("outbox ordering guards", () => {
  let database: Database;
  let dispose: () => Promise<void>;
  let scheduler: FailingScheduler;

  beforeAll(async () => {
    ({ database, dispose } = await postgresDatabase());
  });
  afterAll(async () => {
    await dispose();
  });
  beforeEach(async () => {
    await truncateAll(database);
    scheduler = new FailingScheduler();
  });

  const consumer = () =>
    new OutboxConsumer({ accounts: database.accounts, outbox: database.outbox, scheduler, lease: new MemoryOutboxLease() });

  /** Resolves once some backend of this database waits on an advisory lock (the outbox lock). */
  async function someoneWaitsOnTheOutboxLock(): Promise<"waiting"> {
    for (;;) {
      const result: unknown = await database.db.execute(
        "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'",
      );
      if (((result as { rows: { waiting: number }[] }).rows[0]?.waiting ?? 0) > 0) return "waiting";
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it("a lower outbox id that commits after a higher one was consumed is still consumed (the advisory lock orders commits)", async () => {
    const written = deferred();
    const commit = deferred();
    // Transaction 1 takes the lower id and stays open.
    const first = database.db.transaction(async (transaction) => {
      const group = await new GroupRepository(transaction).create({ name: "first", platform: "claude" });
      written.resolve();
      await commit.promise;
      return group;
    });
    await written.promise;
    // Transaction 2 writes its row while 1 is open: with the lock it waits for 1; without, it commits a higher id now.
    const second = database.groups.create({ name: "second", platform: "claude" });
    const race = await Promise.race([second.then(() => "committed" as const), someoneWaitsOnTheOutboxLock()]);

    const consumed: number[] = [];
    const before = await consumer().processBatch();
    consumed.push(before.rows);
    commit.resolve();
    const [firstGroup, secondGroup] = await Promise.all([first, second]);
    for (;;) {
      const batch = await consumer().processBatch();
      if (batch.rows === 0) break;
      consumed.push(batch.rows);
    }

    expect(race).toBe("waiting");
    expect(consumed.reduce((sum, rows) => sum + rows, 0)).toBe(2);
    expect(await database.outbox.readAfter(0, 10)).toEqual([]);
    for (const group of [firstGroup, secondGroup]) {
      expect((await scheduler.getSnapshot({ groupId: group.id, platform: "claude", mode: "single" })).hit).toBe(true);
    }
  });

  it("a batch that fails midway is processed again: the watermark moves only after the work", async () => {
    const groups = [];
    for (const name of ["one", "two", "three"]) groups.push(await database.groups.create({ name, platform: "claude" }));
    const buckets = groups.map((group) => ({ groupId: group.id, platform: "claude", mode: "single" }) as const);
    scheduler.failOnce = formatBucket(buckets[1]!);

    await expect(consumer().processBatch()).rejects.toThrow("midway");
    expect(await scheduler.getOutboxWatermark()).toBe(0);
    const retry = await consumer().processBatch();

    expect(retry.rows).toBe(3);
    for (const bucket of buckets) expect((await scheduler.getSnapshot(bucket)).hit).toBe(true);
    expect(await database.outbox.readAfter(0, 10)).toEqual([]);
  });
});
