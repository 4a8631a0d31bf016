import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createDatabase, type Database } from "@subrelay/db";
import { RedisSchedulerCache } from "@subrelay/scheduler-cache/redis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeSourceArgs } from "../../../scripts/node-source.mjs";
import { freshPostgres } from "./testing/worker-fixture";

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error("REDIS_URL is not set: run through `node scripts/test-env.mjs -- ...`");

const childEntry = fileURLToPath(new URL("./testing/outbox-worker-child.ts", import.meta.url));

type ChildMessage = { type: "started" } | { type: "lease"; held: boolean } | { type: "batch"; watermark: number } | { type: "batch-pending" };

/** A worker process and a way to wait for what it reports. */
class WorkerProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #messages: ChildMessage[] = [];
  readonly #waiters: Array<{ match: (message: ChildMessage) => boolean; resolve: () => void }> = [];

  constructor(readonly child: ChildProcess) {
    child.on("message", (message: ChildMessage) => {
      this.#messages.push(message);
      for (const waiter of this.#waiters) if (waiter.match(message)) waiter.resolve();
    });
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  /** Resolves once the child sent (or had sent) a message matching `match`; rejects if it exits first. */
  waitFor(match: (message: ChildMessage) => boolean): Promise<void> {
    if (this.#messages.some(match)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ match, resolve });
      void this.exited.then(({ code, signal }) => reject(new Error(`worker exited (${code ?? signal}) before the expected message`)));
    });
  }
}

describe("a worker killed mid-batch (kill -9)", () => {
  let target: Awaited<ReturnType<typeof freshPostgres>>;
  let database: Database;
  let redis: Redis;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    target = await freshPostgres();
    database = await createDatabase({ url: target.url, secretKey: target.secretKey, poolSize: 2 });
    await database.migrate();
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    redis.disconnect();
    await database.close();
    await target.drop();
  });

  function startWorker(prefix: string, hang: boolean): WorkerProcess {
    const child = spawn(process.execPath, nodeSourceArgs(childEntry), {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: {
        ...process.env,
        DATABASE_URL: target.url,
        SUBRELAY_SECRET_KEY: target.secretKey,
        REDIS_URL: redisUrl,
        // test-env exports a cluster too; one Redis is configured, not both.
        REDIS_CLUSTER_NODES: "",
        REDIS_PREFIX: prefix,
        LOG_LEVEL: "silent",
        HANG_BEFORE_WATERMARK: hang ? "1" : "0",
      },
    });
    children.push(child);
    return new WorkerProcess(child);
  }

  it("another worker takes over the lease and no outbox row is lost or applied into a wrong state", async () => {
    const prefix = `test:${randomBytes(6).toString("hex")}:`;
    const doomed = startWorker(prefix, true);
    await doomed.waitFor((message) => message.type === "lease" && message.held);
    const survivor = startWorker(prefix, false);
    await survivor.waitFor((message) => message.type === "started");

    const group = await database.groups.create({ name: "g", platform: "claude" });
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const account = await database.accounts.create({
        name: `a${index}`,
        platform: "claude",
        type: "apikey",
        credentials: { apiKey: `sk-${index}` },
        groupIds: [group.id],
      });
      ids.push(account.id);
    }
    const until = Date.now() + 3_600_000;
    await database.accounts.markRateLimited(ids[0]!, until, "429");
    await database.accounts.markError(ids[1]!, "revoked");

    await doomed.waitFor((message) => message.type === "batch-pending");
    doomed.child.kill("SIGKILL");
    expect((await doomed.exited).signal).toBe("SIGKILL");
    // Rows the dead worker had read but not acknowledged are all still there.
    expect((await database.outbox.readAfter(0, 1_000)).length).toBeGreaterThan(0);

    await survivor.waitFor((message) => message.type === "lease" && message.held);
    await database.accounts.markOverloaded(ids[2]!, until);
    await database.accounts.delete(ids[4]!);
    const last = await database.outbox.maxId();
    await survivor.waitFor((message) => message.type === "batch" && message.watermark >= last);

    const scheduler = new RedisSchedulerCache(redis, { prefix });
    expect(await scheduler.getOutboxWatermark()).toBe(last);
    expect(await database.outbox.readAfter(0, 1_000)).toEqual([]);
    const snapshot = await scheduler.getSnapshot({ groupId: group.id, platform: "claude", mode: "single" });
    expect(snapshot.hit).toBe(true);
    expect(snapshot.accounts.map((account) => account.id)).toEqual(ids.slice(0, 4));
    for (const id of ids.slice(0, 4)) {
      expect(await scheduler.getAccount(id)).toEqual(await database.accounts.getAccountSnapshot(id));
    }
    expect(await scheduler.getAccount(ids[4]!)).toBeNull();
    expect(await scheduler.getAccount(ids[0]!)).toMatchObject({ rateLimitedUntil: until });
    expect(await scheduler.getAccount(ids[1]!)).toMatchObject({ status: "error" });
    expect(await scheduler.getAccount(ids[2]!)).toMatchObject({ overloadedUntil: until });

    // SIGTERM: the survivor finishes, releases the lease and exits 0.
    survivor.child.kill("SIGTERM");
    expect((await survivor.exited).code).toBe(0);
    expect(await redis.exists(`${prefix}worker:{outbox}:lease`)).toBe(0);
  });
});
