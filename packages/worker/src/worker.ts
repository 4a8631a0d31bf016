import type { Cluster, Redis } from "ioredis";
import type { SchedulerCache } from "@subrelay/scheduler-cache";
import type { Logger } from "@subrelay/token-cache";
import { abortableSleep, type Sleep } from "./abortable-sleep";
import { refreshCooldownReasonPrefix } from "./refresh-cooldown-reason";
import type { GatewayConfig } from "@subrelay/runtime";
import { MemoryOutboxLease } from "./memory-outbox-lease";
import { OutboxConsumer, type OutboxAccountSource, type OutboxBatchResult, type OutboxSource } from "./outbox-consumer";
import { ProactiveRefresher, type RefreshAccountStore, type RefreshTokens } from "./proactive-refresher";
import { RedisOutboxLease } from "./redis-outbox-lease";
import { StateJanitor, type JanitorAccountStore } from "./state-janitor";
import { WorkerMetrics } from "./worker-metrics";

export interface WorkerOptions {
  /** The open, migrated database (`@subrelay/db`'s Database fits): its accounts and outbox repositories. */
  database: {
    accounts: RefreshAccountStore &
      OutboxAccountSource &
      JanitorAccountStore & {
        /** Ends a cool-down whose reason starts with the prefix (the refresher's own); true when one was cleared. */
        clearTempUnschedulable(id: string, reasonPrefix: string): Promise<boolean>;
      };
    outbox: OutboxSource;
  };
  /** The TokenManager; over a RedisTokenStore when several processes refresh (its lock makes refreshes exactly-once). */
  tokens: RefreshTokens;
  /** The scheduler cache every gateway reads; also keeps the outbox watermark. */
  scheduler: SchedulerCache;
  /**
   * Redis for the outbox consumer lease (`<redisPrefix>worker:{outbox}:lease`), shared by every worker and
   * gateway replica. null: the embedded mode, one process, the lease is in-process.
   */
  redis: Redis | Cluster | null;
  /** Intervals, window, concurrency, batch size and the Redis prefix come from here. */
  config: GatewayConfig;
  /** Structured logger (pino-compatible); never receives token values. */
  logger: Logger;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Uniform [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
  /** Every wait (backoff, rate limit, loop pauses). Default: real timers. */
  sleep?: Sleep;
  /** Registry the worker's metrics go to. Default: a new one (read it from the handle). */
  metrics?: WorkerMetrics;
  /** Outbox lease TTL, ms. Default 10_000: a dead holder is replaced within ~this plus one renew interval. */
  leaseTtlMs?: number;
  /** Lease renewal period (and acquire attempts of replicas without it), ms. Default `leaseTtlMs / 3`. */
  leaseRenewIntervalMs?: number;
  /** Called after every processed non-empty outbox batch. */
  onBatch?: (result: OutboxBatchResult) => void;
  /** Called when this worker gains or loses the outbox lease. */
  onLeaseChange?: (held: boolean) => void;
}

/** A running worker. */
export interface WorkerHandle {
  /** Stops every loop: the outbox batch in flight finishes and its watermark is written, running refreshes finish, the lease is released. */
  stop(): Promise<void>;
  metrics: WorkerMetrics;
  refresher: ProactiveRefresher;
  consumer: OutboxConsumer;
  janitor: StateJanitor;
}

/**
 * Starts the refresh worker's loops: proactive token refresh (on every worker), and the outbox consumer and
 * state janitor (on the lease holder only, so one replica reads the outbox and the others stay idle).
 */
export function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const { database, tokens, scheduler, redis, config, logger } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? abortableSleep;
  const metrics = options.metrics ?? new WorkerMetrics();
  const leaseTtlMs = options.leaseTtlMs ?? 10_000;
  const leaseRenewIntervalMs = options.leaseRenewIntervalMs ?? Math.max(1, Math.floor(leaseTtlMs / 3));

  const refresher = new ProactiveRefresher({
    accounts: database.accounts,
    tokens,
    scheduler,
    clearCooldown: (id) => database.accounts.clearTempUnschedulable(id, refreshCooldownReasonPrefix),
    windowMs: config.refreshWindowMs,
    intervalMs: config.refreshIntervalMs,
    concurrency: config.refreshConcurrency,
    ratePerSecond: config.refreshRatePerSecond,
    now,
    random,
    sleep,
    logger,
    metrics,
  });
  const lease = redis ? new RedisOutboxLease(redis, { prefix: config.redisPrefix, ttlMs: leaseTtlMs }) : new MemoryOutboxLease();
  const consumer = new OutboxConsumer({
    accounts: database.accounts,
    outbox: database.outbox,
    scheduler,
    lease,
    batchSize: config.outboxBatchSize,
    pollIntervalMs: config.outboxPollIntervalMs,
    fullRebuildIntervalMs: config.fullRebuildIntervalMs,
    leaseRenewIntervalMs,
    onBatch: options.onBatch,
    onLeaseChange: options.onLeaseChange,
    now,
    sleep,
    logger,
    metrics,
  });
  const janitor = new StateJanitor({
    accounts: database.accounts,
    scheduler,
    intervalMs: config.stateJanitorIntervalMs,
    shouldRun: () => consumer.leaseHeld,
    now,
    sleep,
    logger,
    metrics,
  });

  consumer.start();
  refresher.start();
  janitor.start();
  logger.info({ mode: redis ? "redis" : "embedded" }, "refresh worker started");

  let stopped: Promise<void> | undefined;
  return Promise.resolve({
    metrics,
    refresher,
    consumer,
    janitor,
    stop() {
      stopped ??= Promise.all([refresher.stop(), janitor.stop(), consumer.stop()]).then(() => {
        logger.info({}, "refresh worker stopped");
      });
      return stopped;
    },
  });
}
