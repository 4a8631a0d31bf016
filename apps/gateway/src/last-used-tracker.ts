import type { Logger } from "@subrelay/token-cache";
import { describeError } from "@subrelay/runtime";

export interface LastUsedTrackerOptions {
  /** Writes the latest use per id (accounts: scheduler cache and database; API keys: database); values only move forward. */
  write(updates: Map<string, number>): Promise<void>;
  /** Time between writes, ms. Default 1,000. */
  intervalMs?: number;
  logger: Logger;
}

/**
 * Last-used times, batched: a request only notes its account in memory; one write per interval carries
 * every account used since, so least-recently-used balancing costs no round trip per request.
 */
export class LastUsedTracker {
  private pending = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: LastUsedTrackerOptions) {
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 1_000);
    this.timer.unref();
  }

  touch(accountId: string, at: number): void {
    if ((this.pending.get(accountId) ?? 0) < at) this.pending.set(accountId, at);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const updates = this.pending;
    this.pending = new Map();
    try {
      await this.options.write(updates);
    } catch (error) {
      // Last-used times only steer balancing; the next interval's values supersede these.
      this.options.logger.debug?.({ error: describeError(error) }, "last-used write failed");
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
