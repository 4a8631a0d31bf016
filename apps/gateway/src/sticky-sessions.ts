import { createHash } from "node:crypto";
import type { Redis, Cluster } from "ioredis";
import type { IncomingHeaders } from "@subrelay/providers-core";
import { withTimeout, type WarnLimiter } from "./redis-support";

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
 * The session a request belongs to, if the client said: `x-session-id` / `session_id` /
 * `conversation_id` headers, Anthropic's `metadata.user_id`, OpenAI's `conversation` or
 * `prompt_cache_key`. Returned hashed and scoped to the bucket, so raw ids never reach the store.
 */
export function sessionKeyOf(
  scope: string,
  headers: IncomingHeaders,
  body: Record<string, unknown>,
): string | null {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const metadata = body.metadata as Record<string, unknown> | undefined;
  const conversation = body.conversation;
  const raw =
    header("x-session-id") ??
    header("session_id") ??
    header("conversation_id") ??
    (typeof metadata?.user_id === "string" ? metadata.user_id : undefined) ??
    (typeof conversation === "string" ? conversation : undefined) ??
    (typeof conversation === "object" && conversation !== null && typeof (conversation as { id?: unknown }).id === "string"
      ? (conversation as { id: string }).id
      : undefined) ??
    (typeof body.prompt_cache_key === "string" ? body.prompt_cache_key : undefined);
  if (!raw) return null;
  return `${scope}:${createHash("sha256").update(raw).digest("hex").slice(0, 32)}`;
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
