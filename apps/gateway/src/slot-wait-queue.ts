import type { Cancellation } from "./cancellation";
import type { QueueingSlots, SlotCandidate, SlotLease } from "./concurrency-slots";
import { isKeyVerdict, type KeyAdmission, type KeyVerdict } from "./key-counters";

/** Where and how long a request may wait for a slot. */
export interface WaitPlan {
  /** The queue: `group:<id>` for any account of the group, `account:<id>` for a sticky account. */
  queue: string;
  /** The most waiters the queue holds. */
  limit: number;
  /** The longest wait, ms; 0 takes a free slot or none, without waiting. */
  timeoutMs: number;
}

/**
 * A slot, or why none: the queue was `full`, the wait reached its `timeout`, or the client is `gone`; or, for a
 * request with a key's admission, the key's verdict (a limit reached, or its counters gone).
 */
export type WaitOutcome = { lease: SlotLease } | { refused: "full" | "timeout" | "gone" } | { verdict: KeyVerdict };

export interface SlotWaitQueueOptions {
  /**
   * The safety net, ms: this often each waiting process renews its waiters' heartbeats and lets the first
   * waiter of each of its queues try again, in case a release notice was lost. Default 2_000.
   */
  pollMs?: number;
}

/** The queue a request for any account of a group waits in. */
export function groupQueue(groupId: number | string): string {
  return `group:${groupId}`;
}

/** The queue a request waits in for its sticky account. */
export function accountQueue(accountId: string): string {
  return `account:${accountId}`;
}

/** A request of this process that waits. */
interface Waiter {
  readonly queue: string;
  readonly ticket: string;
  readonly accounts: ReadonlySet<string>;
  /** Woken since its last attempt began: its next wait returns at once. */
  woken: boolean;
  wake: () => void;
}

/**
 * Requests that wait for a concurrency slot, woken by releases rather than by polling. The queues are
 * the slots' own (in Redis, shared by every replica: first come is first served across them); this class
 * keeps this process's waiters, in arrival order per queue, and hands each release notice to the first of
 * them that can use the account. A woken waiter tries again; not yet its turn, it waits on.
 */
export class SlotWaitQueue {
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly pollMs: number;
  private stopListening: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly slots: QueueingSlots,
    options: SlotWaitQueueOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 2_000;
  }

  /**
   * Takes a slot on one of `candidates` (in preference order), in turn behind the queue's waiters, waiting
   * up to the plan's timeout. `onWaiting` is called once if the request has to wait. With `admission`, every
   * attempt checks the key's limits too (a waiter is refused once a limit is reached meanwhile).
   */
  async take(
    candidates: readonly SlotCandidate[],
    leaseId: string,
    plan: WaitPlan,
    clientGone: Cancellation,
    onWaiting?: () => void,
    admission?: KeyAdmission,
  ): Promise<WaitOutcome> {
    const turn = { queue: plan.queue, ticket: leaseId, join: plan.timeoutMs > 0, limit: plan.limit };
    const first = await this.slots.acquireInTurn(candidates, leaseId, turn, admission);
    if (isKeyVerdict(first)) return { verdict: first };
    if (typeof first !== "string") return { lease: first };
    if (first === "full" || !turn.join) return { refused: first === "full" ? "full" : "timeout" };
    if (clientGone.aborted) {
      await this.slots.leave([turn]);
      return { refused: "gone" };
    }
    onWaiting?.();

    let signal = deferred();
    const waiter: Waiter = {
      queue: plan.queue,
      ticket: leaseId,
      accounts: new Set(candidates.map((candidate) => candidate.id)),
      woken: false,
      wake: () => {
        waiter.woken = true;
        signal.resolve("woken");
      },
    };
    this.register(waiter);
    const deadline = setTimeout(() => signal.resolve("timeout"), plan.timeoutMs);
    let timedOut = false;
    const stopFollowing = clientGone.onAbort(() => signal.resolve("gone"));
    try {
      await this.slots.listening();
      for (;;) {
        if (timedOut) {
          await this.slots.leave([turn]);
          return { refused: "timeout" };
        }
        waiter.woken = false;
        signal = deferred();
        if (clientGone.aborted) signal.resolve("gone");
        const outcome = await this.slots.acquireInTurn(candidates, leaseId, turn, admission);
        if (isKeyVerdict(outcome)) return { verdict: outcome };
        if (typeof outcome !== "string") return { lease: outcome };
        // Dropped meanwhile (its heartbeats late) and the queue filled up behind it.
        if (outcome === "full") return { refused: "full" };
        const why = await signal.promise;
        if (why === "gone") {
          await this.slots.leave([turn]);
          return { refused: "gone" };
        }
        if (why === "timeout") timedOut = true;
      }
    } finally {
      clearTimeout(deadline);
      stopFollowing();
      this.unregister(waiter);
    }
  }

  /** Waiters of this process now, per queue (for tests and metrics). */
  localWaiters(queue: string): number {
    return this.waiters.get(queue)?.length ?? 0;
  }

  /** Stops the safety-net poll and the release notices. */
  close(): void {
    clearInterval(this.poll);
    this.poll = undefined;
    this.stopListening?.();
    this.stopListening = undefined;
  }

  private register(waiter: Waiter): void {
    const queue = this.waiters.get(waiter.queue);
    if (queue) queue.push(waiter);
    else this.waiters.set(waiter.queue, [waiter]);
    this.stopListening ??= this.slots.onRelease((accountId) => this.released(accountId));
    if (!this.poll) {
      this.poll = setInterval(() => this.tick(), this.pollMs);
      this.poll.unref();
    }
  }

  /**
   * A waiter that leaves woken (its slot taken by an attempt begun before the wake, or its wait over) did
   * not use the wake: the next waiter gets it.
   */
  private unregister(waiter: Waiter): void {
    const queue = this.waiters.get(waiter.queue);
    if (queue) {
      const place = queue.indexOf(waiter);
      if (place !== -1) queue.splice(place, 1);
      if (queue.length === 0) this.waiters.delete(waiter.queue);
    }
    if (waiter.woken) for (const accountId of waiter.accounts) this.released(accountId);
    if (this.waiters.size === 0) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
  }

  /** A slot of `accountId` was released: the first waiter of each queue that can use it, not woken yet, tries. */
  private released(accountId: string): void {
    for (const queue of this.waiters.values()) {
      const next = queue.find((waiter) => !waiter.woken && waiter.accounts.has(accountId));
      next?.wake();
    }
  }

  private tick(): void {
    const all = [...this.waiters.values()].flat();
    void this.slots.heartbeat(all.map((waiter) => ({ queue: waiter.queue, ticket: waiter.ticket, accounts: waiter.accounts })));
    for (const queue of this.waiters.values()) queue.find((waiter) => !waiter.woken)?.wake();
  }
}

type Signal = "woken" | "timeout" | "gone";

function deferred(): { promise: Promise<Signal>; resolve: (signal: Signal) => void } {
  let resolve!: (signal: Signal) => void;
  const promise = new Promise<Signal>((done) => (resolve = done));
  return { promise, resolve };
}
