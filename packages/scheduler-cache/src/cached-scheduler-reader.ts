import type { RevalidatingSchedulerCache, SchedulerBucket, SchedulerSnapshot, SnapshotStamp } from "./types";
import { bucketKeyOf } from "./validation";

export interface CachedSchedulerReaderOptions {
  /** Clock in epoch ms. Default `Date.now`. */
  now?: () => number;
  /**
   * How long a snapshot validated against the cache may be served without asking it again, in ms.
   * 0 (the default) revalidates on every read: one cheap call (the stamp), never a stale answer beyond that
   * call's latency. A positive value trades that many ms of staleness for reads with no call at all.
   */
  maxStalenessMs?: number;
}

interface CachedEntry {
  snapshot: SchedulerSnapshot;
  /** The stamp observed before the snapshot was fetched: never newer than the data, so never hides a change. */
  stamp: SnapshotStamp;
  validatedAt: number;
}

const missingStampChanges = -1;

/**
 * A process-local read-through layer over a RevalidatingSchedulerCache. Keeps the last snapshot of each bucket
 * and, on each read, asks only for the bucket's stamp (active version + change counter); the full snapshot
 * is fetched again only when the stamp moved. Concurrent reads of one bucket share one call.
 *
 * Returned snapshots are shared between callers and frozen (the array and each record): copy before changing.
 * `lastUsedAt` is as of the last full fetch: `updateLastUsed` does not move the stamp (it happens on every
 * request and would defeat the layer), so treat it as approximate and keep a local overlay where it matters.
 * Misses are never cached: a `hit: false` answer reaches the caller, who rebuilds.
 */
export class CachedSchedulerReader {
  readonly #cache: RevalidatingSchedulerCache;
  readonly #now: () => number;
  readonly #maxStalenessMs: number;
  readonly #entries = new Map<string, CachedEntry>();
  readonly #inFlight = new Map<string, Promise<SchedulerSnapshot>>();

  constructor(cache: RevalidatingSchedulerCache, options: CachedSchedulerReaderOptions = {}) {
    this.#cache = cache;
    this.#now = options.now ?? Date.now;
    this.#maxStalenessMs = options.maxStalenessMs ?? 0;
    if (!(this.#maxStalenessMs >= 0)) throw new RangeError("maxStalenessMs must be a non-negative number");
  }

  /** Same answer as the cache's `getSnapshot`, usually after one stamp call instead of a full read. */
  getSnapshot(bucket: SchedulerBucket): Promise<SchedulerSnapshot> {
    const key = bucketKeyOf(bucket);
    const entry = this.#entries.get(key);
    if (entry && this.#maxStalenessMs > 0 && this.#now() - entry.validatedAt < this.#maxStalenessMs) {
      return Promise.resolve(entry.snapshot);
    }
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#read(key, bucket).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  /** Drops the kept snapshot of one bucket, or of every bucket. The next read fetches in full. */
  invalidate(bucket?: SchedulerBucket): void {
    if (bucket) this.#entries.delete(bucketKeyOf(bucket));
    else this.#entries.clear();
  }

  async #read(key: string, bucket: SchedulerBucket): Promise<SchedulerSnapshot> {
    const startedAt = this.#now();
    const stamp = await this.#cache.getSnapshotStamp(bucket);
    if (stamp === null) {
      this.#entries.delete(key);
      return { hit: false, version: 0, accounts: [] };
    }
    const entry = this.#entries.get(key);
    if (entry && entry.stamp.version === stamp.version && entry.stamp.changes === stamp.changes) {
      entry.validatedAt = startedAt;
      return entry.snapshot;
    }
    const snapshot = await this.#cache.getSnapshot(bucket);
    if (!snapshot.hit) {
      this.#entries.delete(key);
      return snapshot;
    }
    Object.freeze(snapshot.accounts);
    for (const account of snapshot.accounts) Object.freeze(account);
    // If a newer version activated between the two calls, the stamp does not describe this data: keep it
    // under a stamp that can never match, so the next read fetches again.
    const keptStamp =
      snapshot.version === stamp.version ? stamp : { version: snapshot.version, changes: missingStampChanges };
    this.#entries.set(key, { snapshot, stamp: keptStamp, validatedAt: startedAt });
    return snapshot;
  }
}
