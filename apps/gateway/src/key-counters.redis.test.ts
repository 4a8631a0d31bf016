import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, expect, it } from "vitest";
import { budgetWindows } from "./budget-windows";
import { RedisConcurrencySlots } from "./concurrency-slots";
import { describeKeyCountersContract } from "./key-counters.contract";

const redisUrl = () => {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: run the tests through scripts/test-env.mjs");
  return url;
};
const warn = () => undefined;
const clients: Array<Redis | Cluster> = [];
afterAll(() => {
  for (const redis of clients) redis.disconnect();
});

function client(): Redis {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  clients.push(redis);
  return redis;
}

describeKeyCountersContract(
  "RedisConcurrencySlots",
  async () => {
    const prefix = `test-keys-${randomBytes(4).toString("hex")}:`;
    const [first, second] = [client(), client()];
    const removeAll = async (pattern: string) => {
      const keys = await first.keys(pattern);
      if (keys.length > 0) await first.del(...keys);
    };
    return {
      slots: new RedisConcurrencySlots(first, { prefix, warn }),
      peer: new RedisConcurrencySlots(second, { prefix, warn }),
      // A release resolves once its script call has answered: nothing more to wait for.
      settle: () => Promise.resolve(),
      forget: () => removeAll(`{${prefix}slots}:key:*`),
      cleanup: () => removeAll(`{${prefix}slots}:*`),
    };
  },
  { shared: true },
);

it("checks and counts a key's limits on Redis Cluster in the slot acquisition's one call, and charges in the release's", async () => {
  const nodes = (process.env.REDIS_CLUSTER_NODES ?? "").split(",").filter(Boolean);
  if (nodes.length === 0) throw new Error("REDIS_CLUSTER_NODES is not set: run the tests through scripts/test-env.mjs");
  const cluster = new Cluster(
    nodes.map((node) => ({ host: node.split(":")[0]!, port: Number(node.split(":")[1]) })),
    { enableOfflineQueue: true },
  );
  clients.push(cluster);
  let sent = 0;
  const send = cluster.sendCommand.bind(cluster) as (...args: unknown[]) => unknown;
  (cluster as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (...args: unknown[]) => {
    sent += 1;
    return send(...args);
  };
  const slots = new RedisConcurrencySlots(cluster, { prefix: `test-keys-${randomBytes(4).toString("hex")}:`, warn });
  const now = Date.UTC(2026, 11, 9, 12);
  const candidates = ["a", "b"].map((id) => ({ id, concurrency: 5, priority: 1 }));
  const admission = (requestId: string) => ({
    apiKeyId: "3",
    requestId,
    limits: { costPerDayUsd: 0.05, requestsPerMinute: 10 },
    now,
    windows: budgetWindows(now, "UTC"),
    seed: { dayUsd: 0, weekUsd: 0, monthUsd: 0, totalUsd: 0 },
  });
  for (let index = 0; index < 3; index++) {
    const lease = await slots.acquire(candidates, `l${index}`, admission(`r${index}`));
    if (!lease || typeof lease !== "object" || !("accountId" in lease)) throw new Error(`expected a lease, got ${JSON.stringify(lease)}`);
    void lease.release({ tokens: 18, costUsd: 0.018, at: now });
  }
  expect(await slots.acquire(candidates, "l3", admission("r3"))).toMatchObject({ limit: "costPerDayUsd" });
  // The warm-up (cluster slots) aside, each acquisition and the releases it carried: one command each.
  expect(sent).toBeLessThanOrEqual(6);
});
