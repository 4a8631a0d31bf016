import { type AbortWatcher, unwatchAbort, watchAbort } from "./abort-watch";
import type { GroupFunction, GroupResult } from "./group";
import { idleSignal } from "./idle-signal";

/** A caller that passed a signal and so may leave before the call settles. */
class Waiter<T> implements AbortWatcher {
  constructor(
    readonly call: Call<T>,
    readonly signal: AbortSignal,
    readonly resolve: (result: GroupResult<T>) => void,
    readonly reject: (reason: unknown) => void,
  ) {}

  abandon(): void {
    this.call.leave(this);
  }
}

/** One execution of `fn` for one key, shared by every caller that joined it. */
export class Call<T> {
  /**
   * Callers that will receive the outcome: every caller without a signal plus waiters that have not left.
   * Reaching 0 cancels the call.
   */
  receivers = 0;
  /** Set once the outcome is delivered or the call is cancelled; later events are ignored. */
  settled = false;
  /** What callers without a signal await (they cannot leave, so they can share one promise). */
  outcome: Promise<GroupResult<T>> | undefined;
  /** Undefined while no caller can cancel: `fn` then gets a shared signal that never aborts. */
  controller: AbortController | undefined;
  waiters: Set<Waiter<T>> | undefined;
  #resolveOutcome: ((result: GroupResult<T>) => void) | undefined;
  #rejectOutcome: ((reason: unknown) => void) | undefined;

  constructor(
    readonly calls: Map<string, Call<T>>,
    readonly key: string,
  ) {}

  /**
   * Calls `fn` now. A synchronous throw becomes a rejection; both branches of the returned promise are
   * always handled by the caller of `start`, so an abandoned call never raises an unhandled rejection.
   */
  start(fn: GroupFunction<T>, cancellable: boolean): Promise<T> {
    let signal: AbortSignal;
    if (cancellable) {
      this.controller = new AbortController();
      signal = this.controller.signal;
    } else {
      signal = idleSignal();
    }
    try {
      return Promise.resolve(fn(signal));
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- thrown values pass through unchanged
      return Promise.reject(error);
    }
  }

  /** Adds a caller; a caller with a signal gets its own promise so that it can reject early. */
  join(signal: AbortSignal | undefined): Promise<GroupResult<T>> {
    this.receivers++;
    if (signal === undefined) {
      return (this.outcome ??= new Promise<GroupResult<T>>((resolve, reject) => {
        this.#resolveOutcome = resolve;
        this.#rejectOutcome = reject;
      }));
    }
    return new Promise<GroupResult<T>>((resolve, reject) => {
      const waiter = new Waiter(this, signal, resolve, reject);
      (this.waiters ??= new Set()).add(waiter);
      watchAbort(signal, waiter);
    });
  }

  /** A waiter's signal aborted before the call settled. */
  leave(waiter: Waiter<T>): void {
    if (this.settled || this.waiters?.delete(waiter) !== true) return;
    this.receivers--;
    const reason: unknown = waiter.signal.reason;
    waiter.reject(reason);
    if (this.receivers > 0) return;
    // Nobody is left to receive the outcome: free the key so the next caller starts afresh instead of
    // joining a cancelled call, then tell `fn` to stop.
    this.settled = true;
    this.#release();
    this.controller?.abort(reason);
  }

  /** Delivers a value to every remaining caller; returns the result for a leader awaiting the run itself. */
  fulfil(value: T): GroupResult<T> {
    // Every receiver gets this one object (its type is read-only): an object per caller costs a herd.
    const result: GroupResult<T> = { value, shared: this.receivers > 1 };
    if (this.settled) return result;
    this.settled = true;
    this.#release();
    this.#resolveOutcome?.(result);
    const waiters = this.waiters;
    if (waiters !== undefined) {
      this.waiters = undefined;
      for (const waiter of waiters) {
        unwatchAbort(waiter.signal, waiter);
        waiter.resolve(result);
      }
    }
    return result;
  }

  /** Delivers a rejection to every remaining caller. */
  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#release();
    this.#rejectOutcome?.(error);
    const waiters = this.waiters;
    if (waiters !== undefined) {
      this.waiters = undefined;
      for (const waiter of waiters) {
        unwatchAbort(waiter.signal, waiter);
        waiter.reject(error);
      }
    }
  }

  /** Frees the key only if it still belongs to this call: a forgotten call must not evict its successor. */
  #release(): void {
    if (this.calls.get(this.key) === this) this.calls.delete(this.key);
  }
}
