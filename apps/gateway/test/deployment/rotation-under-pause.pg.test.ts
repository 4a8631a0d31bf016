import { FakeUpstream, type RecordedRequest } from "@subrelay/providers-core/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, deferred, paths } from "../harness";
import { startRedisServer, type OwnRedisServer } from "../own-redis-server";
import { startDeployment, type Deployment } from "./deployment";
import { eventually } from "./eventually";
import { metricValue } from "./metric-value";
import { closeMessageClient, sendMessage, type MessageResult } from "./message-client";

interface AccountRow {
  id: string;
  status: string;
  errorMessage?: string | null;
}

/**
 * Issue 12's multi-process proof: one refresh per expiry and never a lost rotated refresh token, with
 * Redis refusing writes mid-refresh. Three gateways and two refresh workers (passing every second) share
 * a Redis of this file's own (pausing the shared one would stall other files) and one Postgres database.
 *
 * The token endpoint rotates: a refresh token is spent on arrival, and a spent one is answered
 * `invalid_grant`, as Anthropic's is. The first refresh's answer is held until Redis takes writes again,
 * so while `CLIENT PAUSE 3000 WRITE` lasts, every other process that misses the cache finds the refresh
 * lock unreadable (acquiring it is a write) and the database still holding the refresh token already spent.
 */
describe("rotating refresh tokens while Redis is write-paused (3 gateways + 2 workers)", () => {
  let redisServer: OwnRedisServer;
  let upstream: FakeUpstream;
  let deployment: Deployment;
  let control: Redis | undefined;
  let probe: Redis | undefined;

  beforeAll(async () => {
    [redisServer, upstream] = await Promise.all([startRedisServer(), FakeUpstream.start()]);
    // Workers pass every second, so they race the gateways for the expired token during the pause too.
    deployment = await startDeployment({
      gateways: 3,
      workers: 2,
      upstream,
      redisUrl: redisServer.url,
      env: { REFRESH_INTERVAL: "1s" },
    });
  });
  afterAll(async () => {
    control?.disconnect();
    probe?.disconnect();
    await deployment?.close();
    await upstream?.close();
    await closeMessageClient();
    redisServer?.stop();
  });

  it("300 requests on an expired token while Redis is write-paused: all succeed, no refresh token sent twice, the account stays active", async () => {
    /** Every refresh token the endpoint received, in arrival order (reused ones included). */
    const received: string[] = [];
    /** Access tokens the endpoint issued. */
    const issued = new Set<string>();
    let generation = 0;
    const firstRefreshArrived = deferred();
    const redisWritable = deferred();
    upstream
      .on("POST", paths.claudeToken, async (request: RecordedRequest) => {
        const sent = request.json<{ refresh_token?: string }>().refresh_token ?? "(none)";
        received.push(sent);
        const first = received.length === 1;
        if (first) firstRefreshArrived.resolve();
        if (sent !== `refresh-${generation}`) {
          return {
            status: 400,
            json: { error: "invalid_grant", error_description: "Refresh token has been used" },
          };
        }
        // Spent on arrival: from here on the old refresh token is refused, whether or not this answer is saved.
        generation += 1;
        const reply = {
          json: {
            access_token: `access-${generation}`,
            refresh_token: `refresh-${generation}`,
            expires_in: 3600,
            token_type: "Bearer",
          },
        };
        issued.add(`access-${generation}`);
        if (first) await redisWritable.promise;
        return reply;
      })
      .on("POST", "/rotating/v1/messages", claudeReply);

    const seeded = await deployment.seed({
      platform: "claude",
      accounts: [
        {
          name: "rotating",
          type: "oauth",
          credentials: {
            accessToken: "expired-access",
            refreshToken: "refresh-0",
            expiresAt: Date.now() - 60_000,
          },
          baseUrl: `${upstream.url}/rotating`,
        },
      ],
    });
    const [accountId] = seeded.accountIds as [string];
    const { gateways } = deployment;
    const prefix = deployment.env.REDIS_PREFIX!;

    // The first request (or a worker's pass, whichever comes first) starts the one refresh, held at the endpoint.
    const calls: Array<Promise<MessageResult>> = [sendMessage(gateways[0]!.url, seeded.key)];
    await firstRefreshArrived.promise;

    control = new Redis(redisServer.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    probe = new Redis(redisServer.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await Promise.all([control.connect(), probe.connect()]);
    expect(await control.call("CLIENT", "PAUSE", "3000", "WRITE")).toBe("OK");
    // A write on a connection of its own completes only once the pause is over: Redis is writable again.
    const probed = probe.set(`${prefix}probe`, "1").then(() => redisWritable.resolve());

    for (let index = 1; index < 300; index++) calls.push(sendMessage(gateways[index % 3]!.url, seeded.key));
    const results = await Promise.all(calls);
    await probed;

    const failures = results
      .map((result, index) => ({ index, result }))
      .filter(({ result }) => result.status !== 200)
      .map(({ index, result }) => `#${index} ${result.status} ${result.error ?? result.text.slice(0, 200)}`);
    // Every process is done with the pause: a worker pass that starts now sees what the run left in the database
    // (two more completed passes per worker: at least one of them started after this point).
    const passesBefore = await Promise.all(deployment.workers.map((worker) => refreshPasses(worker.url)));
    await eventually(
      async () =>
        (await Promise.all(deployment.workers.map((worker) => refreshPasses(worker.url)))).every(
          (count, index) => count >= passesBefore[index]! + 2,
        ),
      { timeoutMs: 15_000, intervalMs: 100, what: "both workers to complete a refresh pass after the run" },
    );
    const reused = received.filter((token, index) => received.indexOf(token) !== index);
    const status = await accountStatus(deployment, accountId);

    const byProcess = await refreshesByProcess(deployment);
    console.info(
      `[rotation under pause] ${results.length} requests, ${failures.length} failed; refresh tokens sent: ${received.join(", ")}; ` +
        `account ${status.status}; token endpoint calls per process: ${JSON.stringify(byProcess)}`,
    );
    expect
      .soft(reused, `refresh tokens sent: ${received.join(", ")}; per process: ${JSON.stringify(byProcess)}`)
      .toEqual([]);
    expect.soft(failures, `${failures.length} of ${results.length} requests failed`).toEqual([]);
    expect.soft(status, "the account's status after the run").toMatchObject({ status: "active" });
    // Every Messages call upstream carried an access token the endpoint issued, never the expired one.
    const authorizations = new Set(
      upstream.requestsTo("/rotating/v1/messages").map((request) => request.headers.authorization),
    );
    expect
      .soft([...authorizations].filter((value) => !issued.has(String(value).replace(/^Bearer /, ""))))
      .toEqual([]);
    expect(
      deployment.gateways.every((gateway) => gateway.running) &&
        deployment.workers.every((worker) => worker.running),
    ).toBe(true);
  }, 45_000);
});

async function accountStatus(deployment: Deployment, accountId: string): Promise<AccountRow> {
  const listed = await deployment.admin<{ data: AccountRow[] }>("GET", "/admin/accounts");
  const account = listed.body.data.find((row) => row.id === accountId);
  if (account === undefined)
    throw new Error(`account ${accountId} is not listed: ${JSON.stringify(listed.body)}`);
  return { id: account.id, status: account.status, errorMessage: account.errorMessage ?? null };
}

function refreshPasses(baseUrl: string): Promise<number> {
  return metricValue(baseUrl, "subrelay_worker_refresh_passes_total");
}

/** Token endpoint calls each process made, by outcome (gateways and workers alike), by process name. */
async function refreshesByProcess(deployment: Deployment): Promise<Record<string, Record<string, number>>> {
  const outcomes = ["refreshed", "race_recovered", "permanent_failure", "transient_failure"];
  const services = [...deployment.gateways, ...deployment.workers];
  const rows = await Promise.all(
    services.map(async (service) => {
      const name =
        service.kind === "gateway"
          ? "subrelay_token_refreshes_total"
          : "subrelay_worker_token_refresh_attempts_total";
      const counts = await Promise.all(
        outcomes.map((outcome) => metricValue(service.url, name, { outcome })),
      );
      return [
        service.name,
        Object.fromEntries(
          outcomes.flatMap((outcome, index) => (counts[index] ? [[outcome, counts[index]]] : [])),
        ),
      ] as const;
    }),
  );
  return Object.fromEntries(rows);
}
