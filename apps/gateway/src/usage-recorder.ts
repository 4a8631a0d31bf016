import type { UsageRow } from "@subrelay/db";
import type { Logger } from "@subrelay/token-cache";
import { describeError } from "@subrelay/runtime";

export type { UsageRow };

export interface UsageRecorderOptions {
  /** Writes a batch (one multi-row insert). Rejects when the database is unreachable; the batch is kept. */
  write(rows: UsageRow[]): Promise<void>;
  /**
   * Rows held in memory at most. While the database is down rows queue up to this bound; past it the
   * oldest rows are dropped and counted in `dropped` (usage is bookkeeping: it must not take the
   * gateway's memory down with it). Default 100,000.
   */
  limit?: number;
  /**
   * Rows per insert. Default 100: small enough that building and sending a batch never holds the event
   * loop for long (on PGlite, which writes on this thread, ~1.5 ms), large enough to cost little per row.
   */
  batchSize?: number;
  /** Time between flushes, ms. Default 1,000. */
  intervalMs?: number;
  logger: Logger;
  onDropped?(count: number): void;
}

/**
 * Usage rows are written off the request path: queued, and flushed in batches every interval. A failed
 * flush keeps its rows for the next one; `close()` flushes what is left.
 */
export class UsageRecorder {
  private queue: UsageRow[] = [];
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly limit: number;
  private readonly batchSize: number;
  dropped = 0;

  constructor(private readonly options: UsageRecorderOptions) {
    this.limit = options.limit ?? 100_000;
    this.batchSize = options.batchSize ?? 100;
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 1_000);
    this.timer.unref();
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.queue.length;
  }

  /** The rows not written yet, oldest first (a key's spend rebuilt from the log adds them). */
  queued(): readonly UsageRow[] {
    return this.queue;
  }

  record(row: UsageRow): void {
    this.queue.push(row);
    if (this.queue.length > this.limit) {
      const excess = this.queue.length - this.limit;
      this.queue.splice(0, excess);
      this.dropped += excess;
      this.options.onDropped?.(excess);
    }
    if (this.queue.length >= this.batchSize) void this.flush();
  }

  /** Writes everything queued now; concurrent calls share one flush. Never rejects. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.batchSize);
      const droppedBefore = this.dropped;
      try {
        await this.options.write(batch);
      } catch (error) {
        this.options.logger.warn({ pending: this.queue.length, error: describeError(error) }, "usage write failed; will retry");
        return;
      }
      // Rows recorded while the write ran sit behind the batch; rows dropped for overflow meanwhile
      // were taken from the front, i.e. from the batch itself.
      this.queue.splice(0, Math.max(0, batch.length - (this.dropped - droppedBefore)));
      // A backlog is written batch by batch with requests served in between, not in one long pause
      // (on an in-process database a write holds the event loop).
      if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Stops the timer and flushes what is left (bounded by the caller's shutdown deadline). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
