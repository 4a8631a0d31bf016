import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Herd } from "../test/herd";
import { randomPrefix, requiredRedisUrl, startRedisServer } from "../test/redis-server";

const processes = 4;
const callers = 250;

describe("the herd: 4 OS processes x 250 concurrent getAccessToken on one expired account", () => {
  let herd: Herd;
  beforeAll(async () => {
    herd = await Herd.start(processes);
  });
  afterAll(async () => {
    await herd.stop();
  });

  it("makes exactly one refresh; every caller gets the new token; the database holds it with a higher version", async () => {
    const url = requiredRedisUrl();
    const result = await herd.run({
      tokenStoreUrl: url,
      databaseUrl: url,
      prefix: randomPrefix(),
      accountId: "herd",
      callers,
      refreshDelayMs: 300,
      lockWaitMs: 5_000,
      commandTimeoutMs: 1_000,
      strictRotation: true,
    });
    expect(result.refreshCount).toBe(1);
    for (const report of result.reports) {
      expect(report.errors).toEqual({});
      expect(report.tokens).toEqual({ "at-1": callers });
    }
    expect(result.reports.filter((report) => report.refreshedHere)).toHaveLength(1);
    expect(result.account.credentials).toMatchObject({ accessToken: "at-1", refreshToken: "rt-1" });
    expect(result.account.credentials.tokenVersion).toBeGreaterThan(1);
  });

  it("Redis killed mid-herd: every caller still gets a valid token, at most one refresh per process", async () => {
    const server = await startRedisServer();
    try {
      const result = await herd.run(
        {
          tokenStoreUrl: server.url,
          databaseUrl: requiredRedisUrl(),
          prefix: randomPrefix(),
          accountId: "herd",
          callers,
          refreshDelayMs: 300,
          lockWaitMs: 1_500,
          commandTimeoutMs: 200,
          strictRotation: false,
        },
        () => server.process.kill("SIGKILL"),
      );
      expect(server.process.signalCode ?? (await new Promise((resolve) => server.process.once("exit", (_code, signal) => resolve(signal))))).toBe("SIGKILL");
      expect(result.refreshCount).toBeGreaterThanOrEqual(1);
      expect(result.refreshCount).toBeLessThanOrEqual(processes);
      const issued = new Set(Array.from({ length: result.refreshCount }, (_, index) => `at-${index + 1}`));
      let served = 0;
      for (const report of result.reports) {
        expect(report.errors).toEqual({});
        for (const [token, count] of Object.entries(report.tokens)) {
          expect(issued.has(token)).toBe(true);
          served += count;
        }
      }
      expect(served).toBe(processes * callers);
      expect(issued.has(result.account.credentials.accessToken)).toBe(true);
    } finally {
      server.stop();
    }
  });
});
