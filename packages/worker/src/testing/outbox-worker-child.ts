// A refresh worker in its own OS process, for the kill -9 test. Reports over IPC: "started",
// { lease: held }, { batch: watermark }, and "batch-pending" when HANG_BEFORE_WATERMARK=1 made it stop
// for good just before writing its first watermark (the moment a crash hurts most).
import { createDatabase } from "@subrelay/db";
import { RedisSchedulerCache } from "@subrelay/scheduler-cache/redis";
import { MemoryTokenStore, TokenManager } from "@subrelay/token-cache";
import { Redis } from "ioredis";
import { loadConfig } from "@subrelay/runtime";
import { startWorker } from "../worker";
import { silentLogger } from "./worker-fixture";

type Message = { type: "started" } | { type: "lease"; held: boolean } | { type: "batch"; watermark: number } | { type: "batch-pending" };
const send = (message: Message) => process.send?.(message);

const hang = process.env.HANG_BEFORE_WATERMARK === "1";

class HangingScheduler extends RedisSchedulerCache {
  override async setOutboxWatermark(id: number): Promise<void> {
    if (hang) {
      send({ type: "batch-pending" });
      return new Promise<void>(() => undefined);
    }
    return super.setOutboxWatermark(id);
  }
}

const config = { ...loadConfig(), refreshIntervalMs: 3_600_000, outboxPollIntervalMs: 20 };
const database = await createDatabase({ url: config.databaseUrl, secretKey: config.secretKey! });
const redis = new Redis(config.redisUrl!);
const worker = await startWorker({
  database,
  tokens: new TokenManager({ accounts: database.accounts, refreshers: {}, store: new MemoryTokenStore() }),
  scheduler: new HangingScheduler(redis, { prefix: config.redisPrefix }),
  redis,
  config,
  logger: silentLogger,
  leaseTtlMs: 1_000,
  leaseRenewIntervalMs: 100,
  onLeaseChange: (held) => send({ type: "lease", held }),
  onBatch: (result) => send({ type: "batch", watermark: result.watermark }),
});
process.on("SIGTERM", () => {
  void worker.stop().then(async () => {
    redis.disconnect();
    await database.close();
    process.exit(0);
  });
});
send({ type: "started" });
