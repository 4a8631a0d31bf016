import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { deletePrefix, randomPrefix, startRedisServer, testRedis, type OwnRedisServer } from "../test/redis-server";
import { describeTokenStoreContract } from "../test/token-store-contract";
import { RedisTokenStore } from "./redis-token-store";
import { TokenStoreError } from "./token-store-error";

describeTokenStoreContract("RedisTokenStore", async () => {
  const prefix = randomPrefix();
  const first = testRedis();
  const second = testRedis();
  const store = new RedisTokenStore(first, { prefix });
  const peer = new RedisTokenStore(second, { prefix });
  return {
    store,
    peer,
    async cleanup() {
      await store.close();
      await peer.close();
      await deletePrefix(first, prefix);
      first.disconnect();
      second.disconnect();
    },
  };
});

describe("RedisTokenStore on Redis", () => {
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];
  const servers: OwnRedisServer[] = [];
  const prefixes: string[] = [];

  function setup(options: ConstructorParameters<typeof RedisTokenStore>[1] = {}, url?: string) {
    const prefix = randomPrefix();
    const redis = testRedis(url);
    const store = new RedisTokenStore(redis, { prefix, ...options });
    clients.push(redis);
    stores.push(store);
    prefixes.push(prefix);
    return { redis, store, prefix };
  }

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    const cleaner = testRedis();
    for (const prefix of prefixes.splice(0)) await deletePrefix(cleaner, prefix);
    cleaner.disconnect();
    for (const client of clients.splice(0)) client.disconnect();
    for (const server of servers.splice(0)) server.stop();
  });

  it("builds every key from the prefix, with the cache key as hash tag, and sets TTLs in milliseconds", async () => {
    const { redis, store, prefix } = setup();
    await store.setTokenIfNewer("claude:account:7", { accessToken: "at", tokenVersion: 1 }, 60_000);
    await store.acquireLock("claude:account:7", "owner", 30_000);
    const keys = (await redis.keys(`${prefix}*`)).sort();
    expect(keys).toEqual([`${prefix}{claude:account:7}:lock`, `${prefix}{claude:account:7}:token`]);
    expect(store.keys.token("claude:account:7")).toBe(keys[1]);
    const tokenTtl = await redis.pttl(`${prefix}{claude:account:7}:token`);
    const lockTtl = await redis.pttl(`${prefix}{claude:account:7}:lock`);
    expect(tokenTtl).toBeGreaterThan(50_000);
    expect(tokenTtl).toBeLessThanOrEqual(60_000);
    expect(lockTtl).toBeGreaterThan(20_000);
    expect(lockTtl).toBeLessThanOrEqual(30_000);
    await store.extendLock("claude:account:7", "owner", 90_000);
    expect(await redis.pttl(`${prefix}{claude:account:7}:lock`)).toBeGreaterThan(80_000);
  });

  it("stores only the access token, and with an encryption key not even that in readable form", async () => {
    const plain = setup();
    await plain.store.setTokenIfNewer("k", { accessToken: "secret-access-1", expiresAt: 5, tokenVersion: 2 }, 60_000);
    const plainHash = await plain.redis.hgetall(plain.store.keys.token("k"));
    expect(Object.keys(plainHash).sort()).toEqual(["d", "v"]);
    expect(plainHash.d).toContain("secret-access-1");

    const key = randomBytes(32);
    const sealed = setup({ encryptionKey: key });
    await sealed.store.setTokenIfNewer("k", { accessToken: "secret-access-2", expiresAt: 5, tokenVersion: 2 }, 60_000);
    const sealedHash = await sealed.redis.hgetall(sealed.store.keys.token("k"));
    expect(sealedHash.d).not.toContain("secret-access-2");
    expect(sealedHash.v).toBe("2");
    expect(await sealed.store.getToken("k")).toEqual({
      state: "hit",
      token: { accessToken: "secret-access-2", expiresAt: 5, tokenVersion: 2 },
    });

    // Same prefix, wrong key: a corrupt entry, reported without its content.
    const wrongKey = new RedisTokenStore(sealed.redis, { prefix: sealed.prefix, encryptionKey: randomBytes(32) });
    const error = await wrongKey.getToken("k").catch((caught: unknown) => caught);
    expect(TokenStoreError.isInstance(error) && error.code).toBe("corrupt_entry");
    expect(String((error as Error).message)).not.toContain("secret");
    expect(() => new RedisTokenStore(sealed.redis, { encryptionKey: new Uint8Array(16) })).toThrow(RangeError);
  });

  it("bounds every command by commandTimeoutMs when Redis stops answering", async () => {
    const server = await startRedisServer();
    servers.push(server);
    const { store } = setup({ commandTimeoutMs: 100 }, server.url);
    await store.setTokenIfNewer("k", { accessToken: "at", tokenVersion: 1 }, 60_000);
    server.process.kill("SIGSTOP");
    try {
      for (const call of [
        () => store.getToken("k"),
        () => store.setTokenIfNewer("k", { accessToken: "at", tokenVersion: 2 }, 1_000),
        () => store.acquireLock("k", "owner", 1_000),
        () => store.releaseLock("k", "owner"),
        () => store.waitForRefresh("k", 5_000),
      ]) {
        const error = await call().catch((caught: unknown) => caught);
        expect(TokenStoreError.isInstance(error) && error.code).toBe("timeout");
      }
    } finally {
      server.process.kill("SIGCONT");
    }
  });

  it("fails fast once the connection to Redis is lost", async () => {
    const server = await startRedisServer();
    servers.push(server);
    const { redis, store } = setup({ commandTimeoutMs: 5_000 }, server.url);
    await store.getToken("k");
    const closed = new Promise((resolve) => redis.once("close", resolve));
    server.process.kill("SIGKILL");
    await closed;
    const error = await store.getToken("k").catch((caught: unknown) => caught);
    expect(TokenStoreError.isInstance(error) && error.code).toBe("unavailable");
  });

  it("waits for another owner's refresh on a client that fails fast while offline (enableOfflineQueue: false)", async () => {
    // Production clients fail fast while Redis is down; the subscriber connection duplicates that setting,
    // so its first SUBSCRIBE must wait for the connection instead of failing (which would make every
    // waiting process refresh without the lock).
    const holder = setup();
    const prefix = holder.prefix;
    const redis = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, lazyConnect: true });
    await redis.connect();
    clients.push(redis);
    const waiter = new RedisTokenStore(redis, { prefix });
    stores.push(waiter);

    expect(await holder.store.acquireLock("claude:account:1", "other-owner", 30_000)).toBe(true);
    const waited = waiter.waitForRefresh("claude:account:1", 10_000);
    expect(await holder.store.releaseLock("claude:account:1", "other-owner")).toBe(true);
    await expect(waited).resolves.toMatch(/^(announced|unlocked)$/);
  });

  it("close() releases the subscriber connection it made", async () => {
    const { redis, store } = setup();
    await store.acquireLock("k", "owner", 10_000);
    const wait = store.waitForRefresh("k", 10_000);
    expect(await store.waitForRefresh("barrier", 10_000)).toBe("unlocked");
    await store.releaseLock("k", "owner");
    expect(await wait).toBe("announced");
    const name = (await redis.client("LIST")) as string;
    const subscribers = () => name.split("\n").filter((line) => line.includes("sub=1")).length;
    expect(subscribers()).toBeGreaterThanOrEqual(1);
    await store.close();
    const after = (await redis.client("LIST")) as string;
    const mine = (await redis.client("ID"));
    expect(after).toContain(`id=${mine} `);
    expect(after.split("\n").filter((line) => line.includes("sub=1")).length).toBe(subscribers() - 1);
  });
});
