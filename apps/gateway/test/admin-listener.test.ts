import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, claudeMessage, claudeReply, paths, startTestGateway, type TestGateway } from "./harness";

const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * ADMIN_PORT (issue 13, item 11): the admin API and /metrics on their own listener (loopback unless
 * ADMIN_HOST says otherwise); the main listener then answers 404 for them, in the caller's dialect.
 */
describe("the admin listener (ADMIN_PORT)", () => {
  let harness: TestGateway;
  let key: string;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { ADMIN_PORT: "0" } });
    harness.upstream.on("POST", paths.claudeMessages, claudeReply);
    ({ key } = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-admin-port" } }] }));
  });
  afterAll(async () => harness?.close());

  it("is a listener of its own, on loopback", () => {
    expect(harness.adminUrl).not.toBe(harness.url);
    expect(harness.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("serves /admin/* and /metrics; the main listener answers 404 for them", async () => {
    const groups = await fetch(`${harness.adminUrl}/admin/groups`, { headers: adminHeaders });
    expect(groups.status).toBe(200);
    expect(((await groups.json()) as { data: unknown[] }).data).toHaveLength(1);
    const metrics = await fetch(`${harness.adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^subrelay_accounts\{platform="claude",state="active"\} 1$/m);

    for (const path of ["/admin/groups", "/admin/accounts", "/metrics"]) {
      const response = await fetch(`${harness.url}${path}`, { headers: adminHeaders });
      expect(response.status, path).toBe(404);
      const body = (await response.json()) as { error?: { code?: string } };
      expect(body.error?.code, path).toBe("not_found");
    }
    const created = await fetch(`${harness.url}/admin/groups`, {
      method: "POST",
      headers: { ...adminHeaders, "content-type": "application/json" },
      body: JSON.stringify({ name: "through-main", platform: "claude" }),
    });
    expect(created.status).toBe(404);
  });

  it("leaves the client API and health checks on the main listener, and only there", async () => {
    const relayed = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify(claudeMessage()),
    });
    expect(relayed.status).toBe(200);
    expect((await fetch(`${harness.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${harness.url}/readyz`)).status).toBe(200);

    const onAdmin = await fetch(`${harness.adminUrl}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify(claudeMessage()),
    });
    expect(onAdmin.status).toBe(404);
    expect((await fetch(`${harness.adminUrl}/healthz`)).status).toBe(200);
  });
});
