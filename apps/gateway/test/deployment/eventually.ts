import { setTimeout as delay } from "node:timers/promises";

/**
 * Re-checks `condition` every `intervalMs` until it holds and resolves to the ms it took; rejects after
 * `timeoutMs`. For state another OS process owns and announces to no one (its metrics, the database
 * through the admin API): a bounded wait on an observable condition, never a guess at a duration.
 */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - started;
    if (performance.now() - started > options.timeoutMs) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    }
    await delay(options.intervalMs ?? 50);
  }
}
