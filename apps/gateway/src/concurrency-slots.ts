import type { Redis, Cluster } from "ioredis";
import acquireSlotScript from "./lua/acquire-slot-n.lua";
import releaseSlotScript from "./lua/release-slot-1.lua";
import { withTimeout, type WarnLimiter } from "./redis-support";

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
  /** Null when every candidate is at its concurrency limit. */
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
  private readonly counts = new Map<string, number>();

  acquire(candidates: readonly SlotCandidate[]): Promise<SlotLease | null> {
    const index = pick(candidates, (id) => this.counts.get(id) ?? 0);
    const chosen = candidates[index];
    if (!chosen) return Promise.resolve(null);
    this.counts.set(chosen.id, (this.counts.get(chosen.id) ?? 0) + 1);
    let released = false;
    return Promise.resolve({
      accountId: chosen.id,
      release: () => {
        if (!released) {
          released = true;
          const left = (this.counts.get(chosen.id) ?? 1) - 1;
          if (left <= 0) this.counts.delete(chosen.id);
          else this.counts.set(chosen.id, left);
        }
        return Promise.resolve();
      },
    });
  }

  /** Slots held now on an account (for tests and metrics). */
  inFlight(accountId: string): number {
    return this.counts.get(accountId) ?? 0;
  }
}

type SlotRedis = (Redis | Cluster) & {
  subrelayAcquireSlotV1(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  subrelayReleaseSlotV1(key: string, leaseId: string): Promise<number>;
};

export interface RedisConcurrencySlotsOptions {
  prefix?: string;
  /** A lease ends by itself after this long (a crashed replica cannot hold slots longer), ms. Default 15 min. */
  leaseTtlMs?: number;
  /** Longest wait for Redis before failing open, ms. Default 250. */
  commandTimeoutMs?: number;
  now?: () => number;
  warn: WarnLimiter;
}

/**
 * Slots in Redis, one sorted set of expiring leases per account. Every slot key shares one hash tag so
 * the acquire script can weigh several accounts at once on Redis Cluster. When Redis fails or is slow
 * the gateway fails open: it takes the first candidate without a lease rather than refusing traffic.
 */
export class RedisConcurrencySlots implements ConcurrencySlots {
  private readonly redis: SlotRedis;
  private readonly prefix: string;
  private readonly leaseTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly now: () => number;
  private readonly warn: WarnLimiter;

  constructor(redis: Redis | Cluster, options: RedisConcurrencySlotsOptions) {
    redis.defineCommand("subrelayAcquireSlotV1", { lua: acquireSlotScript });
    redis.defineCommand("subrelayReleaseSlotV1", { lua: releaseSlotScript, numberOfKeys: 1 });
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
    const args: (string | number)[] = candidates.map((candidate) => this.key(candidate.id));
    args.push(this.now(), this.leaseTtlMs, leaseId);
    for (const candidate of candidates) args.push(candidate.concurrency, candidate.priority);
    let chosen: number;
    try {
      chosen = await withTimeout(this.redis.subrelayAcquireSlotV1(candidates.length, ...args), this.commandTimeoutMs);
    } catch (error) {
      this.warn("concurrency slots unavailable; failing open", error);
      const first = candidates[0]!;
      return { accountId: first.id, release: () => Promise.resolve() };
    }
    const candidate = candidates[chosen - 1];
    if (!candidate) return null;
    const key = this.key(candidate.id);
    let released = false;
    return {
      accountId: candidate.id,
      release: async () => {
        if (released) return;
        released = true;
        try {
          await withTimeout(this.redis.subrelayReleaseSlotV1(key, leaseId), this.commandTimeoutMs);
        } catch (error) {
          // The lease expires by itself; a lost release only holds the slot until then.
          this.warn("concurrency slot release failed; the lease will expire", error);
        }
      },
    };
  }
}
