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
}

/**
 * Records what upstream refusals mean for an account, coalesced: a burst of 429s on one account with
 * one reset time is one database write and one outbox row, and a state already recorded in this process
 * (same or later end) is not written again.
 */
export class AccountStateRecorder {
  private readonly writes = new Group<void>();
  /** The latest end recorded per account and state, so a burst does not rewrite what is known. */
  private readonly recorded = new Map<string, number>();

  constructor(private readonly options: AccountStateRecorderOptions) {}

  /** Records in the background; failures are logged, never thrown (the request has failed over already). */
  record(accountId: string, verdict: AccountStateVerdict): void {
    const until = "until" in verdict ? verdict.until : Number.MAX_SAFE_INTEGER;
    const stateKey = `${accountId}:${verdict.kind}`;
    if ((this.recorded.get(stateKey) ?? 0) >= until) return;
    // Ends within one second coalesce: retry-after headers of one burst differ by milliseconds.
    const key = `${stateKey}:${Math.ceil(until / 1000)}`;
    void this.writes
      .do(key, async () => {
        const snapshot = await this.options.write(accountId, verdict);
        this.recorded.set(stateKey, Math.max(this.recorded.get(stateKey) ?? 0, until));
        if (snapshot) await this.options.push(snapshot);
      })
      .catch((error: unknown) => {
        this.options.logger.warn({ accountId, state: verdict.kind, error: describeError(error) }, "recording account state failed");
      });
  }

  /** Forgets what was recorded for an account (after an admin reset). */
  forget(accountId: string): void {
    for (const key of this.recorded.keys()) if (key.startsWith(`${accountId}:`)) this.recorded.delete(key);
  }
}
