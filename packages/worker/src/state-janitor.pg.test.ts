import type { Database } from "@subrelay/db";
import { MemorySchedulerCache } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StateJanitor } from "./state-janitor";
import { postgresDatabase } from "./testing/worker-fixture";
import { WorkerMetrics } from "./worker-metrics";

describe("StateJanitor", () => {
  let database: Database;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ database, dispose } = await postgresDatabase());
  });
  afterAll(async () => {
    await dispose();
  });

  it("clears ended states in the database, pushes them, and leaves running ones alone", async () => {
    const now = Date.now();
    const group = await database.groups.create({ name: "g", platform: "claude" });
    const create = (name: string) =>
      database.accounts.create({ name, platform: "claude", type: "apikey", credentials: { apiKey: `sk-${name}` }, groupIds: [group.id] });
    const ended = await create("ended");
    const running = await create("running");
    await database.accounts.markRateLimited(ended.id, now + 1_000, "429");
    await database.accounts.markTempUnschedulable(ended.id, now + 2_000, "token refresh failing: server");
    await database.accounts.markRateLimited(running.id, now + 60_000, "429");
    const scheduler = new MemorySchedulerCache();
    await scheduler.setAccount((await database.accounts.getAccountSnapshot(ended.id))!);
    const metrics = new WorkerMetrics();

    const janitor = new StateJanitor({ accounts: database.accounts, scheduler, now: () => now + 5_000, metrics });
    expect(await janitor.runOnce()).toEqual([ended.id]);

    expect(await database.accounts.getById(ended.id)).toMatchObject({
      rateLimitedUntil: null,
      rateLimitReason: null,
      tempUnschedulableUntil: null,
      tempUnschedulableReason: null,
    });
    expect((await database.accounts.getById(running.id))?.rateLimitedUntil).toBe(now + 60_000);
    const pushed = await scheduler.getAccount(ended.id);
    expect(pushed).not.toBeNull();
    expect(pushed?.rateLimitedUntil).toBeUndefined();
    expect(pushed?.tempUnschedulableUntil).toBeUndefined();
    const rows = await database.outbox.readAfter(0, 100);
    expect(rows.filter((row) => row.payload?.change === "expired_cleared").map((row) => row.accountId)).toEqual([ended.id]);
    expect(await metrics.registry.metrics()).toContain("subrelay_worker_states_cleared_total 1");
    expect(await janitor.runOnce()).toEqual([]);
  });
});
