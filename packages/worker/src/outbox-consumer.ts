import type { OutboxRow } from "@subrelay/db";
import { formatBucket, type AccountSnapshot, type SchedulerBucket, type SchedulerCache } from "@subrelay/scheduler-cache";
import type { Logger } from "@subrelay/token-cache";
import { abortableSleep, pause, type Sleep } from "./abortable-sleep";
import type { OutboxLease } from "./outbox-lease";
import { pushAccountSnapshot, type AccountSnapshotSource } from "./push-account-snapshot";
import { WorkerMetrics } from "./worker-metrics";

/** The database as the consumer needs it (implemented by `@subrelay/db`'s AccountRepository). */
export interface OutboxAccountSource extends AccountSnapshotSource {
  listBuckets(): Promise<SchedulerBucket[]>;
  listBucketAccounts(bucket: SchedulerBucket): Promise<AccountSnapshot[]>;
  bucketsOfAccount(id: string): Promise<SchedulerBucket[]>;
}

/** The `scheduler_outbox` table (implemented by `@subrelay/db`'s OutboxRepository). */
export interface OutboxSource {
  readAfter(watermark: number, limit: number): Promise<OutboxRow[]>;
  deleteUpTo(id: number): Promise<number>;
  maxId(): Promise<number>;
}

/** The scheduler cache the snapshots are written to; it also keeps the watermark (shared by every replica). */
export type OutboxScheduler = Pick<
  SchedulerCache,
  | "beginSnapshot"
  | "commitSnapshot"
  | "setAccount"
  | "deleteAccount"
  | "tryLockBucket"
  | "unlockBucket"
  | "listBuckets"
  | "getOutboxWatermark"
  | "setOutboxWatermark"
>;

export interface OutboxConsumerOptions {
  accounts: OutboxAccountSource;
  outbox: OutboxSource;
  scheduler: OutboxScheduler;
  /** Who may consume: RedisOutboxLease across replicas, MemoryOutboxLease in the embedded (one-process) mode. */
  lease: OutboxLease;
  /** Rows read per batch. Default 500. */
  batchSize?: number;
  /** Pause between polls once caught up, ms. Default 500. */
  pollIntervalMs?: number;
  /** A full rebuild of every bucket runs on taking the lease and then every this many ms. Default 300_000. */
  fullRebuildIntervalMs?: number;
  /**
   * Lease renewal period, ms, and how often a replica without the lease tries to take it. Keep it well
   * under the lease TTL (a third of it). Default 3_000.
   */
  leaseRenewIntervalMs?: number;
  /** TTL of a bucket's rebuild lock, ms. Default 30_000. */
  bucketLockTtlMs?: number;
  /**
   * How long to wait for a bucket lock another process holds (a gateway rebuilding on a cache miss) before
   * rebuilding without it, ms. Default 2_000 (polled every 50 ms).
   */
  bucketLockWaitMs?: number;
  /** Called when this consumer gains (true) or loses (false) the lease. Must not throw. */
  onLeaseChange?: (held: boolean) => void;
  /** Called after every processed non-empty batch. Must not throw. */
  onBatch?: (result: OutboxBatchResult) => void;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Loop pauses and lock waits. Default {@link abortableSleep}. */
  sleep?: Sleep;
  logger?: Logger;
  metrics?: WorkerMetrics;
}

/** What one batch did. */
export interface OutboxBatchResult {
  /** Rows consumed (0: caught up). */
  rows: number;
  /** Highest id consumed: the new watermark (the old one when `rows` is 0). */
  watermark: number;
  /** Bucket strings rebuilt, each once. */
  rebuiltBuckets: string[];
  /** Account ids pushed with setAccount, or removed with deleteAccount. */
  pushedAccounts: string[];
  deletedAccounts: string[];
}

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The single consumer of `scheduler_outbox`: turns committed account and group changes into scheduler cache
 * snapshots, so every replica converges without reading Postgres itself.
 *
 * Only the lease holder reads the outbox; the others try to take the lease every `leaseRenewIntervalMs`
 * and do nothing else. A batch: read rows past the watermark, rebuild each affected bucket once (under its
 * lock), push single-account state changes with `setAccount`, remove deleted accounts, then advance the
 * watermark, then delete rows up to it. Rows are deleted only after the watermark passed them; a crash
 * before the watermark moves makes the next holder process the batch again, which is harmless because
 * every step re-reads the current database state (rebuilds and pushes are idempotent). Nothing is lost.
 *
 * A holder that loses the lease mid-batch finishes that batch, then stops consuming. A takeover may overlap
 * by one batch: the old holder's rebuilds may then run with reads older than the new holder's. That is safe
 * only because every rebuild allocates its snapshot version before its database read (`beginSnapshot`), so
 * activations follow read order and an older read can never activate over a newer one.
 */
export class OutboxConsumer {
  readonly #accounts: OutboxAccountSource;
  readonly #outbox: OutboxSource;
  readonly #scheduler: OutboxScheduler;
  readonly #lease: OutboxLease;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #fullRebuildIntervalMs: number;
  readonly #leaseRenewIntervalMs: number;
  readonly #bucketLockTtlMs: number;
  readonly #bucketLockWaitMs: number;
  readonly #onLeaseChange: (held: boolean) => void;
  readonly #onBatch: (result: OutboxBatchResult) => void;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  readonly #logger: Logger;
  readonly #metrics: WorkerMetrics;
  readonly #stopping = new AbortController();
  #held = false;
  #recovering = false;
  #fullRebuildAt = Number.NEGATIVE_INFINITY;
  #loop: Promise<void> | undefined;

  constructor(options: OutboxConsumerOptions) {
    this.#accounts = options.accounts;
    this.#outbox = options.outbox;
    this.#scheduler = options.scheduler;
    this.#lease = options.lease;
    this.#batchSize = Math.max(1, options.batchSize ?? 500);
    this.#pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 500);
    this.#fullRebuildIntervalMs = options.fullRebuildIntervalMs ?? 300_000;
    this.#leaseRenewIntervalMs = Math.max(1, options.leaseRenewIntervalMs ?? 3_000);
    this.#bucketLockTtlMs = options.bucketLockTtlMs ?? 30_000;
    this.#bucketLockWaitMs = options.bucketLockWaitMs ?? 2_000;
    this.#onLeaseChange = options.onLeaseChange ?? (() => undefined);
    this.#onBatch = options.onBatch ?? (() => undefined);
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#logger = options.logger ?? silent;
    this.#metrics = options.metrics ?? new WorkerMetrics();
  }

  /** True while this consumer holds the lease (as of its last acquire or renewal). */
  get leaseHeld(): boolean {
    return this.#held;
  }

  /** Starts the loops (lease keeping, consuming). Idempotent. */
  start(): void {
    if (this.#loop || this.#stopping.signal.aborted) return;
    this.#loop = Promise.all([this.#keepLease(), this.#consume()]).then(() => undefined);
  }

  /** Stops the loops after the batch in flight (its watermark is written) and releases the lease. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("outbox consumer stopped"));
    await this.#loop;
    if (this.#held) {
      await this.#lease.release().catch((error: unknown) => this.#logger.warn({ error: describe(error) }, "releasing the outbox lease failed"));
      this.#setHeld(false);
    }
  }

  /** Renews the lease on its own timer, so a long batch never outlives it; takes it when free. */
  async #keepLease(): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      let held: boolean;
      try {
        held = this.#held ? await this.#lease.renew() : await this.#lease.tryAcquire();
      } catch (error) {
        // Unreachable Redis: act as if not holding, since the lease may expire and another replica take over.
        this.#logger.warn({ error: describe(error) }, "outbox lease check failed");
        held = false;
      }
      if (signal.aborted) break;
      if (held && !this.#held) this.#recovering = true;
      if (held !== this.#held) {
        this.#logger.info({ held }, held ? "outbox lease acquired; consuming" : "outbox lease lost; standing by");
        this.#setHeld(held);
      }
      await pause(this.#sleep, this.#leaseRenewIntervalMs, signal);
    }
  }

  async #consume(): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      let caughtUp = true;
      if (this.#held) {
        try {
          if (this.#recovering) {
            // A new holder cannot know what it missed: rebuild everything, and drop rows a crashed holder left behind.
            this.#fullRebuildAt = Number.NEGATIVE_INFINITY;
            const watermark = await this.#scheduler.getOutboxWatermark();
            if (watermark > 0) await this.#outbox.deleteUpTo(watermark);
            this.#recovering = false;
          }
          if (this.#now() - this.#fullRebuildAt >= this.#fullRebuildIntervalMs) await this.rebuildAll();
          const result = await this.processBatch();
          caughtUp = result.rows < this.#batchSize;
        } catch (error) {
          this.#metrics.loopErrors.inc({ loop: "outbox" });
          this.#logger.error({ error: describe(error) }, "outbox consumer iteration failed; retrying");
        }
      }
      if (caughtUp) await pause(this.#sleep, this.#held ? this.#pollIntervalMs : Math.min(this.#pollIntervalMs, this.#leaseRenewIntervalMs), signal);
    }
  }

  #setHeld(held: boolean): void {
    this.#held = held;
    this.#metrics.leaseHeld.set(held ? 1 : 0);
    this.#onLeaseChange(held);
  }

  /**
   * Processes one batch of rows past the watermark. Public so tests and the embedded mode can drive it;
   * callers must hold the lease (the loop does).
   */
  async processBatch(): Promise<OutboxBatchResult> {
    const watermark = await this.#scheduler.getOutboxWatermark();
    const rows = await this.#outbox.readAfter(watermark, this.#batchSize);
    const last = rows.at(-1);
    if (last === undefined) {
      this.#metrics.outboxLagSeconds.set(0);
      this.#metrics.outboxRowsBehind.set(0);
      return { rows: 0, watermark, rebuiltBuckets: [], pushedAccounts: [], deletedAccounts: [] };
    }
    this.#metrics.outboxLagSeconds.set(Math.max(0, (this.#now() - rows[0]!.createdAt) / 1000));

    const plan = await this.#plan(rows);
    const rebuiltBuckets: string[] = [];
    for (const bucket of plan.buckets.values()) {
      await this.#rebuild(bucket, "outbox");
      rebuiltBuckets.push(formatBucket(bucket));
    }
    for (const id of plan.deleted) {
      await this.#scheduler.deleteAccount(id);
      this.#metrics.accountPushes.inc();
    }
    for (const id of plan.pushed) {
      await pushAccountSnapshot(this.#accounts, this.#scheduler, id);
      this.#metrics.accountPushes.inc();
    }

    // Order matters: the watermark first, so a row is never deleted before a holder has moved past it.
    await this.#scheduler.setOutboxWatermark(last.id);
    await this.#outbox.deleteUpTo(last.id);

    this.#metrics.outboxRowsProcessed.inc(rows.length);
    this.#metrics.outboxBatches.inc();
    this.#metrics.outboxRowsBehind.set(rows.length < this.#batchSize ? 0 : Math.max(0, (await this.#outbox.maxId()) - last.id));
    const result: OutboxBatchResult = {
      rows: rows.length,
      watermark: last.id,
      rebuiltBuckets,
      pushedAccounts: [...plan.pushed],
      deletedAccounts: [...plan.deleted],
    };
    this.#onBatch(result);
    return result;
  }

  /** Rebuilds every bucket the database knows, and empties cached buckets whose group is gone. */
  async rebuildAll(): Promise<number> {
    const known = await this.#accounts.listBuckets();
    const cached = await this.#scheduler.listBuckets();
    const buckets = new Map(known.map((bucket) => [formatBucket(bucket), bucket]));
    for (const bucket of cached) if (!buckets.has(formatBucket(bucket))) buckets.set(formatBucket(bucket), bucket);
    const knownKeys = new Set(known.map(formatBucket));
    for (const [key, bucket] of buckets) {
      await this.#rebuild(bucket, "full", knownKeys.has(key) ? undefined : []);
    }
    this.#fullRebuildAt = this.#now();
    this.#logger.info({ buckets: buckets.size }, "full scheduler rebuild done");
    return buckets.size;
  }

  /** What a batch touches: buckets to rebuild once, accounts to push, accounts to remove. */
  async #plan(rows: OutboxRow[]): Promise<{ buckets: Map<string, SchedulerBucket>; pushed: Set<string>; deleted: Set<string> }> {
    const buckets = new Map<string, SchedulerBucket>();
    const pushed = new Set<string>();
    const deleted = new Set<string>();
    let byGroup: Map<number, SchedulerBucket> | undefined;
    const bucketOfGroup = async (groupId: number) => {
      byGroup ??= new Map((await this.#accounts.listBuckets()).map((bucket) => [bucket.groupId, bucket]));
      // A group that no longer exists has no bucket to rebuild; the full rebuild empties its cached one.
      const bucket = byGroup.get(groupId);
      if (bucket) buckets.set(formatBucket(bucket), bucket);
    };
    for (const row of rows) {
      const groupIds = groupIdsOf(row);
      switch (row.event) {
        case "account.created":
        case "account.updated":
        case "account.deleted": {
          if (row.event === "account.deleted" && row.accountId !== null) {
            deleted.add(row.accountId);
            pushed.delete(row.accountId);
          }
          if (groupIds !== undefined) {
            for (const groupId of groupIds) await bucketOfGroup(groupId);
          } else if (row.accountId !== null && row.event !== "account.deleted") {
            for (const bucket of await this.#accounts.bucketsOfAccount(row.accountId)) buckets.set(formatBucket(bucket), bucket);
          }
          break;
        }
        case "account.state":
          if (row.accountId !== null && !deleted.has(row.accountId)) pushed.add(row.accountId);
          break;
        case "group.created":
          if (row.groupId !== null) await bucketOfGroup(row.groupId);
          break;
        case "group.deleted": {
          // Its bucket is rebuilt from nothing (the group is gone), emptying every replica's copy; its members'
          // account.updated rows rebuild their other buckets.
          const platform = row.payload?.platform;
          const mode = row.payload?.mode;
          if (row.groupId !== null && typeof platform === "string" && (mode === "single" || mode === "mixed")) {
            const bucket = { groupId: row.groupId, platform, mode } as const;
            buckets.set(formatBucket(bucket), bucket);
          }
          break;
        }
        default:
          this.#logger.warn({ event: row.event, id: row.id }, "unknown outbox event; skipped");
      }
    }
    return { buckets, pushed, deleted };
  }

  /**
   * Rebuilds one bucket under its lock: allocate the version, then read the database, then commit, so the
   * snapshot activates only over snapshots read before ours (a gateway's miss-rebuild that read before this
   * batch's change and writes late is refused). A lock held elsewhere is waited for to spare the database a
   * duplicate read; past `bucketLockWaitMs` the rebuild goes ahead anyway, which the version order makes safe.
   */
  async #rebuild(bucket: SchedulerBucket, reason: "outbox" | "full", accounts?: AccountSnapshot[]): Promise<void> {
    // Counted in attempts, not by the clock, so an injected clock that stands still cannot spin forever.
    let attemptsLeft = Math.ceil(this.#bucketLockWaitMs / 50);
    let token = await this.#scheduler.tryLockBucket(bucket, this.#bucketLockTtlMs);
    while (token === null && attemptsLeft-- > 0) {
      await this.#sleep(50);
      token = await this.#scheduler.tryLockBucket(bucket, this.#bucketLockTtlMs);
    }
    if (token === null) this.#logger.warn({ bucket: formatBucket(bucket) }, "bucket lock still held elsewhere; rebuilding anyway");
    try {
      const ticket = await this.#scheduler.beginSnapshot(bucket);
      await this.#scheduler.commitSnapshot(ticket, accounts ?? (await this.#accounts.listBucketAccounts(bucket)));
      this.#metrics.bucketRebuilds.inc({ reason });
    } finally {
      if (token !== null) await this.#scheduler.unlockBucket(bucket, token).catch(() => false);
    }
  }
}

function groupIdsOf(row: OutboxRow): number[] | undefined {
  const groupIds = row.payload?.groupIds;
  if (!Array.isArray(groupIds)) return undefined;
  return groupIds.filter((groupId): groupId is number => Number.isSafeInteger(groupId));
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
