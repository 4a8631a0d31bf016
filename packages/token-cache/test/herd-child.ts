// One process of the herd: waits for "go", then fires `callers` concurrent getAccessToken calls at one
// account and reports what each got and how long it waited. Driven over IPC by test/herd.ts.
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import { RedisTokenStore } from "../src/redis-token-store";
import { TokenManager } from "../src/token-manager";
import { TokenRefreshError } from "../src/token-refresh-error";
import type { AccountStore, OAuthCredentials, TokenAccount, TokenRefresher } from "../src/types";
import type { HerdChildReport, HerdRound } from "./herd";

/** Wall clock with sub-millisecond resolution, comparable across processes on one machine. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

const clients = new Map<string, Redis>();
function client(url: string): Redis {
  let redis = clients.get(url);
  if (redis === undefined) {
    redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: (attempt) => Math.min(attempt * 50, 500) });
    redis.on("error", () => undefined);
    clients.set(url, redis);
  }
  return redis;
}

/** The "database": accounts as JSON in one Redis hash shared by every process. */
function redisAccounts(redis: Redis, prefix: string): AccountStore {
  return {
    async get(id) {
      const json = await redis.hget(`${prefix}accounts`, id);
      return json === null ? null : (JSON.parse(json) as TokenAccount);
    },
    async saveCredentials(id, credentials) {
      const json = await redis.hget(`${prefix}accounts`, id);
      if (json === null) return;
      const account = JSON.parse(json) as TokenAccount;
      await redis.hset(`${prefix}accounts`, id, JSON.stringify({ ...account, credentials }));
    },
  };
}

/** A token endpoint that takes `refreshDelayMs`, counts its calls with INCR and rotates the refresh token. */
function countingRefresher(redis: Redis, round: HerdRound, onStart: () => void, onEnd: () => void): TokenRefresher {
  return {
    cacheKey: (account) => `${account.platform}:account:${account.id}`,
    async refresh(account): Promise<OAuthCredentials> {
      onStart();
      const call = await redis.incr(`${round.prefix}refresh-count`);
      await delay(round.refreshDelayMs);
      if (round.strictRotation) {
        const current = await redis.get(`${round.prefix}provider:refresh-token`);
        if (current !== account.credentials.refreshToken) {
          throw new TokenRefreshError("refresh token already used", { code: "invalid_grant", permanent: true, status: 400 });
        }
      }
      await redis.set(`${round.prefix}provider:refresh-token`, `rt-${call}`);
      onEnd();
      return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresAt: Date.now() + 8 * 3_600_000 };
    },
  };
}

async function runRound(round: HerdRound): Promise<HerdChildReport> {
  const database = client(round.databaseUrl);
  const tokenRedis = client(round.tokenStoreUrl);
  const store = new RedisTokenStore(tokenRedis, { prefix: round.prefix, commandTimeoutMs: round.commandTimeoutMs });
  let refreshedHere = false;
  let refreshStartedAt: number | undefined;
  let refreshEndedAt: number | undefined;
  const tokens = new TokenManager({
    accounts: redisAccounts(database, round.prefix),
    refreshers: {
      claude: countingRefresher(
        database,
        round,
        () => {
          refreshedHere = true;
          refreshStartedAt = epochMs();
          process.send?.({ type: "refresh-started" });
        },
        () => (refreshEndedAt = epochMs()),
      ),
    },
    store,
    lockWaitMs: round.lockWaitMs,
  });
  const account = (await redisAccounts(database, round.prefix).get(round.accountId))!;
  // Warm the subscriber connection and the scripts as a long-running gateway would have.
  await store.waitForRefresh("warm-up", 1_000).catch(() => undefined);
  process.send?.({ type: "ready" });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));

  const goAt = epochMs();
  const start = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: round.callers }, async (): Promise<{ token?: string; error?: string; waitMs: number; doneAt: number }> => {
      try {
        const token = await tokens.getAccessToken(account);
        return { token, waitMs: performance.now() - start, doneAt: epochMs() };
      } catch (error) {
        const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        return { error: text, waitMs: performance.now() - start, doneAt: epochMs() };
      }
    }),
  );
  await store.close();
  const report: HerdChildReport = { tokens: {}, errors: {}, waitsMs: [], doneAt: [], goAt, refreshedHere, refreshStartedAt, refreshEndedAt };
  for (const outcome of outcomes) {
    report.waitsMs.push(outcome.waitMs);
    report.doneAt.push(outcome.doneAt);
    if (outcome.token !== undefined) report.tokens[outcome.token] = (report.tokens[outcome.token] ?? 0) + 1;
    if (outcome.error !== undefined) report.errors[outcome.error] = (report.errors[outcome.error] ?? 0) + 1;
  }
  return report;
}

process.on("message", (message: { type: string; round?: HerdRound }) => {
  if (message.type === "round" && message.round !== undefined) {
    void runRound(message.round).then((report) => process.send?.({ type: "done", report }));
  } else if (message.type === "exit") {
    for (const redis of clients.values()) redis.disconnect();
    process.disconnect();
  }
});
process.send?.({ type: "started" });
