/**
 * Waits `ms` milliseconds; rejects with `signal.reason` as soon as `signal` aborts (at once when it
 * already has). Every wait of the worker (backoff, rate limit, loop pauses) goes through a function of
 * this shape, so tests inject one that records the delays and resolves at once.
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real {@link Sleep}: a timer that does not keep the process alive. */
export const abortableSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    timer.unref();
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Like `sleep`, but resolves (instead of rejecting) when `signal` aborts: for loop pauses that end on stop. */
export async function pause(sleep: Sleep, ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, signal);
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
