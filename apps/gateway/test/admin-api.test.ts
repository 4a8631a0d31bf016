import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, claudeMessage, claudeReply, paths, startTestGateway, type TestGateway } from "./harness";

const MODEL = "claude-opus-4-5";

interface AccountRow {
  id: string;
  name: string;
  status: string;
  priority: number;
  concurrency: number;
  schedulable: boolean;
  rateLimitedUntil: number | null;
  errorMessage: string | null;
  groupIds: number[];
}

/** The admin API contract: auth, validation, account and key lifecycles; secrets are never returned. */
describe("admin API (embedded)", () => {
  let harness: TestGateway;
  let groupId: number;

  beforeAll(async () => {
    harness = await startTestGateway();
    harness.upstream.on("POST", paths.claudeMessages, claudeReply);
    const group = await harness.admin<{ id: number; name: string; platform: string }>("POST", "/admin/groups", {
      name: "admin-tests",
      platform: "claude",
    });
    expect(group.status).toBe(201);
    expect(group.body).toMatchObject({ name: "admin-tests", platform: "claude" });
    groupId = group.body.id;
  });
  afterAll(async () => harness?.close());

  const raw = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
    const response = await fetch(`${harness.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("refuses requests without the admin token, or with a wrong one", async () => {
    for (const path of ["/admin/groups", "/admin/accounts", "/admin/api-keys", "/admin/usage"]) {
      const missing = await raw("GET", path);
      expect(missing.status, path).toBe(401);
      expect(missing.body).toMatchObject({ error: { message: expect.any(String) } });
      const wrong = await raw("GET", path, { authorization: `Bearer ${ADMIN_TOKEN}-not` });
      expect(wrong.status, path).toBe(401);
    }
    const noBearer = await raw("GET", "/admin/groups", { authorization: ADMIN_TOKEN });
    expect(noBearer.status).toBe(401);
    const create = await raw("POST", "/admin/groups", {}, { name: "sneaky", platform: "claude" });
    expect(create.status).toBe(401);
    const groups = await harness.admin<{ data: Array<{ name: string }> }>("GET", "/admin/groups");
    expect(groups.body.data.map((group) => group.name)).not.toContain("sneaky");
  });

  it("answers invalid input with a 400", async () => {
    const invalid: Array<[string, string, unknown]> = [
      ["POST", "/admin/groups", { name: "x" }],
      ["POST", "/admin/groups", { name: "x", platform: "mistral" }],
      ["POST", "/admin/accounts", { name: "x", platform: "claude", type: "apikey", credentials: {}, groupIds: [groupId] }],
      ["POST", "/admin/accounts", { name: "x", platform: "claude", type: "oauth", credentials: { accessToken: "a" }, groupIds: [groupId] }],
      ["POST", "/admin/accounts", { name: "x", platform: "claude", type: "password", credentials: {}, groupIds: [groupId] }],
      ["POST", "/admin/accounts", { name: "x", platform: "claude", type: "apikey", credentials: { apiKey: "k" }, groupIds: [999_999] }],
      ["POST", "/admin/accounts", { name: "x", platform: "claude", type: "apikey", credentials: { apiKey: "k" }, groupIds: [groupId], concurrency: 0 }],
      ["POST", "/admin/api-keys", { name: "x" }],
      ["POST", "/admin/api-keys", { name: "x", groupId: 999_999 }],
      ["POST", "/admin/api-keys", { name: "x", groupId, expiresAt: "not a date" }],
      ["PATCH", "/admin/accounts/1", { status: "exploded" }],
      ["GET", "/admin/usage?groupBy=color", undefined],
      ["GET", "/admin/usage?from=yesterday", undefined],
    ];
    for (const [method, path, body] of invalid) {
      const response = await harness.admin(method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(response.body).toMatchObject({ error: { message: expect.any(String) } });
    }
    const accounts = await harness.admin<{ data: AccountRow[] }>("GET", "/admin/accounts");
    expect(accounts.body.data.filter((account) => account.name === "x")).toEqual([]);
  });

  it("creates, lists, patches, resets and deletes an account without ever returning its credentials", async () => {
    const secret = "sk-ant-admin-secret-credential";
    const created = await harness.admin<AccountRow>("POST", "/admin/accounts", {
      name: "lifecycle",
      platform: "claude",
      type: "apikey",
      credentials: { apiKey: secret },
      groupIds: [groupId],
      priority: 7,
      concurrency: 5,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "lifecycle", priority: 7, concurrency: 5, status: "active", groupIds: [groupId] });
    expect(JSON.stringify(created.body)).not.toContain(secret);
    const id = created.body.id;

    const listed = await harness.admin<{ data: AccountRow[] }>("GET", "/admin/accounts");
    expect(listed.body.data.find((account) => account.id === id)).toMatchObject({ name: "lifecycle" });
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const patched = await harness.admin<AccountRow>("PATCH", `/admin/accounts/${id}`, {
      name: "renamed",
      priority: 3,
      schedulable: false,
      credentials: { apiKey: `${secret}-rotated` },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, name: "renamed", priority: 3, schedulable: false });
    expect(JSON.stringify(patched.body)).not.toContain(secret);

    await harness.gateway.database.accounts.markRateLimited(id, Date.now() + 60_000, "test");
    await harness.gateway.database.accounts.markError(id, "refused");
    const before = await harness.admin<{ data: AccountRow[] }>("GET", "/admin/accounts");
    expect(before.body.data.find((account) => account.id === id)).toMatchObject({
      status: "error",
      errorMessage: "refused",
      rateLimitedUntil: expect.any(Number),
    });
    const reset = await harness.admin<AccountRow>("POST", `/admin/accounts/${id}/reset`);
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ id, status: "active", errorMessage: null, rateLimitedUntil: null });

    expect((await harness.admin("DELETE", `/admin/accounts/${id}`)).status).toBe(204);
    const after = await harness.admin<{ data: AccountRow[] }>("GET", "/admin/accounts");
    expect(after.body.data.find((account) => account.id === id)).toBeUndefined();
    expect((await harness.admin("DELETE", `/admin/accounts/${id}`)).status).toBe(404);
    expect((await harness.admin("PATCH", `/admin/accounts/${id}`, { name: "ghost" })).status).toBe(404);
    expect((await harness.admin("POST", `/admin/accounts/${id}/reset`)).status).toBe(404);
  });

  it("shows a key once, never lists it, and stops honouring it once deleted", async () => {
    const account = await harness.admin("POST", "/admin/accounts", {
      name: "serving",
      platform: "claude",
      type: "apikey",
      credentials: { apiKey: "sk-ant-serving" },
      groupIds: [groupId],
    });
    expect(account.status).toBe(201);
    const created = await harness.admin<{ id: number; key: string; prefix: string }>("POST", "/admin/api-keys", {
      name: "once",
      groupId,
    });
    expect(created.status).toBe(201);
    const { id, key, prefix } = created.body;
    expect(key).toMatch(/^sr-/);
    expect(key.startsWith(prefix)).toBe(true);

    const listed = await harness.admin<{ data: Array<{ id: number; prefix: string }> }>("GET", "/admin/api-keys");
    expect(listed.body.data.find((entry) => entry.id === id)).toMatchObject({ prefix });
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const client = new Anthropic({ apiKey: key, baseURL: harness.url, maxRetries: 0 });
    const ask = () => client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    await expect(ask()).resolves.toMatchObject({ type: "message" });

    expect((await harness.admin("DELETE", `/admin/api-keys/${id}`)).status).toBe(204);
    await expect(ask()).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    expect((await harness.admin("DELETE", `/admin/api-keys/${id}`)).status).toBe(404);
  });

  it("totals usage by account, key and model", async () => {
    const seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-usage" } }] });
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    await client.messages.create({ model: "claude-usage-model", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    await harness.gateway.usage.flush();
    const byKey = await harness.admin<{ data: Array<{ key: string; requests: number; inputTokens: number }> }>(
      "GET",
      "/admin/usage?groupBy=key",
    );
    expect(byKey.body.data.find((row) => row.key === String(seeded.keyId))).toMatchObject({ requests: 1 });
    const byAccount = await harness.usageOf(seeded.accountIds[0]!);
    expect(byAccount).toMatchObject({ requests: 1, errors: 0 });
    expect(byAccount!.inputTokens).toBeGreaterThan(0);
    const byModel = await harness.admin<{ data: Array<{ key: string; requests: number }> }>("GET", "/admin/usage?groupBy=model");
    // The model the upstream says answered, as its usage reports it.
    expect(byModel.body.data.map((row) => row.key)).toContain(claudeMessage().model);
  });
});
