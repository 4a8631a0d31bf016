import { Cluster } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { randomPrefix } from "../test/redis-server";
import { RedisTokenStore } from "./redis-token-store";
import { TokenManager } from "./token-manager";
import { FakeAccounts, FakeRefresher } from "../test/fixtures";

const nodes = process.env.REDIS_CLUSTER_NODES;

function cluster(): Cluster {
  const startupNodes = (nodes ?? "").split(",").map((node) => {
    const [host, port] = node.split(":");
    return { host: host!, port: Number(port) };
  });
  const client = new Cluster(startupNodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  client.on("error", () => undefined);
  return client;
}

describe("RedisTokenStore on Redis Cluster", () => {
  const opened: { client: Cluster; store: RedisTokenStore }[] = [];
  function open(prefix: string) {
    const client = cluster();
    const store = new RedisTokenStore(client, { prefix, commandTimeoutMs: 2_000 });
    opened.push({ client, store });
    return { client, store };
  }
  afterEach(async () => {
    for (const { client, store } of opened.splice(0)) {
      await store.close();
      client.disconnect();
    }
  });

  it.skipIf(!nodes)("runs every script: set-if-newer, invalidate, lock acquire/extend/release, announce/wait", async () => {
    const prefix = randomPrefix();
    const { client, store } = open(prefix);
    const { store: peer } = open(prefix);
    const keys = ["claude:account:1", "openai:account:2", "gemini:account:3", "claude:account:4"];

    const slots = new Set<number>();
    for (const key of keys) {
      const tokenSlot = (await client.cluster("KEYSLOT", store.keys.token(key)));
      expect(await client.cluster("KEYSLOT", store.keys.lock(key))).toBe(tokenSlot);
      slots.add(tokenSlot);
    }
    expect(slots.size).toBeGreaterThan(1);

    for (const key of keys) {
      expect(await store.setTokenIfNewer(key, { accessToken: `at-${key}`, expiresAt: 9e12, tokenVersion: 5 }, 60_000)).toBe("written");
      expect(await peer.setTokenIfNewer(key, { accessToken: "older", tokenVersion: 4 }, 60_000)).toBe("stale");
      expect(await peer.getToken(key)).toEqual({ state: "hit", token: { accessToken: `at-${key}`, expiresAt: 9e12, tokenVersion: 5 } });
      await peer.invalidateToken(key, 1, 60_000);
      expect(await store.getToken(key)).toMatchObject({ state: "hit", token: { tokenVersion: 5 } });
      await peer.invalidateToken(key, 5, 60_000);
      expect(await store.getToken(key)).toEqual({ state: "invalidated", tokenVersion: 5 });
      expect(await store.setTokenIfNewer(key, { accessToken: "same", tokenVersion: 5 }, 60_000)).toBe("invalidated");

      expect(await store.acquireLock(key, "owner-a", 10_000)).toBe(true);
      expect(await peer.acquireLock(key, "owner-b", 10_000)).toBe(false);
      expect(await peer.extendLock(key, "owner-b", 10_000)).toBe(false);
      expect(await store.extendLock(key, "owner-a", 10_000)).toBe(true);
      const wait = peer.waitForRefresh(key, 10_000);
      expect(await peer.waitForRefresh(`${key}:barrier`, 10_000)).toBe("unlocked");
      expect(await peer.releaseLock(key, "owner-b")).toBe(false);
      // Announced even by a non-owner release; the owner's release deletes the lock.
      expect(await wait).toBe("announced");
      expect(await store.releaseLock(key, "owner-a")).toBe(true);
      expect(await peer.waitForRefresh(key, 10_000)).toBe("unlocked");
    }
    for (const key of keys) await client.del(store.keys.token(key), store.keys.lock(key));
  });

  it.skipIf(!nodes)("serves TokenManager end to end", async () => {
    const prefix = randomPrefix();
    const { client, store } = open(prefix);
    const account = { id: "c1", platform: "claude", credentials: { accessToken: "old", refreshToken: "rt", expiresAt: Date.now() - 1 } };
    const refresher = new FakeRefresher(() => ({ accessToken: "new", expiresAt: Date.now() + 3_600_000 }));
    const tokens = new TokenManager({ accounts: new FakeAccounts(account), refreshers: { claude: refresher }, store });
    const answers = await Promise.all(Array.from({ length: 20 }, () => tokens.getAccessToken(account)));
    expect(new Set(answers)).toEqual(new Set(["new"]));
    expect(refresher.calls).toHaveLength(1);
    await client.del(store.keys.token("claude:account:c1"));
  });
});
