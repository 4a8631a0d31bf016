import { hashApiKey, isApiKeyShaped, type ApiKeyLimits } from "@subrelay/db";
import { Group } from "@subrelay/singleflight";
import type { SchedulerMode } from "@subrelay/scheduler-cache";
import { GatewayError } from "./gateway-error";

/** What a valid subrelay key grants. */
export interface ApiKeyGrant {
  apiKeyId: string;
  groupId: number;
  platform: string;
  mode: SchedulerMode;
  /** The group's default model, for requests that name none the group serves; absent: none. */
  defaultModel?: string;
  /** The key's name, for the key holder's own `/v1/usage`; absent in grants built by hand. */
  name?: string;
  /** The key's limits (`limits` of the admin API), cached with the grant; absent: none. */
  limits?: ApiKeyLimits;
}

/** A stored key as the database returns it, looked up by the SHA-256 hex of the key. */
export interface StoredApiKey extends ApiKeyGrant {
  status: "active" | "revoked";
  expiresAt: number | null;
}

export interface ApiKeyAuthenticatorOptions {
  /** Looks a key up by its SHA-256 hex (`hashApiKey`; the store never holds keys); null when unknown. */
  lookup(keyHash: string): Promise<StoredApiKey | null>;
  /** How long a lookup is trusted; a revoked key stops working within this, ms. Default 30 s. */
  ttlMs?: number;
  /** How long an unknown key is remembered as unknown, ms. Default 5 s. */
  negativeTtlMs?: number;
  /** While the database is unreachable, a known key keeps working this long past its TTL, ms. Default 10 min. */
  staleMs?: number;
  /** Most known keys (found in the store, revoked and expired included) kept in memory. Default 50,000. */
  maxEntries?: number;
  /** Most unknown keys remembered as unknown, apart from the known ones so they cannot push those out. Default 1,000. */
  maxNegativeEntries?: number;
  now?: () => number;
  /** Called with each grant handed out, i.e. each use of a valid key (in memory only: batch any write). */
  onAuthenticated?(grant: ApiKeyGrant, at: number): void;
}

interface Entry {
  key: StoredApiKey;
  fetchedAt: number;
}

/**
 * Authenticates subrelay keys: a lookup by SHA-256 in the store, an in-process cache with a short TTL, and one database
 * read per key however many requests miss at once. When the database fails, a key seen recently keeps
 * working (stale) so an outage does not lock clients out.
 *
 * A presented string not shaped like a subrelay key is refused before anything else (no hash, no cache entry, no
 * lookup), so its size costs nothing. Caches are keyed by the SHA-256 hex, never the key; keys the store does not
 * know go to a small cache of their own, so a flood of made-up keys cannot push real ones out.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, Entry>();
  private readonly unknown = new Map<string, number>();
  private readonly lookups = new Group<StoredApiKey | null>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly staleMs: number;
  private readonly maxEntries: number;
  private readonly maxNegativeEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: ApiKeyAuthenticatorOptions) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 5_000;
    this.staleMs = options.staleMs ?? 10 * 60_000;
    this.maxEntries = options.maxEntries ?? 50_000;
    this.maxNegativeEntries = options.maxNegativeEntries ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  /** Resolves to the key's grant; rejects with a GatewayError (401) for a missing, unknown, revoked or expired key. */
  async authenticate(key: string | undefined): Promise<ApiKeyGrant> {
    if (!key) throw new GatewayError("authentication", "Missing API key.");
    if (!isApiKeyShaped(key)) throw new GatewayError("authentication", "Invalid API key.");
    const stored = await this.find(hashApiKey(key));
    const now = this.now();
    if (!stored) throw new GatewayError("authentication", "Invalid API key.");
    if (stored.status !== "active") throw new GatewayError("authentication", "This API key has been revoked.");
    if (stored.expiresAt !== null && stored.expiresAt <= now) {
      throw new GatewayError("authentication", "This API key has expired.");
    }
    const grant: ApiKeyGrant = { apiKeyId: stored.apiKeyId, groupId: stored.groupId, platform: stored.platform, mode: stored.mode };
    if (stored.defaultModel) grant.defaultModel = stored.defaultModel;
    if (stored.name !== undefined) grant.name = stored.name;
    if (stored.limits) grant.limits = stored.limits;
    this.options.onAuthenticated?.(grant, now);
    return grant;
  }

  /** Forgets every cached key (after an admin change in this process). */
  clear(): void {
    this.cache.clear();
    this.unknown.clear();
  }

  private async find(keyHash: string): Promise<StoredApiKey | null> {
    const now = this.now();
    const entry = this.cache.get(keyHash);
    if (entry && now - entry.fetchedAt < this.ttlMs) return entry.key;
    const unknownAt = this.unknown.get(keyHash);
    if (unknownAt !== undefined && now - unknownAt < this.negativeTtlMs) return null;
    try {
      const { value } = await this.lookups.do(keyHash, () => this.options.lookup(keyHash));
      this.remember(keyHash, value);
      return value;
    } catch (error) {
      if (entry && now - entry.fetchedAt < this.ttlMs + this.staleMs) return entry.key;
      throw new GatewayError("unavailable", "The key store is unavailable; try again shortly.", { cause: error });
    }
  }

  private remember(keyHash: string, stored: StoredApiKey | null): void {
    if (stored) {
      this.unknown.delete(keyHash);
      setBounded(this.cache, keyHash, { key: stored, fetchedAt: this.now() }, this.maxEntries);
    } else {
      this.cache.delete(keyHash);
      setBounded(this.unknown, keyHash, this.now(), this.maxNegativeEntries);
    }
  }
}

/** Sets `key` as the newest entry of `map`, dropping the oldest past `max`. */
function setBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}
