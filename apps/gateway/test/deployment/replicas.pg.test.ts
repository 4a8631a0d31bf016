import { FakeUpstream, type RecordedRequest } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, deferred, paths, tokenReply } from "../harness";
import { adminRequest, startDeployment, type Deployment } from "./deployment";
import { eventually } from "./eventually";
import { closeMessageClient, sendMessage } from "./message-client";
import { metricValue } from "./metric-value";
import type { ServiceProcess } from "./service-process";

interface AccountRow {
  id: string;
  rateLimitedUntil: number | null;
}

/**
 * Three gateway processes and two refresh-worker processes on one Postgres database and one Redis
 * prefix: what one replica learns (a refreshed token, a rate limit) is what every replica acts on.
 * (A worker killed mid-batch is packages/worker/src/worker-crash.pg.test.ts.)
 */
describe("3 gateways + 2 workers on one Postgres and one Redis", () => {
  let upstream: FakeUpstream;
  let deployment: Deployment;

  beforeAll(async () => {
    upstream = await FakeUpstream.start();
    // Workers pass every second, so they race the gateways for the expired token too.
    deployment = await startDeployment({ gateways: 3, workers: 2, upstream, env: { REFRESH_INTERVAL: "1s" } });
  });
  afterAll(async () => {
    await deployment?.close();
    await upstream?.close();
    await closeMessageClient();
  });

  it("300 concurrent requests over three gateways on an expired token: one refresh, all succeed, only the new token upstream", async () => {
    const counter = { count: 0 };
    const issue = tokenReply(counter);
    const release = deferred();
    upstream
      .on("POST", paths.claudeToken, async () => {
        const reply = issue();
        await release.promise;
        return reply;
      })
      .on("POST", "/shared/v1/messages", claudeReply);
    const seeded = await deployment.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: "expired-access", refreshToken: "refresh-0", expiresAt: Date.now() - 60_000 },
          baseUrl: `${upstream.url}/shared`,
        },
      ],
    });

    const { gateways } = deployment;
    const missesBefore = await Promise.all(gateways.map((gateway) => tokenMisses(gateway.url)));
    const calls = Array.from({ length: 300 }, (_, index) => sendMessage(gateways[index % 3]!.url, seeded.key));
    await upstream.waitForRequests(1, paths.claudeToken);
    // The refresh is held until every gateway has missed the token cache, i.e. is waiting for a token.
    await eventually(
      async () => {
        const misses = await Promise.all(gateways.map((gateway) => tokenMisses(gateway.url)));
        return misses.every((count, index) => count > missesBefore[index]!);
      },
      { timeoutMs: 4_000, what: "every gateway to miss the token cache" },
    );
    expect(upstream.requestsTo("/shared/v1/messages")).toHaveLength(0);
    release.resolve();
    const results = await Promise.all(calls);

    expect(results.filter((result) => result.status !== 200).map((result) => `${result.status} ${result.text}`)).toEqual([]);
    const refreshedBy = await refreshesByProcess(deployment);
    expect(upstream.requestsTo(paths.claudeToken).length, `refreshes per process: ${JSON.stringify(refreshedBy)}`).toBe(1);
    expect(counter.count).toBe(1);
    const sent = upstream.requestsTo("/shared/v1/messages");
    expect(sent).toHaveLength(300);
    expect(new Set(sent.map((request) => request.headers.authorization))).toEqual(new Set(["Bearer access-1"]));
  });

  it("a rate limit learned by gateway 1 is honoured by gateways 2 and 3 within 1 s, and lifts at its reset time", async () => {
    /** Armed: A's next request gets the one 429 of this test; every other request A sees, it serves. */
    let limitA = false;
    upstream
      .on("POST", "/limited-a/v1/messages", (request: RecordedRequest) => {
        if (!limitA) return claudeReply(request);
        // Only gateway 1's request is refused: the others must learn the limit from the shared state.
        limitA = false;
        return { status: 429, headers: { "retry-after": "2" }, json: { type: "error", error: { type: "rate_limit_error", message: "limited" } } };
      })
      .on("POST", "/spare-b/v1/messages", claudeReply);
    const seeded = await deployment.seed({
      platform: "claude",
      accounts: [
        { name: "a", type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-a" }, baseUrl: `${upstream.url}/limited-a` },
        { name: "b", type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-b" }, baseUrl: `${upstream.url}/spare-b` },
      ],
    });
    const [accountA] = seeded.accountIds as [string, string];
    const [gateway1, gateway2, gateway3] = deployment.gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const hitsA = () => upstream.requestsTo("/limited-a/v1/messages").length;
    const hitsB = () => upstream.requestsTo("/spare-b/v1/messages").length;

    // Gateways 2 and 3 have A in their snapshot and use it (A is first by priority).
    for (const gateway of [gateway2, gateway3]) expect((await sendMessage(gateway.url, seeded.key)).status).toBe(200);
    expect(hitsA()).toBe(2);
    limitA = true;

    const answered = await sendMessage(gateway1.url, seeded.key);
    const learnedAt = performance.now();
    expect(answered.status).toBe(200);
    expect([hitsA(), hitsB()]).toEqual([3, 1]);

    // From now on a request reaching A would be served by it: skipping A can only come from the shared state.
    const skippedWithin = await eventually(
      async () => {
        const before = hitsA();
        const results = await Promise.all([sendMessage(gateway2.url, seeded.key), sendMessage(gateway3.url, seeded.key)]);
        return results.every((result) => result.status === 200) && hitsA() === before;
      },
      { timeoutMs: 1_000, intervalMs: 10, what: "gateways 2 and 3 to skip the rate-limited account" },
    );
    const propagationMs = performance.now() - learnedAt;
    console.info(`[rate limit] gateways 2 and 3 skipped the limited account ${Math.round(propagationMs)} ms after gateway 1 answered`);
    expect(propagationMs).toBeLessThan(1_000);
    expect(skippedWithin).toBeLessThan(1_000);

    const until = await rateLimitedUntil(deployment, accountA);
    expect(until).toBeGreaterThan(Date.now());

    // The behaviour under test is the reset time itself: wait for it (one timer, 100 ms past it).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now() + 100)));
    const hitsAAfterReset = hitsA();
    const hitsBAfterReset = hitsB();
    for (const gateway of [gateway2, gateway3]) expect((await sendMessage(gateway.url, seeded.key)).status).toBe(200);
    expect(hitsA() - hitsAAfterReset).toBe(2);
    expect(hitsB() - hitsBAfterReset).toBe(0);
  });

  it("an operator's credential replacement through gateway 1: its next request uses the new token, gateways 2 and 3 switch within their 5 s token memory", async () => {
    upstream.on("POST", "/replaced/v1/messages", claudeReply);
    const tokenCallsBefore = upstream.requestsTo(paths.claudeToken).length;
    const seeded = await deployment.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: "access-A", refreshToken: "refresh-A", expiresAt: Date.now() + 2 * 3_600_000 },
          baseUrl: `${upstream.url}/replaced`,
        },
      ],
    });
    const [gateway1, gateway2, gateway3] = deployment.gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const sentBy = new Map<ServiceProcess, string[]>([[gateway1, []], [gateway2, []], [gateway3, []]]);
    /** One request through `gateway`; the token the upstream saw for it. */
    const ask = async (gateway: ServiceProcess) => {
      const before = upstream.requestsTo("/replaced/v1/messages").length;
      const result = await sendMessage(gateway.url, seeded.key);
      expect(result.status, result.text).toBe(200);
      const sent = upstream.requestsTo("/replaced/v1/messages").slice(before);
      expect(sent).toHaveLength(1);
      const token = String(sent[0]!.headers.authorization);
      sentBy.get(gateway)!.push(token);
      return token;
    };

    // Every gateway serves A and keeps it (its token memory and the shared Redis cache).
    for (const gateway of [gateway1, gateway2, gateway3]) expect(await ask(gateway)).toBe("Bearer access-A");
    const keptSince = performance.now();

    const patched = await adminRequest(gateway1.url, "PATCH", `/admin/accounts/${seeded.accountIds[0]}`, {
      credentials: { accessToken: "access-B", refreshToken: "refresh-B", expiresAt: Date.now() + 2 * 3_600_000 },
    });
    expect(patched.status).toBe(200);
    expect(await ask(gateway1)).toBe("Bearer access-B");

    const switchedWithin = await eventually(
      async () => (await ask(gateway2)) === "Bearer access-B" && (await ask(gateway3)) === "Bearer access-B",
      { timeoutMs: 8_000, intervalMs: 100, what: "gateways 2 and 3 to send the replaced token" },
    );
    const sinceKept = performance.now() - keptSince;
    console.info(`[credential replacement] gateways 2 and 3 sent the new token ${Math.round(switchedWithin)} ms after the PATCH`);
    expect(sinceKept, "gateways 2 and 3 kept the old token past their 5 s token memory").toBeLessThan(5_000 + 1_000);
    // Once switched, nobody goes back to the old token; nothing was refreshed.
    for (const gateway of [gateway1, gateway2, gateway3]) expect(await ask(gateway)).toBe("Bearer access-B");
    for (const [gateway, tokens] of sentBy) {
      const firstB = tokens.indexOf("Bearer access-B");
      expect(tokens.slice(firstB).every((token) => token === "Bearer access-B"), `${gateway.name}: ${tokens.join(", ")}`).toBe(true);
    }
    expect(upstream.requestsTo(paths.claudeToken).length).toBe(tokenCallsBefore);
  });
});

/** Successful refreshes each process counted (gateways and workers alike), by process name. */
async function refreshesByProcess(deployment: Deployment): Promise<Record<string, number>> {
  const services = [...deployment.gateways, ...deployment.workers];
  const counts = await Promise.all(
    services.map((service) =>
      service.kind === "gateway"
        ? metricValue(service.url, "subrelay_token_refreshes_total", { outcome: "refreshed" })
        : metricValue(service.url, "subrelay_worker_token_refresh_attempts_total", { outcome: "refreshed" }),
    ),
  );
  return Object.fromEntries(services.map((service, index) => [service.name, counts[index]!]));
}

function tokenMisses(baseUrl: string): Promise<number> {
  return metricValue(baseUrl, "subrelay_token_cache_lookups_total", { platform: "claude", result: "miss" });
}

async function rateLimitedUntil(deployment: Deployment, accountId: string): Promise<number> {
  const listed = await deployment.admin<{ data: AccountRow[] }>("GET", "/admin/accounts");
  const until = listed.body.data.find((account) => account.id === accountId)?.rateLimitedUntil;
  if (typeof until !== "number") throw new Error(`account ${accountId} is not rate-limited: ${JSON.stringify(listed.body)}`);
  return until;
}
