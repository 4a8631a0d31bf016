import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/** A connection to the test Redis (REDIS_URL) and a fresh key prefix; `cleanup` deletes the prefix and quits. */
export async function createTestRedis(): Promise<{ redis: Redis; prefix: string; cleanup: () => Promise<void> }> {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: run the tests through scripts/test-env.mjs");
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const prefix = `test:${randomBytes(6).toString("hex")}:`;
  return {
    redis,
    prefix,
    cleanup: async () => {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== "0");
      await redis.quit();
    },
  };
}

/** Counts commands the connection sends (each pipelined burst of commands is one round trip at most). */
export function countCommands(redis: Redis): { readonly count: number; reset(): void } {
  let count = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis["sendCommand"]>) => {
    count += 1;
    return send(...args);
  };
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
    },
  };
}
