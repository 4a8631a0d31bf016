import { Call } from "./call";

/** What every caller that received the call's outcome gets back from {@link Group.do}. */
export interface GroupResult<T> {
  /** The value `fn` resolved with — the same value for every caller of one call. */
  readonly value: T;
  /**
   * `true` when more than one caller received this outcome (the caller that started the call included),
   * `false` for a lone caller. Callers that aborted before the call settled did not receive it and are
   * not counted.
   */
  readonly shared: boolean;
}

/** Per-caller options of {@link Group.do}. */
export interface GroupDoOptions {
  /**
   * Cancels this caller's wait. When it aborts, this caller's promise rejects at once with `signal.reason`;
   * the call itself keeps running for the other callers. The signal handed to `fn` aborts only once every
   * caller of the call has aborted. An already-aborted signal rejects without starting or joining a call.
   * Default: the caller waits until the call settles.
   */
  signal?: AbortSignal;
}

/**
 * The work a call runs once for all of its callers. It may return a value, a promise or any thenable,
 * and may throw. `signal` aborts, with the reason of the last caller to leave, only when every caller of
 * the call has aborted. While that cannot happen — the caller that started the call passed no signal —
 * `fn` gets a signal that never aborts and is shared with other such calls (creating an AbortSignal
 * costs microseconds on Node 20); as with any long-lived signal, remove the listeners you add to it.
 */
export type GroupFunction<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/**
 * In-process call coalescing. Concurrent {@link Group.do} calls with the same key run `fn` once and
 * every caller gets its outcome; nothing is cached once the call settles.
 *
 * `T` is the value type of every call in the group; use one group per kind of work.
 */
export class Group<T = unknown> {
  readonly #calls = new Map<string, Call<T>>();

  /**
   * Runs `fn` for `key` unless a call for `key` is already in flight, in which case this caller joins it.
   *
   * - Resolves with `{ value, shared }` when `fn` fulfils; rejects with the very value `fn` threw or
   *   rejected with (the same object for every caller; non-`Error` values pass through unchanged).
   * - `fn` is called synchronously, before `do` returns, with a signal that aborts (with the reason of
   *   the last caller to leave) only when every caller of the call has aborted.
   * - Rejects with `options.signal.reason` as soon as `options.signal` aborts, or at once when it is
   *   already aborted (then `fn` is neither started nor joined).
   */
  do(key: string, fn: GroupFunction<T>, options?: GroupDoOptions): Promise<GroupResult<T>> {
    const signal = options?.signal;
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own reason, unchanged
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const existing = this.#calls.get(key);
    if (existing !== undefined) return existing.join(signal);

    const call = new Call<T>(this.#calls, key);
    this.#calls.set(key, call);
    if (signal === undefined) {
      // Hot path: a leader that cannot leave awaits the run's own chain, which signal-less followers share.
      call.receivers = 1;
      const outcome = call.start(fn, false).then(
        (value) => call.fulfil(value),
        (error: unknown) => {
          call.fail(error);
          throw error;
        },
      );
      call.outcome ??= outcome;
      return outcome;
    }
    const joined = call.join(signal);
    call.start(fn, true).then(
      (value) => void call.fulfil(value),
      (error: unknown) => call.fail(error),
    );
    return joined;
  }

  /**
   * Detaches the in-flight call for `key`, if any: its callers still get its outcome, but the next
   * `do(key)` starts a fresh call. When the old call settles it leaves the new call's entry alone.
   */
  forget(key: string): void {
    this.#calls.delete(key);
  }

  /** Whether a call for `key` is in flight and would be joined by `do(key)`. */
  has(key: string): boolean {
    return this.#calls.has(key);
  }

  /** Number of keys with a call in flight. */
  get size(): number {
    return this.#calls.size;
  }
}
