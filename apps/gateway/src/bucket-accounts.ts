import { Group } from "@subrelay/singleflight";
import type { AccountSnapshot, SchedulerBucket, SchedulerCache } from "@subrelay/scheduler-cache";
import { formatBucket } from "@subrelay/scheduler-cache";
import type { Logger } from "@subrelay/token-cache";
import { describeError } from "@subrelay/runtime";

export interface BucketAccountsOptions {
  /** The read-through snapshot reader (process-local copy revalidated against the shared cache). */
  read(bucket: SchedulerBucket): Promise<{ hit: boolean; accounts: AccountSnapshot[] }>;
  /** The shared cache, for rebuilding a missing snapshot under its lock. */
  cache: Pick<SchedulerCache, "beginSnapshot" | "commitSnapshot" | "tryLockBucket" | "unlockBucket">;
  /** Loads a bucket's accounts from the database. */
  load(bucket: SchedulerBucket): Promise<AccountSnapshot[]>;
  /** How long a bucket loaded straight from the database (cache down) is reused, ms. Default 1 s. */
  fallbackTtlMs?: number;
  onCacheHit?(hit: boolean): void;
  logger: Logger;
  now?: () => number;
}

/**
 * A bucket's candidate accounts. A snapshot hit costs what the reader costs; a miss rebuilds the
 * snapshot once (per process by singleflight, across processes by the bucket lock — a process that
 * does not get the lock reads the database for itself and does not wait). When the shared cache is
 * down, buckets come from the database, reused for a second so an outage does not turn every request
 * into a query.
 */
export class BucketAccounts {
  private readonly rebuilds = new Group<AccountSnapshot[]>();
  private readonly fallback = new Map<string, { accounts: AccountSnapshot[]; at: number }>();
  private readonly now: () => number;

  constructor(private readonly options: BucketAccountsOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(bucket: SchedulerBucket): Promise<AccountSnapshot[]> {
    const key = formatBucket(bucket);
    let snapshot: { hit: boolean; accounts: AccountSnapshot[] };
    try {
      snapshot = await this.options.read(bucket);
    } catch (error) {
      this.options.logger.warn({ bucket: key, error: describeError(error) }, "scheduler cache unavailable; reading the database");
      return this.fromDatabase(key, bucket);
    }
    this.options.onCacheHit?.(snapshot.hit);
    if (snapshot.hit) return snapshot.accounts;
    const { value } = await this.rebuilds.do(key, () => this.rebuild(bucket));
    return value;
  }

  /**
   * The snapshot's version is allocated before the database read, so a read that a change (and the outbox
   * consumer's rebuild after it) overtakes can never activate over the newer one, however long this takes:
   * the lock only spares the database duplicate reads, it does not need to outlive the rebuild.
   */
  private async rebuild(bucket: SchedulerBucket): Promise<AccountSnapshot[]> {
    const lock = await this.options.cache.tryLockBucket(bucket, 30_000).catch(() => null);
    try {
      const ticket = lock ? await this.options.cache.beginSnapshot(bucket) : null;
      const accounts = await this.options.load(bucket);
      if (ticket) await this.options.cache.commitSnapshot(ticket, accounts);
      return accounts;
    } finally {
      if (lock) await this.options.cache.unlockBucket(bucket, lock).catch(() => false);
    }
  }

  private async fromDatabase(key: string, bucket: SchedulerBucket): Promise<AccountSnapshot[]> {
    const cached = this.fallback.get(key);
    if (cached && this.now() - cached.at < (this.options.fallbackTtlMs ?? 1_000)) return cached.accounts;
    const { value } = await this.rebuilds.do(`db:${key}`, () => this.options.load(bucket));
    this.fallback.set(key, { accounts: value, at: this.now() });
    return value;
  }
}
