import type { Redis, Cluster } from "ioredis";
import acquireSlotScript from "./lua/acquire-slot.lua";
import releaseSlotsScript from "./lua/release-slots.lua";
import { withTimeout, type WarnLimiter } from "@subrelay/runtime";

/** A candidate for a slot, in preference order. */
export interface SlotCandidate {
  id: string;
  priority: number;
  concurrency: number;
}

/** A slot held on an account; release it when the upstream request is over (release never throws). */
export interface SlotLease {
  accountId: string;
  release(): Promise<void>;
}

/**
 * Per-account in-flight counters shared by every replica. `acquire` picks, within the best priority
 * tier that has room, the least loaded candidate and takes a lease on it — one atomic step.
 */
export interface ConcurrencySlots {
  /**
   * Null when every candidate is at its concurrency limit. `leaseId` names this acquisition: unique per
   * call; a call repeated with the same id (a re-send) answers the account it took and takes no second slot.
   */
  acquire(candidates: readonly SlotCandidate[], leaseId: string): Promise<SlotLease | null>;
}

/** Picks the slot the same way the Lua script does; `inFlight` gives the current count per account. */
function pick(candidates: readonly SlotCandidate[], inFlight: (id: string) => number): number {
  let best = -1;
  let bestLoad = 0;
  let bestPriority: number | undefined;
  for (const [index, candidate] of candidates.entries()) {
    if (bestPriority !== undefined && candidate.priority > bestPriority) break;
    const count = inFlight(candidate.id);
    if (count >= candidate.concurrency) continue;
    const load = count / candidate.concurrency;
    if (best === -1 || load < bestLoad) {
      best = index;
      bestLoad = load;
      bestPriority = candidate.priority;
    }
  }
  return best;
}

/** In-process slots for the single-process embedded default. */
export class MemoryConcurrencySlots implements ConcurrencySlots {
  /** The lease ids held per account. */
  private readonly leases = new Map<string, Set<string>>();

  acquire(candidates: readonly SlotCandidate[], leaseId: string): Promise<SlotLease | null> {
    const held = candidates.find((candidate) => this.leases.get(candidate.id)?.has(leaseId));
    const chosen = held ?? candidates[pick(candidates, (id) => this.inFlight(id))];
    if (!chosen) return Promise.resolve(null);
    const leases = this.leases.get(chosen.id) ?? new Set<string>();
    leases.add(leaseId);
    this.leases.set(chosen.id, leases);
    return Promise.resolve({
      accountId: chosen.id,
      release: () => {
        leases.delete(leaseId);
        if (leases.size === 0 && this.leases.get(chosen.id) === leases) this.leases.delete(chosen.id);
        return Promise.resolve();
      },
    });
  }

  /** Slots held now on an account (for tests and metrics). */
  inFlight(accountId: string): number {
    return this.leases.get(accountId)?.size ?? 0;
  }
}

type SlotRedis = (Redis | Cluster) & {
  subrelayAcquireSlotV3(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  subrelayReleaseSlotsV2(numberOfKeys: number, ...args: string[]): Promise<number>;
};

export interface RedisConcurrencySlotsOptions {
  prefix?: string;
  /** A lease ends by itself after this long (a crashed replica cannot hold slots longer), ms. Default 15 min. */
  leaseTtlMs?: number;
  /** Longest wait for Redis before failing open, ms. Default 250. */
  commandTimeoutMs?: number;
  /**
   * Epoch ms, for this process's own bookkeeping only (when a release that could not be sent is moot).
   * Leases start and end on Redis's clock, so gateways with skewed clocks agree on them.
   */
  now?: () => number;
  warn: WarnLimiter;
}

/** A release not yet sent, and whoever waits for it. */
interface PendingRelease {
  key: string;
  leaseId: string;
  /** When the lease was released (epoch ms); past the lease TTL the release is moot and dropped. */
  releasedAt: number;
  done: () => void;
}

/** Releases kept for a later call after failing, at most (the oldest go first). */
const RETRY_LIMIT = 10_000;

/**
 * Slots in Redis, one sorted set of expiring leases per account. Every slot key shares one hash tag so
 * the acquire script can weigh several accounts at once on Redis Cluster. When Redis fails or is slow
 * the gateway fails open: it takes the first candidate without a lease rather than refusing traffic.
 * The script may still run later (a paused or slow Redis works through what it was sent, and ioredis
 * re-sends unanswered commands after a reconnect), so a failed acquisition queues a release of its lease
 * id on every candidate: sent on the same connection after the acquisition, it undoes it wherever it
 * landed. The script takes nothing when the lease id is already held, so a re-send takes no second slot.
 *
 * Releases are not sent one by one: a release waits for the next acquisition, which carries it in the
 * same script call, or at the latest for the end of the current event-loop turn, when every release
 * still waiting goes in one call. Under load that is one Redis command per request instead of two.
 */
export class RedisConcurrencySlots implements ConcurrencySlots {
  private readonly redis: SlotRedis;
  private readonly prefix: string;
  private readonly leaseTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly now: () => number;
  private readonly warn: WarnLimiter;
  private pending: PendingRelease[] = [];
  /** Releases whose call failed: they ride on later calls until they get through or their lease has expired. */
  private retries: PendingRelease[] = [];
  private flushScheduled = false;

  constructor(redis: Redis | Cluster, options: RedisConcurrencySlotsOptions) {
    redis.defineCommand("subrelayAcquireSlotV3", { lua: acquireSlotScript });
    redis.defineCommand("subrelayReleaseSlotsV2", { lua: releaseSlotsScript });
    this.redis = redis as SlotRedis;
    this.prefix = options.prefix ?? "subrelay:";
    this.leaseTtlMs = options.leaseTtlMs ?? 15 * 60_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 250;
    this.now = options.now ?? Date.now;
    this.warn = options.warn;
  }

  /** The lease set of an account; every one shares the `{…slots}` hash tag. */
  key(accountId: string): string {
    return `{${this.prefix}slots}:${accountId}`;
  }

  async acquire(candidates: readonly SlotCandidate[], leaseId: string): Promise<SlotLease | null> {
    if (candidates.length === 0) return null;
    const releases = this.takePending();
    const keys: string[] = candidates.map((candidate) => this.key(candidate.id));
    const args: (string | number)[] = [this.leaseTtlMs, leaseId, candidates.length];
    for (const candidate of candidates) args.push(candidate.concurrency, candidate.priority);
    for (const release of releases) {
      keys.push(release.key);
      args.push(release.leaseId);
    }
    let chosen: number;
    try {
      chosen = await withTimeout(this.redis.subrelayAcquireSlotV3(keys.length, ...keys, ...args), this.commandTimeoutMs);
      for (const release of releases) release.done();
    } catch (error) {
      // The releases may or may not have been applied; removing a lease twice is harmless, so they
      // ride on a later call.
      this.failed(releases, error);
      this.warn("concurrency slots unavailable; failing open", error);
      // The script may yet run, on whichever candidate it picks: undo it on all of them. The release
      // goes after the acquisition on the connection, so it finds the lease once Redis gets to it.
      const releasedAt = this.now();
      const undone = Promise.all(
        candidates.map(
          (candidate) => new Promise<void>((done) => this.queue({ key: this.key(candidate.id), leaseId, releasedAt, done })),
        ),
      ).then(() => undefined);
      const first = candidates[0]!;
      return { accountId: first.id, release: () => undone };
    }
    const candidate = candidates[chosen - 1];
    if (!candidate) return null;
    const key = this.key(candidate.id);
    let released: Promise<void> | undefined;
    return {
      accountId: candidate.id,
      release: () => (released ??= new Promise<void>((done) => this.queue({ key, leaseId, releasedAt: this.now(), done }))),
    };
  }

  /** Releases still waiting to be sent, retries included (for tests and metrics). */
  get pendingReleases(): number {
    return this.pending.length + this.retries.length;
  }

  private queue(release: PendingRelease): void {
    this.pending.push(release);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush(this.takePending());
    });
  }

  /** Everything waiting: new releases, and earlier ones that failed and have not yet expired. */
  private takePending(): PendingRelease[] {
    const now = this.now();
    const taken = [...this.retries.filter((release) => now - release.releasedAt < this.leaseTtlMs), ...this.pending];
    this.retries = [];
    this.pending = [];
    return taken;
  }

  /** Sends releases in one call. */
  private async flush(releases: PendingRelease[]): Promise<void> {
    if (releases.length === 0) return;
    try {
      await withTimeout(
        this.redis.subrelayReleaseSlotsV2(
          releases.length,
          ...releases.map((release) => release.key),
          ...releases.map((release) => release.leaseId),
        ),
        this.commandTimeoutMs,
      );
    } catch (error) {
      this.failed(releases, error);
      return;
    }
    for (const release of releases) release.done();
  }

  /**
   * Releases whose call failed are not lost: they ride on the next acquisition (the first thing that
   * reaches Redis once it is back), or on the next release sent alone, until their lease would have
   * expired anyway. Without that, a Redis blip would leave every slot held at that moment taken for a
   * whole lease TTL. Their callers are let go now: release never waits on Redis coming back.
   */
  private failed(releases: PendingRelease[], error: unknown): void {
    for (const release of releases) release.done();
    this.retries.push(...releases);
    if (this.retries.length > RETRY_LIMIT) this.retries.splice(0, this.retries.length - RETRY_LIMIT);
    this.warn("concurrency slot release failed; it will be retried with the next call", error);
  }
}
