import type { SchedulerCache } from "@subrelay/scheduler-cache";
import type { Logger } from "@subrelay/token-cache";
import { abortableSleep, pause, type Sleep } from "./abortable-sleep";
import { pushAccountSnapshot, type AccountSnapshotSource } from "./push-account-snapshot";
import { WorkerMetrics } from "./worker-metrics";

/** The database as the janitor needs it (implemented by `@subrelay/db`'s AccountRepository). */
export interface JanitorAccountStore extends AccountSnapshotSource {
  /** Clears states that ended at or before `now`; resolves to the ids changed (each with an outbox row). */
  clearExpiredStates(now: number): Promise<string[]>;
}

export interface StateJanitorOptions {
  accounts: JanitorAccountStore;
  scheduler: Pick<SchedulerCache, "setAccount" | "deleteAccount">;
  /** Time between sweeps, ms. Default 30_000. */
  intervalMs?: number;
  /** Sweeps run only while this says so (the worker: while it holds the outbox lease). Default: always. */
  shouldRun?: () => boolean;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  sleep?: Sleep;
  logger?: Logger;
  metrics?: WorkerMetrics;
}

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Clears ended rate limits, cool-downs and overloads in the database so the admin view is true. Scheduling
 * does not wait for it: selection already ignores a state whose time has passed. Each changed account is
 * pushed to the scheduler cache at once (the repository's outbox rows make the consumer push it too).
 */
export class StateJanitor {
  readonly #accounts: JanitorAccountStore;
  readonly #scheduler: Pick<SchedulerCache, "setAccount" | "deleteAccount">;
  readonly #intervalMs: number;
  readonly #shouldRun: () => boolean;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  readonly #logger: Logger;
  readonly #metrics: WorkerMetrics;
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: StateJanitorOptions) {
    this.#accounts = options.accounts;
    this.#scheduler = options.scheduler;
    this.#intervalMs = options.intervalMs ?? 30_000;
    this.#shouldRun = options.shouldRun ?? (() => true);
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#logger = options.logger ?? silent;
    this.#metrics = options.metrics ?? new WorkerMetrics();
  }

  /** One sweep now; resolves to the ids cleared. Rejects when the database does. */
  async runOnce(): Promise<string[]> {
    const cleared = await this.#accounts.clearExpiredStates(this.#now());
    this.#metrics.statesCleared.inc(cleared.length);
    for (const id of cleared) {
      try {
        await pushAccountSnapshot(this.#accounts, this.#scheduler, id);
        this.#metrics.accountPushes.inc();
      } catch (error) {
        // The outbox row written with the change still gets it there.
        this.#logger.warn({ accountId: id, error: error instanceof Error ? error.message : String(error) }, "pushing a cleared state failed");
      }
    }
    if (cleared.length > 0) this.#logger.info({ accounts: cleared.length }, "cleared ended account states");
    return cleared;
  }

  /** Starts the loop. Idempotent. */
  start(): void {
    if (this.#loop || this.#stopping.signal.aborted) return;
    this.#loop = (async () => {
      const signal = this.#stopping.signal;
      while (!signal.aborted) {
        await pause(this.#sleep, this.#intervalMs, signal);
        if (signal.aborted || !this.#shouldRun()) continue;
        try {
          await this.runOnce();
        } catch (error) {
          this.#metrics.loopErrors.inc({ loop: "janitor" });
          this.#logger.error({ error: error instanceof Error ? error.message : String(error) }, "state janitor sweep failed");
        }
      }
    })();
  }

  /** Stops the loop after the sweep in flight. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("state janitor stopped"));
    await this.#loop;
  }
}
