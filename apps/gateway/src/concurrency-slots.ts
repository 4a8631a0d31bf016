import { Cluster, type Redis } from "ioredis";
import acquireSlotScript from "./lua/acquire-slot.lua";
import releaseSlotsScript from "./lua/release-slots.lua";
import queueLeaveScript from "./lua/slot-queue-leave.lua";
import { withTimeout, type WarnLimiter } from "@subrelay/runtime";
import { COUNTED_LIMITS, keyLeaseHolder, MemoryKeyCounters, type KeyAdmission, type KeyCharge, type KeyVerdict } from "./key-counters";

/** A candidate for a slot, in preference order. */
export interface SlotCandidate {
  id: string;
  priority: number;
  concurrency: number;
}

/**
 * A slot held on an account; release it when the upstream request is over (release never throws). A lease
 * taken with a key's admission charges the key with what the request used, given to `release`.
 */
export interface SlotLease {
  accountId: string;
  release(charge?: KeyCharge): Promise<void>;
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
  /**
   * The same, for a request of a key with counted limits, in the same atomic step: a verdict instead of a slot
   * when a limit of the key is reached (or its counters are gone: `"cold"`); a slot taken counts the request.
   */
  acquire(candidates: readonly SlotCandidate[], leaseId: string, admission: KeyAdmission | undefined): Promise<SlotLease | null | KeyVerdict>;
  /**
   * Ends a lease by its holder and id, for a lease the caller holds without a SlotLease: a key's request in flight
   * (`keyLeaseHolder`, the request id), taken by an admission along with an account's slot. Never throws.
   */
  releaseLease(holder: string, leaseId: string): Promise<void>;
}

/** A place in a wait queue: first come, first served among the requests that go by the same queue. */
export interface SlotTurn {
  /** The queue's name (`group:<id>`, `account:<id>`). */
  queue: string;
  /** This request's place in it; the lease id of the acquisition serves. */
  ticket: string;
  /** Join the queue when no slot is taken now. */
  join: boolean;
  /** The most waiters the queue holds. */
  limit: number;
}

/** A slot taken, or why not: `queued` (in turn, or not joining), `full` (the queue is at its limit). */
export type TurnOutcome = SlotLease | "queued" | "full";

/**
 * Slots with wait queues: an acquisition in turn takes a slot only when no more waiters are ahead of it than
 * its candidates have free slots, and releases tell the waiters (every replica's) which account has room.
 */
export interface QueueingSlots extends ConcurrencySlots {
  acquireInTurn(candidates: readonly SlotCandidate[], leaseId: string, turn: SlotTurn): Promise<TurnOutcome>;
  /** With a key's admission, as `acquire`. */
  acquireInTurn(
    candidates: readonly SlotCandidate[],
    leaseId: string,
    turn: SlotTurn,
    admission: KeyAdmission | undefined,
  ): Promise<TurnOutcome | KeyVerdict>;
  /** Takes tickets out of their queues (a waiter whose client left, or whose wait ended). Never throws. */
  leave(places: readonly { queue: string; ticket: string }[]): Promise<void>;
  /**
   * Tells the other replicas these waiters are alive (a waiter unheard of for a while is dropped), and that
   * they still want `accounts` (so releases there are published). Never throws.
   */
  heartbeat(places: readonly { queue: string; ticket: string; accounts?: Iterable<string> }[]): Promise<void>;
  /** Calls `listener` with an account's id when one of its slots was released and a waiter wants it. */
  onRelease(listener: (accountId: string) => void): () => void;
  /** Resolves once release notices reach this process (Redis: the subscription is up). */
  listening(): Promise<void>;
  /** Slots held now per account, for the admin API. */
  countInFlight(accountIds: readonly string[]): Promise<Map<string, number>>;
  /** Waiters now per queue, for the admin API. */
  countWaiting(queues: readonly string[]): Promise<Map<string, number>>;
}

/** How long a waiter unheard of is kept in a shared queue, ms (heartbeats come every poll). */
export const WAITER_STALE_MS = 10_000;

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

/** Free slots among candidates, counted once per account. */
function freeSlots(candidates: readonly SlotCandidate[], inFlight: (id: string) => number): number {
  let free = 0;
  for (const candidate of candidates) free += Math.max(0, candidate.concurrency - inFlight(candidate.id));
  return free;
}

/** In-process slots for the single-process embedded default. */
export class MemoryConcurrencySlots implements QueueingSlots {
  /** The lease ids held per account. */
  private readonly leases = new Map<string, Set<string>>();
  /** The tickets of each queue, in arrival order. */
  private readonly queues = new Map<string, string[]>();
  private readonly listeners = new Set<(accountId: string) => void>();
  private readonly keys = new MemoryKeyCounters();

  acquire(candidates: readonly SlotCandidate[], leaseId: string): Promise<SlotLease | null>;
  acquire(candidates: readonly SlotCandidate[], leaseId: string, admission: KeyAdmission | undefined): Promise<SlotLease | null | KeyVerdict>;
  acquire(candidates: readonly SlotCandidate[], leaseId: string, admission?: KeyAdmission): Promise<SlotLease | null | KeyVerdict> {
    const held = candidates.find((candidate) => this.leases.get(candidate.id)?.has(leaseId));
    if (held) return Promise.resolve(this.take(held, leaseId, admission));
    const verdict = admission ? (this.keys.admit(admission) ?? this.keyBusy(admission)) : null;
    if (verdict) return Promise.resolve(verdict);
    const chosen = candidates[pick(candidates, (id) => this.inFlight(id))];
    return Promise.resolve(chosen ? this.take(chosen, leaseId, admission) : null);
  }

  acquireInTurn(candidates: readonly SlotCandidate[], leaseId: string, turn: SlotTurn): Promise<TurnOutcome>;
  acquireInTurn(
    candidates: readonly SlotCandidate[],
    leaseId: string,
    turn: SlotTurn,
    admission: KeyAdmission | undefined,
  ): Promise<TurnOutcome | KeyVerdict>;
  acquireInTurn(candidates: readonly SlotCandidate[], leaseId: string, turn: SlotTurn, admission?: KeyAdmission): Promise<TurnOutcome | KeyVerdict> {
    const held = candidates.find((candidate) => this.leases.get(candidate.id)?.has(leaseId));
    if (held) return Promise.resolve(this.take(held, leaseId, admission));
    const verdict = admission ? (this.keys.admit(admission) ?? this.keyBusy(admission)) : null;
    if (verdict) {
      this.dropTicket(turn.queue, turn.ticket);
      return Promise.resolve(verdict);
    }
    const queue = this.queues.get(turn.queue) ?? [];
    const place = queue.indexOf(turn.ticket);
    const ahead = place === -1 ? queue.length : place;
    const inFlight = (id: string) => this.inFlight(id);
    const chosen = ahead < freeSlots(candidates, inFlight) ? candidates[pick(candidates, inFlight)] : undefined;
    if (chosen) {
      if (place !== -1) this.dropTicket(turn.queue, turn.ticket);
      return Promise.resolve(this.take(chosen, leaseId, admission));
    }
    if (!turn.join || place !== -1) return Promise.resolve("queued");
    if (queue.length >= turn.limit) return Promise.resolve("full");
    queue.push(turn.ticket);
    this.queues.set(turn.queue, queue);
    return Promise.resolve("queued");
  }

  leave(places: readonly { queue: string; ticket: string }[]): Promise<void> {
    for (const { queue, ticket } of places) this.dropTicket(queue, ticket);
    return Promise.resolve();
  }

  releaseLease(holder: string, leaseId: string): Promise<void> {
    const leases = this.leases.get(holder);
    if (leases?.delete(leaseId)) {
      if (leases.size === 0) this.leases.delete(holder);
      if (this.queues.size > 0) for (const listener of this.listeners) listener(holder);
    }
    return Promise.resolve();
  }

  /** "busy" when the admission's key has as many requests in flight as its concurrency (its own not among them). */
  private keyBusy(admission: KeyAdmission): "busy" | null {
    const concurrency = admission.limits.concurrency;
    if (concurrency === undefined) return null;
    const holder = keyLeaseHolder(admission.apiKeyId);
    if (this.leases.get(holder)?.has(admission.requestId)) return null;
    return this.inFlight(holder) >= concurrency ? "busy" : null;
  }

  heartbeat(): Promise<void> {
    // One process: a waiter is gone when its process is.
    return Promise.resolve();
  }

  onRelease(listener: (accountId: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  listening(): Promise<void> {
    return Promise.resolve();
  }

  countInFlight(accountIds: readonly string[]): Promise<Map<string, number>> {
    return Promise.resolve(new Map(accountIds.map((id) => [id, this.inFlight(id)])));
  }

  countWaiting(queues: readonly string[]): Promise<Map<string, number>> {
    return Promise.resolve(new Map(queues.map((queue) => [queue, this.queues.get(queue)?.length ?? 0])));
  }

  private take(chosen: SlotCandidate, leaseId: string, admission: KeyAdmission | undefined): SlotLease {
    const leases = this.leases.get(chosen.id) ?? new Set<string>();
    leases.add(leaseId);
    this.leases.set(chosen.id, leases);
    if (admission) {
      this.keys.count(admission);
      if (admission.limits.concurrency !== undefined) {
        const holder = keyLeaseHolder(admission.apiKeyId);
        const held = this.leases.get(holder) ?? new Set<string>();
        held.add(admission.requestId);
        this.leases.set(holder, held);
      }
    }
    return {
      accountId: chosen.id,
      release: (charge) => {
        if (leases.delete(leaseId)) {
          if (admission && charge) this.keys.charge(admission, charge);
          if (leases.size === 0 && this.leases.get(chosen.id) === leases) this.leases.delete(chosen.id);
          if (this.queues.size > 0) for (const listener of this.listeners) listener(chosen.id);
        }
        return Promise.resolve();
      },
    };
  }

  private dropTicket(name: string, ticket: string): void {
    const queue = this.queues.get(name);
    const place = queue?.indexOf(ticket) ?? -1;
    if (place === -1) return;
    queue!.splice(place, 1);
    if (queue!.length === 0) this.queues.delete(name);
  }

  /** Slots held now on an account (for tests and metrics). */
  inFlight(accountId: string): number {
    return this.leases.get(accountId)?.size ?? 0;
  }
}

type SlotRedis = (Redis | Cluster) & {
  subrelayAcquireSlotV5(numberOfKeys: number, ...args: (string | number)[]): Promise<number | [number, number, number]>;
  subrelayReleaseSlotsV4(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  subrelaySlotQueueV1(numberOfKeys: number, ...args: string[]): Promise<number>;
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
  /**
   * How long a key's spend counters live after their last admission, ms; once gone they are rebuilt from the
   * usage log. Default 35 days (the longest window, a month, and then some).
   */
  spendTtlMs?: number;
  warn: WarnLimiter;
}

/** A key's charge as the scripts take it: its tokens and spend hashes, and the 6 values of the charge. */
interface PendingCharge {
  keys: [string, string];
  args: (string | number)[];
}

/** A release not yet sent, and whoever waits for it. */
interface PendingRelease {
  key: string;
  accountId: string;
  leaseId: string;
  /** What the request used, for its key; dropped when a call carrying it fails (a charge is never sent twice). */
  charge?: PendingCharge;
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
 *
 * Wait queues live beside the slots (same hash tag): a release of a slot some waiter wants publishes the
 * account's id on one channel, which every replica hears through one subscriber connection, opened when
 * this process first has a waiter.
 */
export class RedisConcurrencySlots implements QueueingSlots {
  private readonly redis: SlotRedis;
  private readonly prefix: string;
  private readonly leaseTtlMs: number;
  private readonly commandTimeoutMs: number;
  private readonly now: () => number;
  private readonly spendTtlMs: number;
  private readonly warn: WarnLimiter;
  private pending: PendingRelease[] = [];
  /** Releases whose call failed: they ride on later calls until they get through or their lease has expired. */
  private retries: PendingRelease[] = [];
  private flushScheduled = false;
  private readonly listeners = new Set<(accountId: string) => void>();
  private subscriber: (Redis | Cluster) | undefined;
  private subscribed: Promise<void> | undefined;

  constructor(redis: Redis | Cluster, options: RedisConcurrencySlotsOptions) {
    redis.defineCommand("subrelayAcquireSlotV5", { lua: acquireSlotScript });
    redis.defineCommand("subrelayReleaseSlotsV4", { lua: releaseSlotsScript });
    redis.defineCommand("subrelaySlotQueueV1", { lua: queueLeaveScript });
    this.redis = redis as SlotRedis;
    this.prefix = options.prefix ?? "subrelay:";
    this.leaseTtlMs = options.leaseTtlMs ?? 15 * 60_000;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 250;
    this.now = options.now ?? Date.now;
    this.spendTtlMs = options.spendTtlMs ?? 35 * 86_400_000;
    this.warn = options.warn;
  }

  /** The lease set of an account; every one shares the `{…slots}` hash tag. */
  key(accountId: string): string {
    return `{${this.prefix}slots}:${accountId}`;
  }

  /** The channel releases of wanted slots are published on. */
  get channel(): string {
    return `${this.prefix}slots:released`;
  }

  private wantedKey(): string {
    return `{${this.prefix}slots}:wanted`;
  }

  private queueKeys(queue: string): [string, string] {
    return [`{${this.prefix}slots}:queue:${queue}`, `{${this.prefix}slots}:alive:${queue}`];
  }

  /** A key's counters: its admitted requests, its tokens per second and its spend; beside the slots (same hash tag). */
  keyCounterKeys(apiKeyId: string): [requests: string, tokens: string, spend: string] {
    const base = `{${this.prefix}slots}:key:${apiKeyId}`;
    return [`${base}:requests`, `${base}:tokens`, `${base}:spend`];
  }

  acquire(candidates: readonly SlotCandidate[], leaseId: string): Promise<SlotLease | null>;
  acquire(candidates: readonly SlotCandidate[], leaseId: string, admission: KeyAdmission | undefined): Promise<SlotLease | null | KeyVerdict>;
  acquire(candidates: readonly SlotCandidate[], leaseId: string, admission?: KeyAdmission): Promise<SlotLease | null | KeyVerdict> {
    return this.run(candidates, leaseId, undefined, admission).then((outcome) =>
      outcome === "queued" || outcome === "full" ? null : outcome,
    );
  }

  acquireInTurn(candidates: readonly SlotCandidate[], leaseId: string, turn: SlotTurn): Promise<TurnOutcome>;
  acquireInTurn(
    candidates: readonly SlotCandidate[],
    leaseId: string,
    turn: SlotTurn,
    admission: KeyAdmission | undefined,
  ): Promise<TurnOutcome | KeyVerdict>;
  acquireInTurn(candidates: readonly SlotCandidate[], leaseId: string, turn: SlotTurn, admission?: KeyAdmission): Promise<TurnOutcome | KeyVerdict> {
    return this.run(candidates, leaseId, turn, admission);
  }

  private async run(
    candidates: readonly SlotCandidate[],
    leaseId: string,
    turn: SlotTurn | undefined,
    admission: KeyAdmission | undefined,
  ): Promise<TurnOutcome | KeyVerdict> {
    if (candidates.length === 0) return "queued";
    const releases = this.takePending();
    const charged = releases.filter((release) => release.charge !== undefined);
    const [queueKey, aliveKey] = turn ? this.queueKeys(turn.queue) : [this.wantedKey(), this.wantedKey()];
    const keys: string[] = [this.wantedKey(), queueKey, aliveKey, ...candidates.map((candidate) => this.key(candidate.id))];
    const args: (string | number)[] = [
      this.leaseTtlMs,
      leaseId,
      candidates.length,
      turn ? 1 : 0,
      turn?.ticket ?? "",
      turn?.join ? 1 : 0,
      turn?.limit ?? 0,
      WAITER_STALE_MS,
      this.channel,
    ];
    for (const candidate of candidates) args.push(candidate.id, candidate.concurrency, candidate.priority);
    args.push(admission ? 1 : 0, charged.length);
    if (admission) {
      keys.push(...this.keyCounterKeys(admission.apiKeyId), this.key(keyLeaseHolder(admission.apiKeyId)));
      args.push(...this.admissionArgs(admission));
    }
    for (const release of charged) {
      keys.push(...release.charge!.keys);
      args.push(...release.charge!.args);
    }
    for (const release of releases) {
      keys.push(release.key);
      args.push(release.leaseId);
    }
    for (const release of releases) args.push(release.accountId);
    let answer: number | [number, number, number];
    try {
      answer = await withTimeout(this.redis.subrelayAcquireSlotV5(keys.length, ...keys, ...args), this.commandTimeoutMs);
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
          (candidate) =>
            new Promise<void>((done) =>
              this.queue({ key: this.key(candidate.id), accountId: candidate.id, leaseId, releasedAt, done }),
            ),
        ),
      ).then(() => undefined);
      if (turn) void this.leave([{ queue: turn.queue, ticket: turn.ticket }]);
      const first = candidates[0]!;
      return { accountId: first.id, release: () => undone };
    }
    if (Array.isArray(answer)) {
      const [, limit, retryAfterMs] = answer;
      return { limit: COUNTED_LIMITS[limit - 1]!, retryAfterMs: retryAfterMs < 0 ? null : retryAfterMs };
    }
    const chosen = answer;
    if (chosen === -2) return "cold";
    if (chosen === -4) return "busy";
    if (chosen === -1) return "full";
    const candidate = candidates[chosen - 1];
    if (!candidate) return "queued";
    const key = this.key(candidate.id);
    let released: Promise<void> | undefined;
    return {
      accountId: candidate.id,
      release: (charge) =>
        (released ??= new Promise<void>((done) =>
          this.queue({
            key,
            accountId: candidate.id,
            leaseId,
            releasedAt: this.now(),
            done,
            ...(admission && charge ? { charge: this.pendingCharge(admission, charge) } : {}),
          }),
        )),
    };
  }

  /** The 22 admission values of the acquire script. */
  private admissionArgs(admission: KeyAdmission): (string | number)[] {
    const { limits, windows, seed } = admission;
    const limit = (value: number | undefined) => (value === undefined ? "" : value);
    return [
      admission.requestId,
      admission.now,
      limit(limits.requestsPerMinute),
      limit(limits.tokensPerMinute),
      limit(limits.costPerDayUsd),
      limit(limits.costPerWeekUsd),
      limit(limits.costPerMonthUsd),
      limit(limits.costTotalUsd),
      windows.dayStart,
      windows.dayEnd,
      windows.weekStart,
      windows.weekEnd,
      windows.monthStart,
      windows.monthEnd,
      seed ? 1 : 0,
      seed?.dayUsd ?? 0,
      seed?.weekUsd ?? 0,
      seed?.monthUsd ?? 0,
      seed?.totalUsd ?? 0,
      this.spendTtlMs,
      limit(limits.concurrency),
      admission.admitted ? 1 : 0,
    ];
  }

  releaseLease(holder: string, leaseId: string): Promise<void> {
    return new Promise<void>((done) => this.queue({ key: this.key(holder), accountId: holder, leaseId, releasedAt: this.now(), done }));
  }

  private pendingCharge(admission: KeyAdmission, charge: KeyCharge): PendingCharge {
    const [, tokens, spend] = this.keyCounterKeys(admission.apiKeyId);
    const { windows } = admission;
    // Tokens are kept only for a key with a token rate.
    const tokensUsed = admission.limits.tokensPerMinute === undefined ? 0 : charge.tokens;
    return { keys: [tokens, spend], args: [tokensUsed, charge.costUsd, charge.at, windows.dayStart, windows.weekStart, windows.monthStart] };
  }

  leave(places: readonly { queue: string; ticket: string }[]): Promise<void> {
    return this.queueCall("leave", places, []);
  }

  heartbeat(places: readonly { queue: string; ticket: string; accounts?: Iterable<string> }[]): Promise<void> {
    const wanted = new Set<string>();
    for (const place of places) for (const accountId of place.accounts ?? []) wanted.add(accountId);
    return this.queueCall("beat", places, [...wanted]);
  }

  private async queueCall(
    action: "leave" | "beat",
    places: readonly { queue: string; ticket: string }[],
    wanted: readonly string[],
  ): Promise<void> {
    if (places.length === 0) return;
    const keys = [this.wantedKey(), ...places.flatMap((place) => this.queueKeys(place.queue))];
    const args = [action, String(WAITER_STALE_MS), String(places.length), ...places.map((place) => place.ticket), ...wanted];
    try {
      await withTimeout(this.redis.subrelaySlotQueueV1(keys.length, ...keys, ...args), this.commandTimeoutMs);
    } catch (error) {
      // A waiter that could not leave is dropped by the others once its heartbeats stop.
      this.warn("slot wait queue unavailable", error);
    }
  }

  onRelease(listener: (accountId: string) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  listening(): Promise<void> {
    if (this.subscribed) return this.subscribed;
    // Its own connection (a subscribed one runs no other commands), which queues the subscription until it
    // is connected and subscribes again after every reconnect.
    const subscriber =
      this.redis instanceof Cluster
        ? this.redis.duplicate(undefined, { enableOfflineQueue: true })
        : this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false });
    this.subscriber = subscriber;
    subscriber.on("message", (channel: string, accountId: string) => {
      if (channel !== this.channel) return;
      for (const listener of this.listeners) listener(accountId);
    });
    subscriber.on("error", (error: unknown) => this.warn("slot release notices unavailable", error));
    this.subscribed = subscriber.subscribe(this.channel).then(
      () => undefined,
      (error: unknown) => {
        // Waiters still get their turn from the safety-net poll; the next waiter tries again.
        this.warn("slot release notices unavailable", error);
        this.subscribed = undefined;
        this.subscriber = undefined;
        subscriber.disconnect();
      },
    );
    return this.subscribed;
  }

  async countInFlight(accountIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (accountIds.length === 0) return counts;
    const now = this.now();
    const answers = await Promise.all(accountIds.map((id) => this.redis.zcount(this.key(id), now, "+inf")));
    accountIds.forEach((id, index) => counts.set(id, answers[index]!));
    return counts;
  }

  async countWaiting(queues: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const answers = await Promise.all(queues.map((queue) => this.redis.zcard(this.queueKeys(queue)[0])));
    queues.forEach((queue, index) => counts.set(queue, answers[index]!));
    return counts;
  }

  /** Ends the subscriber connection, if one was opened (the main connection is the caller's). */
  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.subscribed = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
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
      this.track(this.flush(this.takePending()));
    });
  }

  private readonly flushing = new Set<Promise<void>>();

  private track(flush: Promise<void>): void {
    this.flushing.add(flush);
    void flush.finally(() => this.flushing.delete(flush));
  }

  /**
   * Resolves once every release (and key charge) made so far has been sent and answered, or has failed:
   * for a caller that must see them applied before it goes on (tests; a shutdown).
   */
  async settled(): Promise<void> {
    this.track(this.flush(this.takePending()));
    await Promise.all([...this.flushing]);
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
    const charges = releases.flatMap((release) => (release.charge ? [release.charge] : []));
    try {
      await withTimeout(
        this.redis.subrelayReleaseSlotsV4(
          1 + 2 * charges.length + releases.length,
          this.wantedKey(),
          ...charges.flatMap((charge) => charge.keys),
          ...releases.map((release) => release.key),
          this.channel,
          charges.length,
          ...charges.flatMap((charge) => charge.args),
          ...releases.map((release) => release.leaseId),
          ...releases.map((release) => release.accountId),
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
    // A charge may have been applied: sent again it could count twice (the usage log keeps it either way).
    this.retries.push(...releases.map(({ charge: _charge, ...release }) => release));
    if (this.retries.length > RETRY_LIMIT) this.retries.splice(0, this.retries.length - RETRY_LIMIT);
    this.warn("concurrency slot release failed; it will be retried with the next call", error);
  }
}
