import { Group } from "@subrelay/singleflight";
import type { SchedulerMode } from "@subrelay/scheduler-cache";
import { GatewayError } from "./gateway-error";

/** What a valid subrelay key grants. */
export interface ApiKeyGrant {
  apiKeyId: string;
  groupId: number;
  platform: string;
  mode: SchedulerMode;
}

/** A stored key as the database returns it, looked up by the SHA-256 hex of the key. */
export interface StoredApiKey extends ApiKeyGrant {
  status: "active" | "revoked";
  expiresAt: number | null;
}

export interface ApiKeyAuthenticatorOptions {
  /** Looks a key up (the store compares SHA-256 digests; it never holds keys); null when unknown. */
  lookup(key: string): Promise<StoredApiKey | null>;
  /** How long a lookup is trusted; a revoked key stops working within this, ms. Default 30 s. */
  ttlMs?: number;
  /** How long an unknown key is remembered as unknown, ms. Default 5 s. */
  negativeTtlMs?: number;
  /** While the database is unreachable, a known key keeps working this long past its TTL, ms. Default 10 min. */
  staleMs?: number;
  /** Most keys kept in memory. Default 50,000. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  key: StoredApiKey | null;
  fetchedAt: number;
}

/**
 * Authenticates subrelay keys: a lookup by SHA-256 in the store, an in-process cache with a short TTL, and one database
 * read per key however many requests miss at once. When the database fails, a key seen recently keeps
 * working (stale) so an outage does not lock clients out.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, Entry>();
  private readonly lookups = new Group<StoredApiKey | null>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly staleMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: ApiKeyAuthenticatorOptions) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.staleMs = options.staleMs ?? 10 * 60_000;
    this.maxEntries = options.maxEntries ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  /** Resolves to the key's grant; rejects with a GatewayError (401) for a missing, unknown, revoked or expired key. */
  async authenticate(key: string | undefined): Promise<ApiKeyGrant> {
    if (!key) throw new GatewayError("authentication", "Missing API key.");
    const stored = await this.find(key);
    const now = this.now();
    if (!stored) throw new GatewayError("authentication", "Invalid API key.");
    if (stored.status !== "active") throw new GatewayError("authentication", "This API key has been revoked.");
    if (stored.expiresAt !== null && stored.expiresAt <= now) {
      throw new GatewayError("authentication", "This API key has expired.");
    }
    return { apiKeyId: stored.apiKeyId, groupId: stored.groupId, platform: stored.platform, mode: stored.mode };
  }

  /** Forgets every cached key (after an admin change in this process). */
  clear(): void {
    this.cache.clear();
  }

  // Cached by the key itself (the process holds it while serving the request anyway); the store only
  // ever sees it to hash it, and a cache hit costs no hashing at all.
  private async find(key: string): Promise<StoredApiKey | null> {
    const entry = this.cache.get(key);
    const now = this.now();
    if (entry && now - entry.fetchedAt < (entry.key ? this.ttlMs : this.negativeTtlMs)) return entry.key;
    try {
      const { value } = await this.lookups.do(key, () => this.options.lookup(key));
      this.remember(key, value);
      return value;
    } catch (error) {
      if (entry?.key && now - entry.fetchedAt < this.ttlMs + this.staleMs) return entry.key;
      throw new GatewayError("unavailable", "The key store is unavailable; try again shortly.", { cause: error });
    }
  }

  private remember(key: string, stored: StoredApiKey | null): void {
    this.cache.delete(key);
    this.cache.set(key, { key: stored, fetchedAt: this.now() });
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
