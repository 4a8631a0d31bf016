import { describe, expect, it } from "vitest";
import { FakeAccounts, FakeRefresher, recordingLogger } from "../test/fixtures";
import { deletePrefix, randomPrefix, startRedisServer, testRedis } from "../test/redis-server";
import { describeTokenManagerContract } from "../test/token-manager-contract";
import { RedisTokenStore } from "./redis-token-store";
import { TokenManager } from "./token-manager";

describeTokenManagerContract("RedisTokenStore", () => {
  const prefix = randomPrefix();
  const first = testRedis();
  const second = testRedis();
  const store = new RedisTokenStore(first, { prefix });
  const peer = new RedisTokenStore(second, { prefix });
  return Promise.resolve({
    store,
    peer,
    async cleanup() {
      await store.close();
      await peer.close();
      await deletePrefix(first, prefix);
      first.disconnect();
      second.disconnect();
    },
  });
});

describe("TokenManager when Redis stops answering (rule 9)", () => {
  it("serves callers from the database with one refresh, bounded by commandTimeoutMs, without a Redis error", async () => {
    const server = await startRedisServer();
    const redis = testRedis(server.url);
    const store = new RedisTokenStore(redis, { prefix: randomPrefix(), commandTimeoutMs: 100 });
    try {
      const clock = Date.now();
      const valid = { id: "v", platform: "claude", credentials: { accessToken: "valid", expiresAt: clock + 3_600_000 } };
      const expired = { id: "e", platform: "claude", credentials: { accessToken: "old", refreshToken: "rt", expiresAt: clock - 1 } };
      const refresher = new FakeRefresher(() => ({ accessToken: "fresh", expiresAt: Date.now() + 3_600_000 }));
      const logger = recordingLogger();
      const tokens = new TokenManager({ accounts: new FakeAccounts(valid, expired), refreshers: { claude: refresher }, store, logger });
      await tokens.getAccessToken(valid);
      server.process.kill("SIGSTOP");
      const answers = await Promise.all([
        ...Array.from({ length: 30 }, () => tokens.getAccessToken(expired)),
        ...Array.from({ length: 30 }, () => tokens.getAccessToken(valid)),
      ]);
      expect(answers.slice(0, 30)).toEqual(Array.from({ length: 30 }, () => "fresh"));
      expect(answers.slice(30)).toEqual(Array.from({ length: 30 }, () => "valid"));
      expect(refresher.calls).toHaveLength(1);
      expect(logger.entries.filter((entry) => entry.level === "warn")).toHaveLength(1);
      expect(logger.entries[0]!.fields).toMatchObject({ code: "timeout" });
    } finally {
      server.process.kill("SIGCONT");
      await store.close();
      redis.disconnect();
      server.stop();
    }
  });
});
