// `pnpm bench` (with REDIS_URL; `node scripts/test-env.mjs -- pnpm --filter @subrelay/scheduler-cache bench`
// starts a throwaway Redis). Measures getSnapshot on 1,000- and 10,000-account buckets: cold (straight from
// Redis) and through CachedSchedulerReader on an unchanged bucket; ops/s, p50 latency and Redis round trips
// per read, counted at the connection: a command sent while none is in flight opens a round trip, commands sent
// while others are in flight share it (they are pipelined).
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { Redis } from "ioredis";
import { Bench } from "tinybench";
import { CachedSchedulerReader, type AccountSnapshot, type SchedulerBucket } from "../src/index";
import { RedisSchedulerCache } from "../src/redis";

const url = process.env.REDIS_URL;
if (!url) throw new Error("REDIS_URL is not set: run through scripts/test-env.mjs");

const redis = new Redis(url);
const traffic = { commands: 0, roundTrips: 0, inFlight: 0 };
const send = redis.sendCommand.bind(redis);
redis.sendCommand = (...args: Parameters<Redis["sendCommand"]>) => {
  const [command] = args;
  traffic.commands += 1;
  if (traffic.inFlight === 0) traffic.roundTrips += 1;
  traffic.inFlight += 1;
  const settled = () => {
    traffic.inFlight -= 1;
  };
  command.promise.then(settled, settled);
  return send(...args);
};

const prefix = `bench:${randomBytes(6).toString("hex")}:`;
const cache = new RedisSchedulerCache(redis, { prefix });

function accountsOf(count: number): AccountSnapshot[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `account-${index}`,
    platform: "claude",
    priority: index % 5,
    concurrency: 3,
    status: "active",
    schedulable: true,
    rateLimitedUntil: index % 10 === 0 ? 1_900_000_000_000 : undefined,
    models: ["claude-sonnet-4-5", "claude-opus-4-1"],
    lastUsedAt: 1_700_000_000_000 + index,
  }));
}

async function perRead(read: () => Promise<unknown>, reads = 50): Promise<{ commands: number; roundTrips: number }> {
  await read();
  traffic.commands = 0;
  traffic.roundTrips = 0;
  for (let index = 0; index < reads; index += 1) await read();
  return { commands: traffic.commands / reads, roundTrips: traffic.roundTrips / reads };
}

const rows: string[][] = [];
for (const size of [1_000, 10_000]) {
  const bucket: SchedulerBucket = { groupId: size, platform: "claude", mode: "single" };
  await cache.setSnapshot(bucket, accountsOf(size));
  const reader = new CachedSchedulerReader(cache);
  const stale = new CachedSchedulerReader(cache, { maxStalenessMs: 1_000 });
  const cases: Array<[string, () => Promise<unknown>]> = [
    ["cold: RedisSchedulerCache.getSnapshot", () => cache.getSnapshot(bucket)],
    ["CachedSchedulerReader, unchanged bucket", () => reader.getSnapshot(bucket)],
    ["CachedSchedulerReader, maxStalenessMs 1000", () => stale.getSnapshot(bucket)],
  ];
  const bench = new Bench({ time: size >= 10_000 ? 3_000 : 1_500, warmupIterations: 20 });
  for (const [name, read] of cases) bench.add(name, read);
  await bench.run();
  for (const [name, read] of cases) {
    const result = bench.tasks.find((task) => task.name === name)?.result;
    const traffic = await perRead(read);
    rows.push([
      size.toLocaleString("en-US"),
      name,
      Math.round(result?.throughput.mean ?? 0).toLocaleString("en-US"),
      (result?.latency.p50 ?? Number.NaN).toFixed(3),
      (result?.latency.p99 ?? Number.NaN).toFixed(3),
      traffic.roundTrips.toFixed(2),
      traffic.commands.toFixed(2),
    ]);
  }
}

console.log(`machine: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cpus, node ${process.version}`);
console.log("| accounts | read | ops/s | p50 ms | p99 ms | round trips/read | commands/read |");
console.log("|---:|---|---:|---:|---:|---:|---:|");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);

let cursor = "0";
do {
  const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
  cursor = next;
  if (keys.length > 0) await redis.del(...keys);
} while (cursor !== "0");
await redis.quit();
