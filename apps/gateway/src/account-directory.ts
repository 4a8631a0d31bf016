import { Group } from "@subrelay/singleflight";
import type { UpstreamAccount } from "@subrelay/providers-core";

export interface AccountDirectoryOptions {
  /** Loads an account with its decrypted credentials; null when it no longer exists. */
  load(id: string): Promise<UpstreamAccount | null>;
  /** How long a loaded account is used without reloading, ms. Default 30 s. */
  ttlMs?: number;
  /** While the database is unreachable, a loaded account keeps serving this long past its TTL, ms. Default 10 min. */
  staleMs?: number;
  now?: () => number;
}

/**
 * Accounts with their credentials, as the request path needs them: loaded once per TTL per process
 * (one load per account however many requests miss at once), kept through a database outage.
 * OAuth tokens are not taken from here as such: TokenManager owns their freshness.
 */
export class AccountDirectory {
  private readonly entries = new Map<string, { account: UpstreamAccount | null; loadedAt: number }>();
  private readonly loads = new Group<UpstreamAccount | null>();
  private readonly now: () => number;

  constructor(private readonly options: AccountDirectoryOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(id: string): Promise<UpstreamAccount | null> {
    const entry = this.entries.get(id);
    const now = this.now();
    const ttlMs = this.options.ttlMs ?? 30_000;
    if (entry && now - entry.loadedAt < ttlMs) return entry.account;
    try {
      const { value } = await this.loads.do(id, () => this.options.load(id));
      this.entries.set(id, { account: value, loadedAt: this.now() });
      return value;
    } catch (error) {
      if (entry?.account && now - entry.loadedAt < ttlMs + (this.options.staleMs ?? 10 * 60_000)) return entry.account;
      throw error;
    }
  }

  /** Drops a cached account (after it changed in this process). */
  forget(id: string): void {
    this.entries.delete(id);
  }
}
