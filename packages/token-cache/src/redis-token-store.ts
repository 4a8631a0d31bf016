import type { Cluster, Redis } from "ioredis";
import acquireLockScript from "./lua/acquire-lock-1.lua";
import extendLockScript from "./lua/extend-lock-1.lua";
import invalidateTokenScript from "./lua/invalidate-token-1.lua";
import releaseLockScript from "./lua/release-lock-1.lua";
import setTokenIfNewerScript from "./lua/set-token-if-newer-1.lua";
import { RefreshWaiters } from "./refresh-waiters";
import { TokenCipher } from "./token-cipher";
import { TokenKeys } from "./token-keys";
import type { CachedToken, SetTokenResult, TokenLookup, TokenStore, WaitForRefreshResult } from "./token-store";
import { TokenStoreError } from "./token-store-error";

export interface RedisTokenStoreOptions {
  /** Prepended to every key and to the pub/sub channel. Default `"subrelay:token:"`. */
  prefix?: string;
  /**
   * Longest wait for any one Redis command, in milliseconds; past it the call rejects with a
   * `TokenStoreError` (code `"timeout"`) and TokenManager carries on without Redis. Default 1_000.
   * While the client is reconnecting, commands fail at once (code `"unavailable"`) instead of queueing.
   */
  commandTimeoutMs?: number;
  /**
   * 32-byte key: cached access tokens are stored AES-256-GCM encrypted (random IV, the Redis key as
   * associated data), so a Redis dump or `MONITOR` shows no usable token. Without it they are stored as
   * JSON in plain text. Refresh tokens are never cached either way. Every process sharing the prefix must
   * use the same key; entries that fail to decrypt are treated as a miss.
   */
  encryptionKey?: Uint8Array;
}

/** Lua commands, registered once per connection under versioned names. */
const scripts = {
  setTokenIfNewer: { name: "subrelayTokenSetIfNewerV1", lua: setTokenIfNewerScript },
  invalidateToken: { name: "subrelayTokenInvalidateV2", lua: invalidateTokenScript },
  acquireLock: { name: "subrelayTokenAcquireLockV1", lua: acquireLockScript },
  extendLock: { name: "subrelayTokenExtendLockV1", lua: extendLockScript },
  releaseLock: { name: "subrelayTokenReleaseLockV1", lua: releaseLockScript },
} as const;
type ScriptName = keyof typeof scripts;
type ScriptCommands = Record<string, (key: string, ...args: (string | number)[]) => Promise<unknown>>;

/** Client states in which a command would only sit in ioredis's offline queue. */
const disconnectedStatuses = new Set(["reconnecting", "close", "end", "disconnecting"]);

const setTokenResults: Record<number, SetTokenResult> = { 1: "written", 0: "stale", [-1]: "invalidated" };

/**
 * TokenStore on Redis (standalone or Cluster), shared by every gateway replica and the refresh worker.
 * Uses the given client for commands and makes one subscriber connection with `redis.duplicate()` on the
 * first wait, fanned out in-process to every waiter; {@link close} releases it (the given client is the
 * caller's to close). Every command is bounded by `commandTimeoutMs`.
 */
export class RedisTokenStore implements TokenStore {
  readonly #redis: Redis | Cluster;
  readonly #keys: TokenKeys;
  readonly #commandTimeoutMs: number;
  readonly #cipher: TokenCipher | undefined;
  readonly #waiters = new RefreshWaiters();
  #subscriber: Redis | Cluster | undefined;
  #subscribed: Promise<unknown> | undefined;
  #closed = false;

  constructor(redis: Redis | Cluster, options: RedisTokenStoreOptions = {}) {
    this.#redis = redis;
    this.#keys = new TokenKeys(options.prefix);
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
    this.#cipher = options.encryptionKey === undefined ? undefined : new TokenCipher(options.encryptionKey);
    const commands = redis as unknown as ScriptCommands;
    for (const script of Object.values(scripts)) {
      if (typeof commands[script.name] !== "function") {
        redis.defineCommand(script.name, { numberOfKeys: 1, lua: script.lua });
      }
    }
  }

  /** The key builder in use (for tests and tooling that inspect Redis). */
  get keys(): TokenKeys {
    return this.#keys;
  }

  async getToken(key: string): Promise<TokenLookup> {
    const redisKey = this.#keys.token(key);
    const [version, payload, invalidated] = await this.#run("getToken", () =>
      this.#redis.hmget(redisKey, "v", "d", "i"),
    );
    if (version === null || version === undefined) return { state: "miss" };
    const tokenVersion = Number(version);
    if (invalidated === "1") return { state: "invalidated", tokenVersion };
    if (payload === null || payload === undefined) return { state: "miss" };
    return { state: "hit", token: { ...this.#decode(payload, redisKey), tokenVersion } };
  }

  async setTokenIfNewer(key: string, token: CachedToken, ttlMs: number): Promise<SetTokenResult> {
    const redisKey = this.#keys.token(key);
    const payload = this.#encode(token, redisKey);
    const code = await this.#script("setTokenIfNewer", redisKey, String(token.tokenVersion), payload, ttl(ttlMs));
    const result = setTokenResults[Number(code)];
    if (result === undefined) throw new TokenStoreError("unexpected script result", { code: "unavailable", operation: "setTokenIfNewer" });
    return result;
  }

  async invalidateToken(key: string, tokenVersion: number, ttlMs: number): Promise<void> {
    await this.#script("invalidateToken", this.#keys.token(key), String(tokenVersion), ttl(ttlMs));
  }

  async acquireLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    // A script, not SET NX: re-sent after a reconnect, it still answers "acquired" to the owner.
    return Number(await this.#script("acquireLock", this.#keys.lock(key), owner, ttl(ttlMs))) === 1;
  }

  async extendLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return Number(await this.#script("extendLock", this.#keys.lock(key), owner, ttl(ttlMs))) === 1;
  }

  async releaseLock(key: string, owner: string): Promise<boolean> {
    const code = await this.#script("releaseLock", this.#keys.lock(key), owner, this.#keys.refreshedChannel, key);
    return Number(code) === 1;
  }

  waitForRefresh(key: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitForRefreshResult> {
    return this.#waiters.wait(
      key,
      timeoutMs,
      signal,
      async () => (await this.#run("waitForRefresh", () => this.#redis.exists(this.#keys.lock(key)))) === 1,
      () => this.#subscribe(),
    );
  }

  /** Closes the subscriber connection. Pending waits end by their timeout; the given client stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscribed = undefined;
    if (subscriber === undefined) return;
    try {
      await withTimeout(subscriber.quit(), this.#commandTimeoutMs, "close");
    } catch {
      subscriber.disconnect();
    }
  }

  async #subscribe(): Promise<void> {
    if (this.#closed) throw new TokenStoreError("store is closed", { code: "unavailable", operation: "waitForRefresh" });
    if (this.#subscribed === undefined) {
      const subscriber = (this.#subscriber ??= this.#duplicate());
      // The duplicate inherits the client's options; with `enableOfflineQueue: false` (fail fast while Redis
      // is down) a SUBSCRIBE sent before the new connection is up fails, so wait for it to be ready first.
      const subscribed = whenReady(subscriber).then(() => subscriber.subscribe(this.#keys.refreshedChannel));
      this.#subscribed = subscribed;
      subscribed.catch(() => {
        if (this.#subscribed === subscribed) this.#subscribed = undefined;
      });
    }
    await withTimeout(this.#subscribed, this.#commandTimeoutMs, "waitForRefresh");
  }

  #duplicate(): Redis | Cluster {
    const subscriber = this.#redis.duplicate();
    // Connection errors surface as command timeouts; an unhandled 'error' event would only print noise.
    subscriber.on("error", () => undefined);
    subscriber.on("message", (channel: string, message: string) => {
      if (channel === this.#keys.refreshedChannel) this.#waiters.notify(message);
    });
    return subscriber;
  }

  #script(name: ScriptName, key: string, ...args: (string | number)[]): Promise<unknown> {
    const command = (this.#redis as unknown as ScriptCommands)[scripts[name].name];
    if (command === undefined) throw new TokenStoreError("script not registered", { code: "unavailable", operation: name });
    return this.#run(name, () => command.call(this.#redis, key, ...args));
  }

  #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (disconnectedStatuses.has(this.#redis.status)) {
      return Promise.reject(new TokenStoreError("Redis is disconnected", { code: "unavailable", operation }));
    }
    return withTimeout(command(), this.#commandTimeoutMs, operation);
  }

  #encode(token: CachedToken, redisKey: string): string {
    const json = JSON.stringify(token.expiresAt === undefined ? { a: token.accessToken } : { a: token.accessToken, e: token.expiresAt });
    return this.#cipher === undefined ? json : this.#cipher.encrypt(json, redisKey);
  }

  #decode(payload: string, redisKey: string): Omit<CachedToken, "tokenVersion"> {
    try {
      const json = this.#cipher === undefined ? payload : this.#cipher.decrypt(payload, redisKey);
      const value = JSON.parse(json) as { a?: unknown; e?: unknown };
      if (typeof value.a !== "string") throw new Error("cached payload has no access token");
      return typeof value.e === "number" ? { accessToken: value.a, expiresAt: value.e } : { accessToken: value.a };
    } catch (error) {
      // The cause is dropped on purpose: a parse error could quote the payload.
      throw new TokenStoreError(`cached token could not be read (${error instanceof Error ? error.name : "error"})`, {
        code: "corrupt_entry",
        operation: "getToken",
      });
    }
  }
}

function ttl(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

function withTimeout<T>(pending: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new TokenStoreError(`Redis did not answer within ${timeoutMs} ms`, { code: "timeout", operation })),
      timeoutMs,
    );
  });
  const settled = pending.catch((error: unknown) => {
    throw TokenStoreError.isInstance(error)
      ? error
      : new TokenStoreError("Redis command failed", { code: "unavailable", operation, cause: error });
  });
  return Promise.race([settled, timedOut]).finally(() => clearTimeout(timer));
}

/** Resolves once `connection` is ready (connecting it if lazy); rejects on its next error (a later wait retries). */
function whenReady(connection: Redis | Cluster): Promise<void> {
  if (connection.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      connection.off("error", onError);
      resolve();
    };
    const onError = (error: unknown) => {
      connection.off("ready", onReady);
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    connection.once("ready", onReady);
    connection.once("error", onError);
    // A duplicate of a `lazyConnect` client waits for a command that, offline-queue-less, it cannot queue.
    if (connection.status === "wait") connection.connect().catch(onError);
  });
}
