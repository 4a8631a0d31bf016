import type { WaitForRefreshResult } from "./token-store";

/**
 * In-process fan-out of "refresh finished" announcements: any number of waiters per key, each woken by
 * one event (no polling). Shared by both TokenStore implementations.
 */
export class RefreshWaiters {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Wakes every waiter of `key`. */
  notify(key: string): void {
    const waiters = this.#waiters.get(key);
    if (waiters === undefined) return;
    this.#waiters.delete(key);
    for (const wake of waiters) wake();
  }

  /** Number of keys with at least one waiter. */
  get size(): number {
    return this.#waiters.size;
  }

  /**
   * Registers a waiter for `key`, then runs `prepare` (e.g. make sure the subscription is live) and
   * `isLocked`: registering first means an announcement sent between the two cannot be missed.
   */
  async wait(
    key: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    isLocked: () => Promise<boolean>,
    prepare?: () => Promise<void>,
  ): Promise<WaitForRefreshResult> {
    signal?.throwIfAborted();
    let wake!: () => void;
    const announced = new Promise<"announced">((resolve) => {
      wake = () => resolve("announced");
    });
    let waiters = this.#waiters.get(key);
    if (waiters === undefined) this.#waiters.set(key, (waiters = new Set()));
    waiters.add(wake);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<"aborted">((resolve) => {
      if (signal === undefined) return;
      onAbort = () => resolve("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      if (prepare !== undefined) await prepare();
      signal?.throwIfAborted();
      if (!(await isLocked())) return "unlocked";
      signal?.throwIfAborted();
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(resolve, Math.max(0, timeoutMs), "timeout");
      });
      const result = await Promise.race([announced, timedOut, aborted]);
      if (result === "aborted") signal?.throwIfAborted();
      return result === "aborted" ? "timeout" : result;
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
      const current = this.#waiters.get(key);
      if (current !== undefined) {
        current.delete(wake);
        if (current.size === 0) this.#waiters.delete(key);
      }
    }
  }
}
