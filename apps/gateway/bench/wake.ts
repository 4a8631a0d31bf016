// `pnpm bench:wake` in apps/gateway: how soon a slot freed on one gateway starts a request waiting on another,
// through Redis (the release script publishes the account; the waiter's gateway hears it on its subscriber
// connection and tries again). Two gateways' slot stores on their own connections; gateway A holds the
// account's only slot, gateway B has a waiter; A releases, and the time until B's waiter holds the slot is
// taken, BENCH_WAKE_ROUNDS times (default 2000). No safety-net poll runs: every wake is a release notice.
//   cd /work/main && node scripts/test-env.mjs -- pnpm --filter @subrelay/gateway bench:wake
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { Cancellation } from "../src/cancellation";
import { RedisConcurrencySlots, type SlotLease } from "../src/concurrency-slots";
import { SlotWaitQueue, groupQueue } from "../src/slot-wait-queue";

const url = process.env.REDIS_URL;
if (!url) throw new Error("REDIS_URL is not set: run through scripts/test-env.mjs");
const rounds = Number(process.env.BENCH_WAKE_ROUNDS ?? 2000);
const prefix = `bench-wake-${randomBytes(4).toString("hex")}:`;
const warn = (message: string) => console.error(message);
const [connectionA, connectionB] = [new Redis(url), new Redis(url)];
const a = new RedisConcurrencySlots(connectionA, { prefix, warn });
const b = new RedisConcurrencySlots(connectionB, { prefix, warn });
const waitOnB = new SlotWaitQueue(b, { pollMs: 3_600_000 });
const solo = [{ id: "account", concurrency: 1, priority: 1 }];
const plan = { queue: groupQueue(1), limit: 1_000, timeoutMs: 60_000 };

const lease = (value: SlotLease | null | { lease: SlotLease } | { refused: string } | { verdict: unknown }): SlotLease => {
  if (value && "accountId" in value) return value;
  if (value && "lease" in value) return value.lease;
  throw new Error(`no slot: ${JSON.stringify(value)}`);
};

const latencies: number[] = [];
let held = lease(await a.acquire(solo, "warm"));
for (let round = 0; round < rounds; round++) {
  let queued!: () => void;
  const waiting = new Promise<void>((resolve) => (queued = resolve));
  const taken = waitOnB.take(solo, `waiter-${round}`, plan, new Cancellation(), queued);
  await waiting;
  const freedAt = performance.now();
  void held.release();
  const got = lease(await taken);
  latencies.push(performance.now() - freedAt);
  await got.release();
  held = lease(await a.acquire(solo, `holder-${round}`));
}
await held.release();

latencies.sort((x, y) => x - y);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2);
console.log(`cross-gateway wake-up over Redis, ${rounds} rounds: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
waitOnB.close();
await Promise.all([a.close(), b.close()]);
const keys = await connectionA.keys(`{${prefix}slots}:*`);
if (keys.length > 0) await connectionA.del(...keys);
connectionA.disconnect();
connectionB.disconnect();
