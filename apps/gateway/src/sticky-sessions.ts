import { createHash } from "node:crypto";
import type { Redis, Cluster } from "ioredis";
import { withTimeout, type WarnLimiter } from "@subrelay/runtime";
import stickyDeleteScript from "./lua/sticky-delete-2.lua";
import stickyGetScript from "./lua/sticky-get-2.lua";
import stickySetScript from "./lua/sticky-set-2.lua";

/** Where a session's binding lives: its group (the cap on bindings applies per group) and its key there. */
export interface StickySessionKey {
  groupId: string;
  /** The hashed session id with its scope (see `sessionKeyOf`). */
  key: string;
}

/**
 * Session -> account bindings (TTL sliding on every use), so a conversation keeps hitting the account that
 * holds its prompt cache. Each group keeps at most `maxPerGroup` bindings: past it, the least recently used go.
 */
export interface StickySessions {
  /** The bound account id, or null (also when the store is unreachable: stickiness fails open). */
  get(session: StickySessionKey): Promise<string | null>;
  /** Binds (or re-binds) a session for the TTL. */
  set(session: StickySessionKey, accountId: string): Promise<void>;
  delete(session: StickySessionKey): Promise<void>;
}

export const STICKY_TTL_MS = 60 * 60_000;
/** Bindings kept per group by default (`STICKY_SESSIONS_MAX`). */
export const STICKY_SESSIONS_MAX = 10_000;

export interface StickySessionsOptions {
  /** How long a binding lasts after its last use, ms. Default one hour. */
  ttlMs?: number;
  /** Most bindings one group keeps; a new one past it pushes out the least recently used. Default 10,000. */
  maxPerGroup?: number;
  /** Epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * The store key of a client's session id (see `ClientDialect.sessionId`) in a group: hashed, so raw ids
 * never reach the store, and prefixed by `scope` (platform and dialect), so one id used by two dialects
 * binds separately.
 */
export function sessionKeyOf(groupId: string, scope: string, sessionId: string): StickySessionKey {
  return { groupId, key: `${scope}:${createHash("sha256").update(sessionId).digest("hex").slice(0, 32)}` };
}

/** In-process bindings, bounded per group; the least recently used go first when a group is full. */
export class MemoryStickySessions implements StickySessions {
  /** Per group, bindings in order of last use (a use moves one to the end). */
  private readonly groups = new Map<string, Map<string, { accountId: string; expiresAt: number }>>();
  private readonly ttlMs: number;
  private readonly maxPerGroup: number;
  private readonly now: () => number;

  constructor(options: StickySessionsOptions = {}) {
    this.ttlMs = options.ttlMs ?? STICKY_TTL_MS;
    this.maxPerGroup = options.maxPerGroup ?? STICKY_SESSIONS_MAX;
    this.now = options.now ?? Date.now;
  }

  get(session: StickySessionKey): Promise<string | null> {
    const entries = this.groups.get(session.groupId);
    const entry = entries?.get(session.key);
    const now = this.now();
    if (!entries || !entry) return Promise.resolve(null);
    entries.delete(session.key);
    if (entry.expiresAt <= now) {
      if (entries.size === 0) this.groups.delete(session.groupId);
      return Promise.resolve(null);
    }
    entry.expiresAt = now + this.ttlMs;
    entries.set(session.key, entry);
    return Promise.resolve(entry.accountId);
  }

  set(session: StickySessionKey, accountId: string): Promise<void> {
    const now = this.now();
    let entries = this.groups.get(session.groupId);
    if (!entries) {
      entries = new Map<string, { accountId: string; expiresAt: number }>();
      this.groups.set(session.groupId, entries);
    }
    entries.delete(session.key);
    entries.set(session.key, { accountId, expiresAt: now + this.ttlMs });
    // The least recently used come first: ended bindings, then whatever is past the cap.
    for (const [key, entry] of entries) {
      if (entry.expiresAt > now && entries.size <= this.maxPerGroup) break;
      entries.delete(key);
    }
    return Promise.resolve();
  }

  delete(session: StickySessionKey): Promise<void> {
    const entries = this.groups.get(session.groupId);
    entries?.delete(session.key);
    if (entries?.size === 0) this.groups.delete(session.groupId);
    return Promise.resolve();
  }
}

type StickyRedis = (Redis | Cluster) & {
  subrelayStickyGetV1(bindings: string, expiries: string, ...args: (string | number)[]): Promise<string | null>;
  subrelayStickySetV1(bindings: string, expiries: string, ...args: (string | number)[]): Promise<number>;
  subrelayStickyDeleteV1(bindings: string, expiries: string, ...args: (string | number)[]): Promise<number>;
};

export interface RedisStickySessionsOptions extends StickySessionsOptions {
  prefix?: string;
  /** Longest wait for Redis before failing open, ms. Default 250. */
  commandTimeoutMs?: number;
  warn: WarnLimiter;
}

/**
 * Bindings in Redis, shared by every replica; each call is one script call (one round trip, as the plain
 * GET/SET/DEL it replaces), bounded and failing open. A group's bindings are a hash (session -> account) and a
 * sorted set (session by when its binding ends) under one `{hash tag}`, so each script runs on Redis Cluster;
 * both keys expire a TTL after the group's last use. Binding times come from `now` (the gateways' clocks): a
 * skew of seconds between replicas moves an hour-long TTL by seconds.
 */
export class RedisStickySessions implements StickySessions {
  private readonly redis: StickyRedis;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly maxPerGroup: number;
  private readonly now: () => number;
  private readonly commandTimeoutMs: number;
  private readonly warn: WarnLimiter;

  constructor(redis: Redis | Cluster, options: RedisStickySessionsOptions) {
    redis.defineCommand("subrelayStickyGetV1", { numberOfKeys: 2, lua: stickyGetScript });
    redis.defineCommand("subrelayStickySetV1", { numberOfKeys: 2, lua: stickySetScript });
    redis.defineCommand("subrelayStickyDeleteV1", { numberOfKeys: 2, lua: stickyDeleteScript });
    this.redis = redis as StickyRedis;
    this.prefix = options.prefix ?? "subrelay:";
    this.ttlMs = options.ttlMs ?? STICKY_TTL_MS;
    this.maxPerGroup = options.maxPerGroup ?? STICKY_SESSIONS_MAX;
    this.now = options.now ?? Date.now;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 250;
    this.warn = options.warn;
  }

  /** A group's two keys; they share the `{<prefix>sticky:<groupId>}` hash tag. */
  keys(groupId: string): [bindings: string, expiries: string] {
    const tag = `{${this.prefix}sticky:${groupId}}`;
    return [`${tag}:bindings`, `${tag}:expiries`];
  }

  async get(session: StickySessionKey): Promise<string | null> {
    try {
      return await withTimeout(
        this.redis.subrelayStickyGetV1(...this.keys(session.groupId), session.key, this.now(), this.ttlMs),
        this.commandTimeoutMs,
      );
    } catch (error) {
      this.warn("sticky sessions unavailable; choosing without them", error);
      return null;
    }
  }

  async set(session: StickySessionKey, accountId: string): Promise<void> {
    try {
      await withTimeout(
        this.redis.subrelayStickySetV1(
          ...this.keys(session.groupId),
          session.key,
          accountId,
          this.now(),
          this.ttlMs,
          this.maxPerGroup,
        ),
        this.commandTimeoutMs,
      );
    } catch (error) {
      this.warn("sticky sessions unavailable; choosing without them", error);
    }
  }

  async delete(session: StickySessionKey): Promise<void> {
    try {
      await withTimeout(
        this.redis.subrelayStickyDeleteV1(...this.keys(session.groupId), session.key),
        this.commandTimeoutMs,
      );
    } catch (error) {
      this.warn("sticky sessions unavailable; choosing without them", error);
    }
  }
}
