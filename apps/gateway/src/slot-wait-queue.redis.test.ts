import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { describeSlotWaitContract } from "./slot-wait-queue.contract";
import { RedisConcurrencySlots } from "./concurrency-slots";

const clients: Redis[] = [];
const slotsMade: RedisConcurrencySlots[] = [];
const warn = () => undefined;

async function client(): Promise<Redis> {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: run the tests through scripts/test-env.mjs");
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  clients.push(redis);
  if (redis.status !== "ready") await new Promise<void>((resolve) => redis.once("ready", () => resolve()));
  return redis;
}

afterAll(async () => {
  await Promise.all(slotsMade.map((slots) => slots.close()));
  for (const redis of clients) redis.disconnect();
});

describeSlotWaitContract(
  "RedisConcurrencySlots",
  async () => {
    const prefix = `test-wait-${randomBytes(4).toString("hex")}:`;
    const [first, second] = await Promise.all([client(), client()]);
    const slots = new RedisConcurrencySlots(first, { prefix, warn });
    const peer = new RedisConcurrencySlots(second, { prefix, warn });
    slotsMade.push(slots, peer);
    return {
      slots,
      peer,
      cleanup: async () => {
        const keys = await first.keys(`{${prefix}slots}:*`);
        if (keys.length > 0) await first.del(...keys);
      },
    };
  },
  { shared: true },
);
