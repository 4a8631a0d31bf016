import type { AddressInfo } from "node:net";
import {
  connectRedis,
  createLogger,
  createProviders,
  createWarnLimiter,
  describeError,
  ensurePortFree,
  listenError,
  loadConfigOrExit,
  openDatabase,
  redisStores,
  StartupError,
  waitForRedis,
} from "@subrelay/runtime";
import { TokenManager } from "@subrelay/token-cache";
import { startWorker, WorkerMetrics } from "@subrelay/worker";

import { createWorkerServer } from "./worker-server";

/** `node dist/main.js`: the refresh worker process (needs Redis; in embedded mode the gateway runs it). */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.redisUrl && !(config.redisClusterNodes && config.redisClusterNodes.length > 0)) {
    process.stderr.write(
      "subrelay refresh worker: neither REDIS_URL nor REDIS_CLUSTER_NODES is set.\n" +
        "Without Redis (the embedded mode) the refresh worker runs inside the gateway process; do not start it separately.\n" +
        "To run separate workers, point the gateway and the worker at the same Postgres (DATABASE_URL) and Redis.\n",
    );
    process.exit(2);
  }
  // Before the database or the loops: a port in use fails the start first.
  await ensurePortFree(config.host, config.workerPort, "WORKER_PORT");
  const logger = createLogger(config.logLevel);
  const metrics = new WorkerMetrics();
  const database = await openDatabase(config, logger);
  const redis = connectRedis(config);
  if (!redis) throw new Error("Redis is configured but no client was created");
  const warn = createWarnLimiter(logger);
  redis.on("error", (error: unknown) => warn("redis connection error", error));
  try {
    // The loops' first commands (the outbox lease) would otherwise meet a connection not yet made.
    await waitForRedis(redis, config, config.redisStartTimeoutMs);
  } catch (error) {
    redis.disconnect();
    await database.close().catch(() => undefined);
    throw error;
  }

  const { tokenStore, scheduler } = redisStores(redis, config);
  const providers = createProviders(config);
  const tokens = new TokenManager({
    accounts: database.accounts,
    refreshers: Object.fromEntries(providers.all().map((provider) => [provider.platform, provider.refresher])),
    store: tokenStore,
    logger,
    metrics: { refresh: (platform, outcome) => metrics.refreshAttempts.inc({ platform, outcome }) },
  });
  const worker = await startWorker({ database, tokens, scheduler, redis, config, logger, metrics });

  const server = createWorkerServer({
    metrics,
    readiness: async () => ({
      database: await database.ping().then(
        () => true,
        () => false,
      ),
      redis: await redis.ping().then(
        () => true,
        () => false,
      ),
    }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(error, config.host, config.workerPort, "WORKER_PORT")));
    server.listen(config.workerPort, config.host, () => resolve());
  });
  // Before the address is printed: whoever waits for it may signal at once (a supervisor, a test).
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: finishing the batch in flight");
    (async () => {
      await worker.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tokenStore.close().catch(() => undefined);
      redis.disconnect();
      await database.close();
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ error: describeError(error) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  const address = server.address() as AddressInfo;
  logger.info({ host: address.address, port: address.port }, "refresh worker listening");
  process.stdout.write(`subrelay refresh worker listening on http://${address.address}:${address.port}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`subrelay refresh worker failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof StartupError ? error.exitCode : 1);
});
