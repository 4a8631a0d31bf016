import { FakeUpstream } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply } from "../harness";
import { startDeployment, type Deployment } from "./deployment";
import { closeMessageClient, sendMessage } from "./message-client";
import { metricValue } from "./metric-value";

const HEADERS_TIMEOUT_MS = 500;

/** An upstream that accepts the request and never answers: the headers timeout fires and the request fails over. */
describe("an upstream that hangs", () => {
  let upstream: FakeUpstream;
  let deployment: Deployment;

  beforeAll(async () => {
    upstream = await FakeUpstream.start();
    deployment = await startDeployment({
      gateways: 2,
      upstream,
      env: { UPSTREAM_HEADERS_TIMEOUT: `${HEADERS_TIMEOUT_MS}ms` },
    });
  });
  afterAll(async () => {
    await deployment?.close();
    await upstream?.close();
    await closeMessageClient();
  });

  it("times out after UPSTREAM_HEADERS_TIMEOUT and fails over to the next account on every gateway", async () => {
    upstream.on("POST", "/hang-a/v1/messages", { hang: true }).on("POST", "/spare-b/v1/messages", claudeReply);
    const seeded = await deployment.seed({
      platform: "claude",
      accounts: [
        { name: "hangs", type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-hangs" }, baseUrl: `${upstream.url}/hang-a` },
        { name: "spare", type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-spare" }, baseUrl: `${upstream.url}/spare-b` },
      ],
    });
    const { gateways } = deployment;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => sendMessage(gateways[index % 2]!.url, seeded.key, { stream: index % 2 === 0 })),
    );

    expect(results.map((result) => result.ok)).toEqual(results.map(() => true));
    // Each request waited out the timeout on the hanging account (a timeout firing early would show here).
    for (const result of results) expect(result.ms).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS);
    expect(upstream.requestsTo("/hang-a/v1/messages")).toHaveLength(20);
    const served = upstream.requestsTo("/spare-b/v1/messages");
    expect(served).toHaveLength(20);
    expect(new Set(served.map((request) => request.headers["x-api-key"]))).toEqual(new Set(["sk-ant-spare"]));
    const failovers = await Promise.all(
      gateways.map((gateway) => metricValue(gateway.url, "subrelay_failovers_total", { platform: "claude", reason: "server" })),
    );
    expect(failovers).toEqual([10, 10]);
  });
});
