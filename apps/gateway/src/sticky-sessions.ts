import { createHash } from "node:crypto";
import type { Redis, Cluster } from "ioredis";
import { withTimeout, type WarnLimiter } from "@subrelay/runtime";

/** Session -> account bindings (TTL sliding on every use), so a conversation keeps hitting the account that holds its prompt cache. */
export interface StickySessions {
  /** The bound account id, or null (also when the store is unreachable: stickiness fails open). */
  get(sessionKey: string): Promise<string | null>;
  /** Binds (or re-binds) a session for the TTL. */
  set(sessionKey: string, accountId: string): Promise<void>;
  delete(sessionKey: string): Promise<void>;
}

export const STICKY_TTL_MS = 60 * 60_000;

/**
 * The store key of a client's session id (see `ClientDialect.sessionId`): hashed, so raw ids never reach
 * the store, and prefixed by `scope`, so one id used by two groups (or two dialects) binds separately.
 */
export function sessionKeyOf(scope: string, sessionId: string): string {
  return `${scope}:${createHash("sha256").update(sessionId).digest("hex").slice(0, 32)}`;
}

/** In-process bindings, bounded; the oldest go first when full. */
export class MemoryStickySessions implements StickySessions {
  private readonly entries = new Map<string, { accountId: string; expiresAt: number }>();
  constructor(
    private readonly options: { now?: () => number; ttlMs?: number; maxEntries?: number } = {},
  ) {}

  get(sessionKey: string): Promise<string | null> {
    const entry = this.entries.get(sessionKey);
    const now = (this.options.now ?? Date.now)();
    if (!entry || entry.expiresAt <= now) {
      if (entry) this.entries.delete(sessionKey);
      return Promise.resolve(null);
    }
    entry.expiresAt = now + (this.options.ttlMs ?? STICKY_TTL_MS);
    return Promise.resolve(entry.accountId);
  }

  set(sessionKey: string, accountId: string): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    this.entries.delete(sessionKey);
    this.entries.set(sessionKey, { accountId, expiresAt: now + (this.options.ttlMs ?? STICKY_TTL_MS) });
    const max = this.options.maxEntries ?? 100_000;
    if (this.entries.size > max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return Promise.resolve();
  }

  delete(sessionKey: string): Promise<void> {
    this.entries.delete(sessionKey);
    return Promise.resolve();
  }
}

/** Bindings in Redis, shared by every replica; each call is bounded and fails open. */
export class RedisStickySessions implements StickySessions {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly options: { prefix?: string; ttlMs?: number; commandTimeoutMs?: number; warn: WarnLimiter },
  ) {}

  private key(sessionKey: string): string {
    return `${this.options.prefix ?? "subrelay:"}sticky:${sessionKey}`;
  }

  async get(sessionKey: string): Promise<string | null> {
    try {
      // GETEX slides the TTL in the same round trip as the read.
      return await withTimeout(
        this.redis.getex(this.key(sessionKey), "PX", this.options.ttlMs ?? STICKY_TTL_MS),
        this.options.commandTimeoutMs ?? 250,
      );
    } catch (error) {
      this.options.warn("sticky sessions unavailable; choosing without them", error);
      return null;
    }
  }

  async set(sessionKey: string, accountId: string): Promise<void> {
    try {
      await withTimeout(
        this.redis.set(this.key(sessionKey), accountId, "PX", this.options.ttlMs ?? STICKY_TTL_MS),
        this.options.commandTimeoutMs ?? 250,
      );
    } catch (error) {
      this.options.warn("sticky sessions unavailable; choosing without them", error);
    }
  }

  async delete(sessionKey: string): Promise<void> {
    try {
      await withTimeout(this.redis.del(this.key(sessionKey)), this.options.commandTimeoutMs ?? 250);
    } catch (error) {
      this.options.warn("sticky sessions unavailable; choosing without them", error);
    }
  }
}
