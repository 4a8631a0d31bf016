import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startRedis, type Cleanups } from "../../../../scripts/test-servers.mjs";
import { claudeReply } from "../harness";
import { startDeployment, type Deployment } from "./deployment";
import { eventually } from "./eventually";
import { LoadRun } from "./load-run";
import { closeMessageClient, sendMessage } from "./message-client";

/**
 * Redis dies (SIGKILL) under load and a new, empty redis-server comes back on the same port: two
 * gateways and a worker keep serving in degraded mode (database-backed buckets, tokens from the
 * account record, slots failing open) and go back to Redis once it returns.
 */
describe("restarting Redis under load", () => {
  const cleanups: Cleanups = [];
  let upstream: FakeUpstream;
  let deployment: Deployment;
  let redisPort: number;
  let redisDir: string;
  let redis: ChildProcess;

  beforeAll(async () => {
    redisPort = await freePort();
    redisDir = mkdtempSync(join(tmpdir(), "subrelay-redis-restart-"));
    [upstream, redis] = await Promise.all([FakeUpstream.start(), startRedis(redisPort, redisDir, cleanups)]);
    deployment = await startDeployment({ gateways: 2, workers: 1, upstream, redisUrl: `redis://127.0.0.1:${redisPort}` });
  });
  afterAll(async () => {
    await deployment?.close();
    await upstream?.close();
    await closeMessageClient();
    for (const cleanup of cleanups.reverse()) cleanup();
    rmSync(redisDir, { recursive: true, force: true });
  });

  it("keeps the error rate under 1 % while Redis is killed and restarted on the same port", async () => {
    upstream.on("POST", "/redis-oauth/v1/messages", claudeReply).on("POST", "/redis-key/v1/messages", claudeReply);
    const seeded = await deployment.seed({
      platform: "claude",
      accounts: [
        {
          name: "oauth",
          type: "oauth",
          priority: 1,
          concurrency: 8,
          credentials: { accessToken: "live-access", refreshToken: "live-refresh", expiresAt: Date.now() + 3_600_000 },
          baseUrl: `${upstream.url}/redis-oauth`,
        },
        { name: "key", type: "apikey", priority: 1, concurrency: 8, credentials: { apiKey: "sk-ant-key" }, baseUrl: `${upstream.url}/redis-key` },
      ],
    });
    const { gateways } = deployment;
    const load = new LoadRun(12, (index) => sendMessage(gateways[index % 2]!.url, seeded.key, { stream: index % 3 === 0 }));

    await load.completes(200);
    const killedAt = load.completed;
    redis.kill("SIGKILL");
    await new Promise((resolve) => redis.once("exit", resolve));
    await eventually(async () => (await Promise.all(gateways.map((gateway) => redisReady(gateway.url)))).every((ready) => !ready), {
      timeoutMs: 5_000,
      what: "both gateways to report Redis down",
    });
    await load.completes(300);
    const downPhase = load.since(killedAt);

    const restartedAt = load.completed;
    redis = await startRedis(redisPort, redisDir, cleanups);
    const reconnectMs = await eventually(
      async () => (await Promise.all(gateways.map((gateway) => redisReady(gateway.url)))).every(Boolean),
      { timeoutMs: 10_000, intervalMs: 100, what: "both gateways to reconnect to the new Redis" },
    );
    await load.completes(200);
    const summary = await load.stop();
    const afterPhase = summary.sent - restartedAt;

    console.info(
      `[redis restart] ${summary.sent} requests, ${summary.failed} failed (error rate ${(summary.errorRate * 100).toFixed(2)} %); ` +
        `while down: ${downPhase.sent} requests, ${downPhase.failed} failed; reconnected within ${Math.round(reconnectMs)} ms; ` +
        `${afterPhase} requests after the restart`,
    );
    expect(summary.errorRate, JSON.stringify(summary.failures)).toBeLessThan(0.01);
    expect(downPhase.sent).toBeGreaterThanOrEqual(300);
    expect(deployment.gateways.every((gateway) => gateway.running)).toBe(true);
    expect(deployment.workers.every((worker) => worker.running)).toBe(true);
  });
});

async function redisReady(baseUrl: string): Promise<boolean> {
  const response = await fetch(`${baseUrl}/readyz`);
  const body = (await response.json()) as { checks?: { redis?: boolean | null } };
  return body.checks?.redis === true;
}
