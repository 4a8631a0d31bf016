import type { ExpiringOAuthAccount, ExpiringOAuthPage, ExpiringOAuthQuery } from "@subrelay/db";
import type { SchedulerCache } from "@subrelay/scheduler-cache";
import { TokenRefreshError, type Logger, type RefreshResult, type TokenAccount } from "@subrelay/token-cache";
import { abortableSleep, pause, type Sleep } from "./abortable-sleep";
import { backoffDelay } from "./backoff-delay";
import { refreshCooldownReasonPrefix } from "./refresh-cooldown-reason";
import { pushAccountSnapshot, type AccountSnapshotSource } from "./push-account-snapshot";
import { TokenBucket } from "./token-bucket";
import { WorkerMetrics, type RefreshPassOutcome } from "./worker-metrics";

/** The database as the proactive refresher needs it (implemented by `@subrelay/db`'s AccountRepository). */
export interface RefreshAccountStore extends AccountSnapshotSource {
  listExpiringOAuth(query: ExpiringOAuthQuery): Promise<ExpiringOAuthPage>;
  markTempUnschedulable(id: string, until: number, reason: string): Promise<boolean>;
  markError(id: string, message: string): Promise<boolean>;
}

/** The token manager as the proactive refresher needs it. */
export interface RefreshTokens {
  refreshIfNeeded(account: TokenAccount, windowMs: number, options?: { signal?: AbortSignal }): Promise<RefreshResult>;
  invalidate(account: TokenAccount): Promise<void>;
}

export interface ProactiveRefresherOptions {
  accounts: RefreshAccountStore;
  /** A TokenManager; with a RedisTokenStore its lock keeps several workers from refreshing one account twice. */
  tokens: RefreshTokens;
  /** Receives the account's new state after a cool-down, an error or a cleared cool-down. */
  scheduler: Pick<SchedulerCache, "setAccount" | "deleteAccount">;
  /**
   * Ends a cool-down this refresher set (`AccountRepository.clearTempUnschedulable` with its reason prefix); resolves true when one was cleared.
   * Default: none is ever cleared.
   */
  clearCooldown?: (id: string) => Promise<boolean>;
  /** Accounts whose token expires within this many ms are refreshed. Default 1_800_000 (30 min). */
  windowMs?: number;
  /** Time between passes, ms, jittered ±10 %. Default 60_000. */
  intervalMs?: number;
  /** Refreshes in flight at once per platform. Default 4. */
  concurrency?: number;
  /** Refreshes started per second per platform (token bucket, burst = rate). Default 5. */
  ratePerSecond?: number;
  /** Accounts read per keyset page. Default 100. */
  pageSize?: number;
  /** Tries per account and pass before a transient failure cools the account down. Default 3. */
  maxAttempts?: number;
  /** Backoff before the 2nd try, ms, doubling per try, jittered ±20 %. Default 2_000. */
  backoffBaseMs?: number;
  /** Longest backoff, ms. Default 30_000. */
  backoffCapMs?: number;
  /** How long an account whose refresh keeps failing transiently is left out of scheduling, ms. Default 600_000. */
  cooldownMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Uniform [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
  /** Backoff, rate-limit and interval waits. Default {@link abortableSleep}. */
  sleep?: Sleep;
  logger?: Logger;
  metrics?: WorkerMetrics;
}

/** What one pass did, by account. */
export interface RefreshPassSummary {
  /** Accounts listed as expiring within the window (undecryptable ones included). */
  examined: number;
  refreshed: number;
  /** Already valid past the window (cached or stored): nothing to do. */
  fresh: number;
  cooledDown: number;
  permanentFailures: number;
  undecryptable: number;
  /** The pass stopped early because the refresher was stopped. */
  interrupted: boolean;
}

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Refreshes OAuth tokens ahead of expiry, so an account idle at the moment of expiry is still ready.
 *
 * Each pass pages through the active OAuth accounts expiring within `windowMs` (keyset pagination) and calls
 * `TokenManager.refreshIfNeeded` for each, at most `concurrency` at once and `ratePerSecond` started per
 * platform. A transient failure is retried after a jittered exponential backoff; after `maxAttempts` tries
 * the account cools down (`temp_unschedulable`, reason `token refresh failing: <code>`) for `cooldownMs`.
 * A permanent failure (TokenManager has already re-read the account to rule out a rotation race) puts the
 * account in status `error`, invalidates its cached token, and pushes its new state. A success clears a
 * cool-down this refresher set. Every state change writes its outbox row (the repository does it), and is
 * also pushed to the scheduler cache at once.
 *
 * Stopping interrupts backoff and rate-limit waits; refreshes already running finish (their result carries a
 * rotated refresh token that must be saved).
 */
export class ProactiveRefresher {
  readonly #accounts: RefreshAccountStore;
  readonly #tokens: RefreshTokens;
  readonly #scheduler: Pick<SchedulerCache, "setAccount" | "deleteAccount">;
  readonly #clearCooldown: (id: string) => Promise<boolean>;
  readonly #windowMs: number;
  readonly #intervalMs: number;
  readonly #concurrency: number;
  readonly #ratePerSecond: number;
  readonly #pageSize: number;
  readonly #maxAttempts: number;
  readonly #backoffBaseMs: number;
  readonly #backoffCapMs: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #sleep: Sleep;
  readonly #logger: Logger;
  readonly #metrics: WorkerMetrics;
  readonly #rateLimits = new Map<string, TokenBucket>();
  readonly #stopping = new AbortController();
  #pass: Promise<RefreshPassSummary> | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: ProactiveRefresherOptions) {
    this.#accounts = options.accounts;
    this.#tokens = options.tokens;
    this.#scheduler = options.scheduler;
    this.#clearCooldown = options.clearCooldown ?? (() => Promise.resolve(false));
    this.#windowMs = options.windowMs ?? 1_800_000;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    this.#ratePerSecond = options.ratePerSecond ?? 5;
    this.#pageSize = options.pageSize ?? 100;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#backoffBaseMs = options.backoffBaseMs ?? 2_000;
    this.#backoffCapMs = options.backoffCapMs ?? 30_000;
    this.#cooldownMs = options.cooldownMs ?? 600_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#logger = options.logger ?? silent;
    this.#metrics = options.metrics ?? new WorkerMetrics();
  }

  /** Runs one pass now; joins the pass in flight if there is one. Never rejects for one account's failure. */
  runOnce(): Promise<RefreshPassSummary> {
    this.#pass ??= this.#runPass().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  /** Starts the loop: a pass at once, then one every `intervalMs` (±10 %). Idempotent. */
  start(): void {
    if (this.#loop || this.#stopping.signal.aborted) return;
    this.#loop = (async () => {
      const signal = this.#stopping.signal;
      while (!signal.aborted) {
        try {
          await this.runOnce();
        } catch (error) {
          this.#metrics.loopErrors.inc({ loop: "refresh" });
          this.#logger.error({ error: describe(error) }, "proactive refresh pass failed");
        }
        await pause(this.#sleep, this.#intervalMs * (0.9 + 0.2 * this.#random()), signal);
      }
    })();
  }

  /** Stops the loop: waits end, running refreshes finish, then it resolves. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("proactive refresher stopped"));
    await this.#loop;
    await this.#pass?.catch(() => undefined);
  }

  async #runPass(): Promise<RefreshPassSummary> {
    const summary: RefreshPassSummary = {
      examined: 0,
      refreshed: 0,
      fresh: 0,
      cooledDown: 0,
      permanentFailures: 0,
      undecryptable: 0,
      interrupted: false,
    };
    const signal = this.#stopping.signal;
    // One cut-off for the whole pass, so keyset pages agree on what "expiring" means.
    const before = this.#now() + this.#windowMs;
    let afterId: string | undefined;
    do {
      const page = await this.#accounts.listExpiringOAuth({ before, afterId, limit: this.#pageSize });
      summary.examined += page.accounts.length + page.undecryptable.length;
      for (const id of page.undecryptable) {
        summary.undecryptable++;
        this.#metrics.refreshes.inc({ platform: "unknown", outcome: "undecryptable" });
        this.#logger.warn({ accountId: id }, "credentials of an expiring account could not be decrypted; skipped");
      }
      await this.#refreshPage(page.accounts, summary, signal);
      afterId = page.nextAfterId ?? undefined;
    } while (afterId !== undefined && !signal.aborted);
    summary.interrupted = signal.aborted;
    this.#metrics.refreshPasses.inc();
    return summary;
  }

  /** Per platform: `concurrency` runners drain that platform's queue, each start paced by its token bucket. */
  async #refreshPage(accounts: ExpiringOAuthAccount[], summary: RefreshPassSummary, signal: AbortSignal): Promise<void> {
    const queues = new Map<string, ExpiringOAuthAccount[]>();
    for (const account of accounts) {
      const queue = queues.get(account.platform) ?? [];
      queue.push(account);
      queues.set(account.platform, queue);
    }
    const runners: Promise<void>[] = [];
    for (const [platform, queue] of queues) {
      const bucket = this.#rateLimitOf(platform);
      const runner = async () => {
        for (let account = queue.shift(); account !== undefined && !signal.aborted; account = queue.shift()) {
          const waitMs = bucket.reserve();
          if (waitMs > 0) {
            await pause(this.#sleep, waitMs, signal);
            if (signal.aborted) return;
          }
          const outcome = await this.#refreshAccount(account, signal);
          if (outcome === undefined) return;
          this.#metrics.refreshes.inc({ platform, outcome });
          if (outcome === "refreshed") summary.refreshed++;
          else if (outcome === "fresh") summary.fresh++;
          else if (outcome === "cooled_down") summary.cooledDown++;
          else if (outcome === "permanent_failure") summary.permanentFailures++;
        }
      };
      for (let index = 0; index < Math.min(this.#concurrency, queue.length); index++) runners.push(runner());
    }
    await Promise.all(runners);
  }

  #rateLimitOf(platform: string): TokenBucket {
    let bucket = this.#rateLimits.get(platform);
    if (!bucket) {
      bucket = new TokenBucket({ ratePerSecond: this.#ratePerSecond, now: this.#now });
      this.#rateLimits.set(platform, bucket);
    }
    return bucket;
  }

  /** One account, with retries. Undefined when the refresher stopped during a backoff. */
  async #refreshAccount(account: ExpiringOAuthAccount, signal: AbortSignal): Promise<RefreshPassOutcome | undefined> {
    const fields = { platform: account.platform, accountId: account.id };
    for (let attempt = 1; ; attempt++) {
      let result: RefreshResult;
      try {
        // No signal: a refresh that started must run to its end so a rotated refresh token is saved.
        result = await this.#tokens.refreshIfNeeded(account, this.#windowMs);
      } catch (error) {
        const code = TokenRefreshError.isInstance(error) ? error.code : "unknown";
        if (TokenRefreshError.isInstance(error) && error.permanent) {
          await this.#guard(fields, "marking the account as errored failed", async () => {
            await this.#accounts.markError(account.id, errorMessageOf(error));
            await this.#tokens.invalidate(account);
            await pushAccountSnapshot(this.#accounts, this.#scheduler, account.id);
          });
          this.#logger.error({ ...fields, outcome: "permanent_failure", code }, "token refresh failed permanently; account set to error");
          return "permanent_failure";
        }
        if (attempt >= this.#maxAttempts) {
          await this.#guard(fields, "cooling the account down failed", async () => {
            await this.#accounts.markTempUnschedulable(account.id, this.#now() + this.#cooldownMs, `${refreshCooldownReasonPrefix} ${code}`);
            await pushAccountSnapshot(this.#accounts, this.#scheduler, account.id);
          });
          this.#logger.warn({ ...fields, outcome: "cooled_down", code, attempts: attempt }, "token refresh keeps failing; account cooling down");
          return "cooled_down";
        }
        this.#metrics.refreshes.inc({ platform: account.platform, outcome: "retried" });
        const delayMs = backoffDelay(attempt, {
          baseMs: this.#backoffBaseMs,
          capMs: this.#backoffCapMs,
          random: this.#random,
          retryAfterMs: TokenRefreshError.isInstance(error) ? error.retryAfterMs : undefined,
        });
        this.#logger.warn({ ...fields, code, attempt, delayMs }, "token refresh failed; retrying");
        await pause(this.#sleep, delayMs, signal);
        if (signal.aborted) return undefined;
        continue;
      }
      await this.#guard(fields, "clearing the refresh cool-down failed", async () => {
        if (await this.#clearCooldown(account.id)) await pushAccountSnapshot(this.#accounts, this.#scheduler, account.id);
      });
      // A refresh is worth a line at info; an account another process already refreshed only at debug.
      if (result.refreshed) this.#logger.info({ ...fields, outcome: "refreshed" }, "proactive token refresh");
      else this.#logger.debug?.({ ...fields, outcome: "fresh" }, "proactive token refresh");
      return result.refreshed ? "refreshed" : "fresh";
    }
  }

  /** A database or cache failure while recording an outcome is logged; the next pass sees the account again. */
  async #guard(fields: Record<string, unknown>, message: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.#metrics.loopErrors.inc({ loop: "refresh" });
      this.#logger.error({ ...fields, error: describe(error) }, message);
    }
  }
}

/** TokenRefreshError messages never carry tokens (their contract); still bounded, as operators read them. */
function errorMessageOf(error: TokenRefreshError): string {
  return `token refresh failed permanently (${error.code}): ${error.message}`.slice(0, 500);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
