import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { describeConcurrencySlotsContract } from "./concurrency-slots.contract";
import { RedisConcurrencySlots } from "./concurrency-slots";
import { startLossyProxy, startRedisServer } from "../test/own-redis-server";

const redisUrl = () => {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: run the tests through scripts/test-env.mjs");
  return url;
};
const prefix = () => `test-slots-${randomBytes(4).toString("hex")}:`;
const warnings: string[] = [];
const warn = (message: string) => void warnings.push(message);
const clients: Array<Redis | Cluster> = [];

function client(url = redisUrl()): Redis {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
  clients.push(redis);
  return redis;
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

/** Makes a client's commands fail while `down` is set, as they do while Redis is unreachable. */
function breakable(redis: Redis): { down: boolean } {
  const state = { down: false };
  const send = redis.sendCommand.bind(redis) as (...args: unknown[]) => unknown;
  (redis as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (...args: unknown[]) => {
    if (state.down) {
      const command = args[0] as { reject(error: Error): void; promise: Promise<unknown> };
      command.reject(new Error("Connection is closed."));
      return command.promise;
    }
    return send(...args);
  };
  return state;
}

async function ready(redis: Redis | Cluster): Promise<void> {
  if (redis.status !== "ready") await new Promise<void>((resolve) => redis.once("ready", () => resolve()));
}

afterAll(() => {
  for (const redis of clients) redis.disconnect();
});

describeConcurrencySlotsContract("RedisConcurrencySlots", async () => {
  const shared = prefix();
  const first = client();
  const second = client();
  await Promise.all([ready(first), ready(second)]);
  return {
    slots: new RedisConcurrencySlots(first, { prefix: shared, warn }),
    peer: new RedisConcurrencySlots(second, { prefix: shared, warn }),
    cleanup: async () => {
      const keys = await first.keys(`{${shared}slots}:*`);
      if (keys.length > 0) await first.del(...keys);
    },
  };
}, { shared: true });

describe("RedisConcurrencySlots on Redis", () => {
  it("ends a lease by itself after its TTL on Redis's clock, so a crashed process cannot hold a slot", async () => {
    const redis = client();
    await ready(redis);
    const slots = new RedisConcurrencySlots(redis, { prefix: prefix(), warn, leaseTtlMs: 60_000 });
    const one = [{ id: "a", concurrency: 1, priority: 1 }];
    const redisNow = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    const before = await redisNow();
    expect(await slots.acquire(one, "crashed-holder")).not.toBeNull();
    const after = await redisNow();
    // The lease ends TTL after Redis's own time of the acquisition.
    const ends = Number(await redis.zscore(slots.key("a"), "crashed-holder"));
    expect(ends).toBeGreaterThanOrEqual(before + 60_000);
    expect(ends).toBeLessThanOrEqual(after + 60_000);
    expect(await slots.acquire(one, "too-early")).toBeNull();
    // 60 s pass on Redis's clock: the same as the lease having been taken 60 s ago.
    await redis.zincrby(slots.key("a"), -(ends - (await redisNow()) + 1), "crashed-holder");
    expect((await slots.acquire(one, "after-expiry"))?.accountId).toBe("a");
  });

  it("keeps leases on Redis's clock: a gateway whose clock is off by more than the TTL neither ends others' leases nor takes short ones", async () => {
    const shared = prefix();
    const [right, ahead, behind] = [client(), client(), client()];
    await Promise.all([ready(right), ready(ahead), ready(behind)]);
    const sixteenMinutes = 16 * 60_000;
    const onTime = new RedisConcurrencySlots(right, { prefix: shared, warn });
    const fast = new RedisConcurrencySlots(ahead, { prefix: shared, warn, now: () => Date.now() + sixteenMinutes });
    const slow = new RedisConcurrencySlots(behind, { prefix: shared, warn, now: () => Date.now() - sixteenMinutes });
    const one = [{ id: "a", concurrency: 1, priority: 1 }];
    const held = await onTime.acquire(one, "on-time");
    expect(held?.accountId).toBe("a");
    expect(await fast.acquire(one, "fast")).toBeNull();
    await held!.release();
    expect((await slow.acquire(one, "slow"))?.accountId).toBe("a");
    expect(await onTime.acquire(one, "on-time-2")).toBeNull();
    expect(await right.zrange(onTime.key("a"), 0, -1)).toEqual(["slow"]);
  });

  it("sends a release with the next acquisition: one command per request under load", async () => {
    const redis = client();
    await ready(redis);
    const sent = counted(redis);
    const slots = new RedisConcurrencySlots(redis, { prefix: prefix(), warn });
    const one = [{ id: "a", concurrency: 1, priority: 1 }];
    const before = sent();
    let lease = await slots.acquire(one, "lease-0");
    for (let round = 1; round <= 10; round++) {
      const released = lease!.release();
      expect(slots.pendingReleases).toBe(1);
      lease = await slots.acquire(one, `lease-${round}`);
      expect(lease?.accountId).toBe("a");
      await released;
    }
    expect(sent() - before).toBe(11);
    // With no acquisition to carry it, a release goes out on its own within the same turn.
    await lease!.release();
    expect(slots.pendingReleases).toBe(0);
    expect(sent() - before).toBe(12);
    expect((await slots.acquire(one, "after"))?.accountId).toBe("a");
  });

  it("gathers the releases of one event-loop turn into one command", async () => {
    const redis = client();
    await ready(redis);
    const slots = new RedisConcurrencySlots(redis, { prefix: prefix(), warn });
    const many = [{ id: "a", concurrency: 10, priority: 1 }];
    const leases = await Promise.all(Array.from({ length: 10 }, (_, index) => slots.acquire(many, `lease-${index}`)));
    const sent = counted(redis);
    await Promise.all(leases.map((lease) => lease!.release()));
    expect(sent()).toBe(1);
    expect(await redis.zcard(slots.key("a"))).toBe(0);
  });

  it("fails open when Redis is unreachable: the first candidate, and a release that resolves", async () => {
    // A port nothing listens on: the client never connects and, without an offline queue, fails fast.
    const { createServer } = await import("node:net");
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address() as { port: number };
        server.close(() => resolve(address.port));
      });
    });
    const down = new Redis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    clients.push(down);
    down.on("error", () => undefined);
    const before = warnings.length;
    const slots = new RedisConcurrencySlots(down, { prefix: prefix(), warn });
    const lease = await slots.acquire([{ id: "first", concurrency: 1, priority: 1 }, { id: "second", concurrency: 1, priority: 1 }], "x");
    expect(lease?.accountId).toBe("first");
    await lease!.release();
    expect(warnings.slice(before)).toContain("concurrency slots unavailable; failing open");
  });

  it("delivers a release that failed while Redis was away with the first acquisition after it is back", async () => {
    const redis = client();
    await ready(redis);
    const slots = new RedisConcurrencySlots(redis, { prefix: prefix(), warn });
    const one = [{ id: "a", concurrency: 1, priority: 1 }];
    const outage = breakable(redis);
    const lease = await slots.acquire(one, "held-during-blip");
    const before = warnings.length;
    outage.down = true;
    // Resolves (never rejects, never waits for Redis) although the release could not be sent.
    await lease!.release();
    expect(warnings.slice(before)).toContain("concurrency slot release failed; it will be retried with the next call");
    expect(slots.pendingReleases).toBe(1);
    outage.down = false;
    // The slot is free for this acquisition: the failed release rode on it.
    expect((await slots.acquire(one, "after-blip"))?.accountId).toBe("a");
    expect(slots.pendingReleases).toBe(0);
    expect(await redis.zrange(slots.key("a"), 0, -1)).toEqual(["after-blip"]);
  });

  it("drops a failed release once its lease would have expired anyway", async () => {
    const redis = client();
    await ready(redis);
    let now = 1_000_000;
    const slots = new RedisConcurrencySlots(redis, { prefix: prefix(), warn, leaseTtlMs: 60_000, now: () => now });
    const one = [{ id: "a", concurrency: 1, priority: 1 }];
    const outage = breakable(redis);
    const lease = await slots.acquire(one, "old");
    outage.down = true;
    await lease!.release();
    expect(slots.pendingReleases).toBe(1);
    outage.down = false;
    // 60 s pass, on this process's clock and on Redis's (where the lease has ended by itself).
    now += 60_000;
    await redis.zincrby(slots.key("a"), -60_000, "old");
    const sent = counted(redis);
    // The lease has expired by itself; the acquisition neither needs nor carries its release.
    expect((await slots.acquire(one, "new"))?.accountId).toBe("a");
    expect(slots.pendingReleases).toBe(0);
    expect(sent()).toBe(1);
  });

  it("undoes an acquisition that timed out once Redis gets to it (CLIENT PAUSE): the account is not left busy", async () => {
    // A server of the test's own: pausing the shared one would stall every other test file's commands.
    const server = await startRedisServer();
    try {
      const redis = client(server.url);
      const pauser = client(server.url);
      const other = client(server.url);
      await Promise.all([ready(redis), ready(pauser), ready(other)]);
      const shared = prefix();
      const slots = new RedisConcurrencySlots(redis, { prefix: shared, warn, commandTimeoutMs: 250 });
      const peer = new RedisConcurrencySlots(other, { prefix: shared, warn });
      const one = [{ id: "a", concurrency: 1, priority: 1 }];
      const two = [{ id: "a", concurrency: 1, priority: 1 }, { id: "b", concurrency: 1, priority: 1 }];
      // Loads the script, so what is paused below is the script call itself.
      await (await slots.acquire(one, "warm-up"))!.release();
      const before = warnings.length;
      await pauser.client("PAUSE", 600);
      const lease = await slots.acquire(two, "timed-out");
      expect(lease?.accountId).toBe("a");
      expect(warnings.slice(before)).toContain("concurrency slots unavailable; failing open");
      await lease!.release();
      // Answered only after Redis has resumed and run everything this connection sent before it.
      await redis.ping();
      expect(await other.zcard(slots.key("a"))).toBe(0);
      expect(await other.zcard(slots.key("b"))).toBe(0);
      expect((await peer.acquire(one, "after-pause"))?.accountId).toBe("a");
      for (const connection of [redis, pauser, other]) connection.disconnect();
    } finally {
      server.stop();
    }
  });

  it("takes one slot when ioredis re-sends an acquisition whose answer was lost (a reconnect)", async () => {
    const server = await startRedisServer();
    const proxy = await startLossyProxy(server.port);
    try {
      const redis = new Redis(proxy.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 10 });
      clients.push(redis);
      redis.on("error", () => undefined);
      const direct = client(server.url);
      await Promise.all([ready(redis), ready(direct)]);
      const slots = new RedisConcurrencySlots(redis, { prefix: prefix(), warn, commandTimeoutMs: 5_000 });
      const two = [{ id: "a", concurrency: 1, priority: 1 }, { id: "b", concurrency: 1, priority: 1 }];
      await (await slots.acquire(two, "warm-up"))!.release();
      await redis.ping();
      proxy.swallowing = true;
      const acquired = slots.acquire(two, "sent-twice");
      // Redis ran the script and answered; the answer is lost with the connection.
      await proxy.swallowed;
      proxy.swallowing = false;
      proxy.dropClients();
      const lease = await acquired;
      expect(lease?.accountId).toBe("a");
      expect(await direct.zrange(slots.key("a"), 0, -1)).toEqual(["sent-twice"]);
      expect(await direct.zcard(slots.key("b"))).toBe(0);
      await lease!.release();
      expect(await direct.zcard(slots.key("a"))).toBe(0);
      redis.disconnect();
      direct.disconnect();
    } finally {
      await proxy.close();
      server.stop();
    }
  });

  it("works on Redis Cluster: candidates and carried releases in one script call", async () => {
    const nodes = (process.env.REDIS_CLUSTER_NODES ?? "").split(",").filter(Boolean);
    if (nodes.length === 0) throw new Error("REDIS_CLUSTER_NODES is not set: run the tests through scripts/test-env.mjs");
    const cluster = new Cluster(
      nodes.map((node) => ({ host: node.split(":")[0]!, port: Number(node.split(":")[1]) })),
      { enableOfflineQueue: true },
    );
    clients.push(cluster);
    const slots = new RedisConcurrencySlots(cluster, { prefix: prefix(), warn });
    const candidates = ["a", "b", "c"].map((id) => ({ id, concurrency: 1, priority: 1 }));
    const first = await slots.acquire(candidates, "l1");
    const second = await slots.acquire(candidates, "l2");
    expect([first?.accountId, second?.accountId]).toEqual(["a", "b"]);
    void first!.release();
    void second!.release();
    // Both releases ride on this call (keys of three accounts plus two released ones).
    expect(slots.pendingReleases).toBe(2);
    const third = await slots.acquire(candidates, "l3");
    expect(third?.accountId).toBe("a");
    expect(slots.pendingReleases).toBe(0);
    expect(await cluster.zcard(slots.key("b"))).toBe(0);
  });
});
