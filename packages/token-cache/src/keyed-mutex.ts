/**
 * Per-key mutual exclusion inside one process: `run(key, fn)` calls never overlap for one key and run
 * in arrival order. The guarantee behind "at most one refresh per key per process", even when Redis is
 * unreachable and when callers with different refresh windows coalesce into different calls.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Rejects with `signal.reason` if `signal` aborts before the turn comes; `fn` then never runs. */
  async run<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => turn);
    this.#tails.set(key, tail);
    let onAbort: (() => void) | undefined;
    try {
      signal?.throwIfAborted();
      const aborted = new Promise<"aborted">((resolve) => {
        onAbort = () => resolve("aborted");
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      if ((await Promise.race([previous, aborted])) === "aborted") signal?.throwIfAborted();
      return await fn();
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Number of keys with a running or queued call. */
  get size(): number {
    return this.#tails.size;
  }
}
