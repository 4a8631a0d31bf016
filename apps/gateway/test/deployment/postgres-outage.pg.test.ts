import { setTimeout as delay } from "node:timers/promises";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setUpPostgres, type Cleanups } from "../../../../scripts/test-servers.mjs";
import { claudeReply } from "../harness";
import { startDeployment, type Deployment } from "./deployment";
import { eventually } from "./eventually";
import { LoadRun } from "./load-run";
import { closeMessageClient, sendMessage } from "./message-client";

/** How long Postgres stays down: the scenario itself, not a synchronisation guess. */
const OUTAGE_MS = 10_000;

/**
 * Postgres (a private cluster) is stopped for 10 s under load: keys, accounts, snapshots and tokens
 * the gateways hold keep requests succeeding, usage rows queue in memory and are all written once
 * the database is back. The queue bound (USAGE_QUEUE_LIMIT, default 100,000 rows per gateway; past it
 * the oldest rows are dropped and counted in subrelay_usage_rows_dropped_total) is not reached here.
 */
describe("stopping Postgres for 10 s under load", () => {
  const cleanups: Cleanups = [];
  let upstream: FakeUpstream;
  let deployment: Deployment;
  let postgres: Awaited<ReturnType<typeof setUpPostgres>>;

  beforeAll(async () => {
    [upstream, postgres] = await Promise.all([FakeUpstream.start(), setUpPostgres(cleanups)]);
    deployment = await startDeployment({ gateways: 2, workers: 1, upstream, databaseUrl: postgres.url });
  });
  afterAll(async () => {
    await deployment?.close();
    await upstream?.close();
    await closeMessageClient();
    for (const cleanup of cleanups.reverse()) cleanup();
  });

  it("serves ≥ 99 % of requests through the outage and writes every usage row after it", async () => {
    upstream.on("POST", "/pg-oauth/v1/messages", claudeReply).on("POST", "/pg-key/v1/messages", claudeReply);
    const seeded = await deployment.seed({
      platform: "claude",
      accounts: [
        {
          name: "oauth",
          type: "oauth",
          concurrency: 8,
          credentials: { accessToken: "live-access", refreshToken: "live-refresh", expiresAt: Date.now() + 3_600_000 },
          baseUrl: `${upstream.url}/pg-oauth`,
        },
        { name: "key", type: "apikey", concurrency: 8, credentials: { apiKey: "sk-ant-key" }, baseUrl: `${upstream.url}/pg-key` },
      ],
    });
    const { gateways } = deployment;
    const load = new LoadRun(8, (index) => sendMessage(gateways[index % 2]!.url, seeded.key, { stream: index % 3 === 0 }));
    // Every gateway has now cached the key, both accounts, the snapshot and the token.
    await load.completes(100);

    const stoppedAt = load.completed;
    postgres.stop();
    await eventually(async () => (await Promise.all(gateways.map(databaseReady))).every((ready) => !ready), {
      timeoutMs: 5_000,
      what: "both gateways to report the database down",
    });
    await delay(OUTAGE_MS);
    const outage = load.since(stoppedAt);
    postgres.start();
    await eventually(async () => (await Promise.all(gateways.map(databaseReady))).every(Boolean), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: "both gateways to reconnect to Postgres",
    });
    await load.completes(100);
    const summary = await load.stop();

    const written = await eventually(async () => (await usageRequests(deployment)) >= summary.ok, {
      timeoutMs: 15_000,
      intervalMs: 200,
      what: "the queued usage rows to be written",
    }).then(() => usageRequests(deployment));

    console.info(
      `[postgres outage] ${summary.sent} requests, ${summary.failed} failed (error rate ${(summary.errorRate * 100).toFixed(2)} %); ` +
        `during the ${OUTAGE_MS / 1000} s outage: ${outage.sent} requests, ${outage.failed} failed; usage rows written: ${written}`,
    );
    expect(outage.sent).toBeGreaterThan(100);
    expect(outage.ok / outage.sent, JSON.stringify(outage.failures)).toBeGreaterThanOrEqual(0.99);
    expect(summary.ok / summary.sent, JSON.stringify(summary.failures)).toBeGreaterThanOrEqual(0.99);
    // Every answered request left exactly one row (failed ones at most one): none lost, none doubled.
    expect(written).toBeGreaterThanOrEqual(summary.ok);
    expect(written).toBeLessThanOrEqual(summary.sent);
    expect(deployment.gateways.every((gateway) => gateway.running)).toBe(true);
    expect(deployment.workers.every((worker) => worker.running)).toBe(true);
  });
});

async function databaseReady(gateway: { url: string }): Promise<boolean> {
  const response = await fetch(`${gateway.url}/readyz`);
  const body = (await response.json()) as { checks?: { database?: boolean } };
  return body.checks?.database === true;
}

/** Requests counted by GET /admin/usage (every key, the last 24 h). */
async function usageRequests(deployment: Deployment): Promise<number> {
  const usage = await deployment.admin<{ data: Array<{ requests: number | string }> }>("GET", "/admin/usage?groupBy=key");
  if (usage.status !== 200) return -1;
  return usage.body.data.reduce((total, row) => total + Number(row.requests), 0);
}
