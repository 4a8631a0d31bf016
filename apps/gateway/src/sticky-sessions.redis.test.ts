import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { describeStickySessionsContract } from "./sticky-sessions.contract";
import { RedisStickySessions, sessionKeyOf } from "./sticky-sessions";

const redisUrl = () => {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: run the tests through scripts/test-env.mjs");
  return url;
};
const prefix = () => `test-sticky-${randomBytes(4).toString("hex")}:`;
const warnings: string[] = [];
const warn = (message: string) => void warnings.push(message);
const clients: Array<Redis | Cluster> = [];
/** A call that failed open (timed out, Redis refused) would look like a binding lost: it fails the test instead. */
const failOnWarning = (message: string, error?: unknown) => {
  throw new Error(`${message}: ${String(error)}`);
};

function client(): Redis {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  clients.push(redis);
  return redis;
}

/** Every key under `keyPrefix`, and how many entries each holds (fields of a hash or sorted set, 1 for a string). */
async function stored(redis: Redis, keyPrefix: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `*${keyPrefix}*`, "COUNT", 1_000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      sizes.set(key, type === "hash" ? await redis.hlen(key) : type === "zset" ? await redis.zcard(key) : 1);
    }
  } while (cursor !== "0");
  return sizes;
}

/** Counts the commands a client sends (script calls included, each one round trip). */
function counted(redis: Redis | Cluster): () => number {
  let sent = 0;
  const send = redis.sendCommand.bind(redis) as (...args: unknown[]) => unknown;
  (redis as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (...args: unknown[]) => {
    sent += 1;
    return send(...args);
  };
  return () => sent;
}

afterAll(() => {
  for (const redis of clients) redis.disconnect();
});

describeStickySessionsContract("RedisStickySessions", async ({ maxPerGroup, ttlMs, now }) => {
  const redis = client();
  const keyPrefix = prefix();
  return {
    // Thousands of calls at once on a loaded machine: a call that failed open would read as a lost binding.
    sticky: new RedisStickySessions(redis, { prefix: keyPrefix, maxPerGroup, ttlMs, now, commandTimeoutMs: 30_000, warn: failOnWarning }),
    cleanup: async () => {
      const keys = [...(await stored(redis, keyPrefix)).keys()];
      if (keys.length > 0) await redis.del(...keys);
    },
  };
});

describe("RedisStickySessions in Redis", () => {
  it("5,000 more session ids than the cap keep one group at the cap, in a bounded number of keys", async () => {
    const redis = client();
    const keyPrefix = prefix();
    const cap = 1_000;
    const sticky = new RedisStickySessions(redis, { prefix: keyPrefix, maxPerGroup: cap, commandTimeoutMs: 30_000, warn: failOnWarning });
    for (let start = 0; start < 5_000 + cap; start += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, offset) =>
          sticky.set(sessionKeyOf("1", "claude:anthropic", `session-${start + offset}`), "7"),
        ),
      );
    }
    const sizes = await stored(redis, keyPrefix);
    expect(sizes.size).toBeLessThanOrEqual(2);
    for (const size of sizes.values()) expect(size).toBe(cap);
    // Every key has a TTL: an idle group goes away by itself.
    for (const key of sizes.keys()) expect(await redis.pttl(key)).toBeGreaterThan(0);
    await redis.del(...sizes.keys());
  });

  it("sends one Redis command per get, set and delete, as before the cap", async () => {
    const redis = client();
    const sticky = new RedisStickySessions(redis, { prefix: prefix(), maxPerGroup: 10, warn });
    const key = sessionKeyOf("1", "claude:anthropic", "one-command");
    await sticky.set(key, "warm-up"); // the script's first run may add a SCRIPT LOAD / EVAL fallback
    const sent = counted(redis);
    await sticky.get(key);
    await sticky.set(key, "8");
    await sticky.delete(key);
    expect(sent()).toBe(3);
  });

  it("keeps a group's keys in one hash slot, so it runs on Redis Cluster", async () => {
    const nodes = (process.env.REDIS_CLUSTER_NODES ?? "").split(",").filter(Boolean);
    if (nodes.length === 0) throw new Error("REDIS_CLUSTER_NODES is not set: run the tests through scripts/test-env.mjs");
    const cluster = new Cluster(
      nodes.map((node) => ({ host: node.split(":")[0]!, port: Number(node.split(":")[1]) })),
      { enableOfflineQueue: true },
    );
    clients.push(cluster);
    // A clock that moves on every read: bindings made one after the other are older and newer, never tied.
    let clock = Date.UTC(2030, 0, 1);
    const sticky = new RedisStickySessions(cluster, { prefix: prefix(), maxPerGroup: 2, commandTimeoutMs: 30_000, now: () => (clock += 1), warn: failOnWarning });
    for (const group of ["1", "2", "3", "4"]) {
      for (const session of ["a", "b", "c"]) await sticky.set(sessionKeyOf(group, "claude:anthropic", session), `${group}${session}`);
      expect(await sticky.get(sessionKeyOf(group, "claude:anthropic", "a"))).toBeNull();
      expect(await sticky.get(sessionKeyOf(group, "claude:anthropic", "c"))).toBe(`${group}c`);
      await sticky.delete(sessionKeyOf(group, "claude:anthropic", "c"));
      expect(await sticky.get(sessionKeyOf(group, "claude:anthropic", "c"))).toBeNull();
    }
  });
});
