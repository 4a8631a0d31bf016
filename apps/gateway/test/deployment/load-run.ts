import type { MessageResult } from "./message-client";

/** Counts of one load run. */
export interface LoadSummary {
  sent: number;
  ok: number;
  failed: number;
  /** failed / sent (0 when nothing was sent). */
  errorRate: number;
  /** Failures by `status` (0 = transport) with one sample body each, for the failure message. */
  failures: Record<string, { count: number; sample: string }>;
  /** Every call's latency, ms, in completion order. */
  latencies: number[];
}

/**
 * A closed-loop load: `concurrency` callers each send one request, wait for it, send the next, until
 * `stop()`. Each call gets a running index (spread calls over gateways with it).
 */
export class LoadRun {
  readonly #results: MessageResult[] = [];
  readonly #loops: Array<Promise<void>>;
  #waiters: Array<{ count: number; resolve: () => void }> = [];
  #stopping = false;
  #index = 0;

  constructor(concurrency: number, send: (index: number) => Promise<MessageResult>) {
    this.#loops = Array.from({ length: concurrency }, async () => {
      while (!this.#stopping) {
        this.#results.push(await send(this.#index++));
        this.#waiters = this.#waiters.filter((waiter) => {
          if (this.#results.length < waiter.count) return true;
          waiter.resolve();
          return false;
        });
      }
    });
  }

  /** Resolves once `more` further calls have completed (counted from now). */
  completes(more: number): Promise<void> {
    const count = this.#results.length + more;
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  /** Summary of the calls completed since `from` (a `completed` value read earlier), without stopping. */
  since(from: number): LoadSummary {
    return summarize(this.#results.slice(from));
  }

  /** Calls completed so far. */
  get completed(): number {
    return this.#results.length;
  }

  /** Lets the calls in flight finish and sends no more. */
  async stop(): Promise<LoadSummary> {
    this.#stopping = true;
    await Promise.all(this.#loops);
    return summarize(this.#results);
  }
}

export function summarize(results: readonly MessageResult[]): LoadSummary {
  const failures: LoadSummary["failures"] = {};
  for (const result of results) {
    if (result.ok) continue;
    const entry = (failures[String(result.status)] ??= { count: 0, sample: (result.error ?? result.text).slice(0, 300) });
    entry.count += 1;
  }
  const ok = results.filter((result) => result.ok).length;
  return {
    sent: results.length,
    ok,
    failed: results.length - ok,
    errorRate: results.length === 0 ? 0 : (results.length - ok) / results.length,
    failures,
    latencies: results.map((result) => result.ms),
  };
}
