import { Group } from "@subrelay/singleflight";
import type { Verdict } from "@subrelay/providers-core";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import type { Logger } from "@subrelay/token-cache";
import { describeError } from "@subrelay/runtime";

/** The account states a verdict can put an account in. */
export type AccountStateVerdict = Extract<Verdict, { kind: "rate_limited" | "overloaded" | "forbidden" }>;

export interface AccountStateRecorderOptions {
  /**
   * Persists the state (one transaction with its outbox row) and returns the account's new snapshot,
   * or null when the account is gone or the state was already recorded.
   */
  write(accountId: string, verdict: AccountStateVerdict): Promise<AccountSnapshot | null>;
  /** Pushes the new snapshot to every replica's scheduler cache at once (no rebuild). */
  push(snapshot: AccountSnapshot): Promise<void>;
  logger: Logger;
  /**
   * How long a recorded state stops this process from writing it again, ms. Default 30 s. The memo only
   * spares the database a burst; it cannot know of an admin reset made through another replica, so past
   * this bound the state is written again (the write is a no-op when the database already holds it).
   */
  memoMs?: number;
  /** Epoch ms. Default `Date.now`. */
  now?: () => number;
}

/** Entries the memo holds before its first sweep of expired ones. */
const SWEEP_FLOOR = 1_000;

/** A state this process has recorded: its end, and when it was written. */
interface Recorded {
  until: number;
  recordedAt: number;
}

/**
 * Records what upstream refusals mean for an account, coalesced: a burst of 429s on one account with
 * one reset time is one database write and one outbox row, and a state already recorded in this process
 * (same or later end) is not written again for `memoMs`.
 */
export class AccountStateRecorder {
  private readonly writes = new Group<void>();
  /** The latest end recorded per account and state, so a burst does not rewrite what is known. */
  private readonly recorded = new Map<string, Recorded>();
  private readonly memoMs: number;
  private sweepAt = SWEEP_FLOOR;
  private readonly now: () => number;

  constructor(private readonly options: AccountStateRecorderOptions) {
    this.memoMs = options.memoMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Records in the background; failures are logged, never thrown (the request has failed over already).
   * The promise settles once the state is written and pushed, or skipped; it never rejects.
   */
  record(accountId: string, verdict: AccountStateVerdict): Promise<void> {
    const until = "until" in verdict ? verdict.until : Number.MAX_SAFE_INTEGER;
    // A scoped rate limit (an Opus week) is its own state: it must not hide an account-wide one, nor another scope's.
    const scope = verdict.kind === "rate_limited" && verdict.scope !== undefined && verdict.scope !== "account" ? `:${verdict.scope}:${verdict.window ?? ""}` : "";
    const stateKey = `${accountId}:${verdict.kind}${scope}`;
    const known = this.recorded.get(stateKey);
    if (known && this.now() - known.recordedAt < this.memoMs && known.until >= until) return Promise.resolve();
    // Ends within one second coalesce: retry-after headers of one burst differ by milliseconds.
    const key = `${stateKey}:${Math.ceil(until / 1000)}`;
    return this.writes
      .do(key, async () => {
        const snapshot = await this.options.write(accountId, verdict);
        this.remember(stateKey, until);
        if (snapshot) await this.options.push(snapshot);
      })
      .then(
        () => undefined,
        (error: unknown) => {
          this.options.logger.warn({ accountId, state: verdict.kind, error: describeError(error) }, "recording account state failed");
        },
      );
  }

  private remember(stateKey: string, until: number): void {
    const now = this.now();
    const known = this.recorded.get(stateKey);
    const fresh = known !== undefined && now - known.recordedAt < this.memoMs;
    this.recorded.set(stateKey, { until: fresh ? Math.max(known.until, until) : until, recordedAt: now });
    // Entries past the bound are worth nothing: drop them so the map holds only the recent ones. The next
    // sweep waits until the map has doubled, so a burst of fresh entries is not swept on every record.
    if (this.recorded.size > this.sweepAt) {
      for (const [entry, value] of this.recorded) if (now - value.recordedAt >= this.memoMs) this.recorded.delete(entry);
      this.sweepAt = Math.max(SWEEP_FLOOR, this.recorded.size * 2);
    }
  }

  /** Forgets what was recorded for an account (after an admin reset through this process). */
  forget(accountId: string): void {
    for (const key of this.recorded.keys()) if (key.startsWith(`${accountId}:`)) this.recorded.delete(key);
  }
}
