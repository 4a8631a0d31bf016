import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, claudeReply, paths, startTestGateway, type TestGateway } from "./harness";

interface Group {
  id: number;
  name: string;
}

interface Account {
  id: string;
  groupIds: number[];
}

/** DELETE /admin/groups/:id: refused while keys use the group; otherwise its accounts lose the membership and serve on. */
describe.each(backends)("group delete (%s)", (backend) => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    harness.upstream.on("POST", paths.claudeMessages, claudeReply);
  });
  afterAll(async () => harness?.close());

  it("refuses with a 409 while a key uses the group, then deletes it once the key is revoked", async () => {
    const seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-delete" } }] });
    const refused = await harness.admin("DELETE", `/admin/groups/${seeded.groupId}`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { type: "conflict", message: "Group is used by 1 API key(s); revoke or move them first." } });
    const groups = await harness.admin<{ data: Group[] }>("GET", "/admin/groups");
    expect(groups.body.data.map((group) => group.id)).toContain(seeded.groupId);

    expect((await harness.admin("DELETE", `/admin/api-keys/${seeded.keyId}`)).status).toBe(204);
    expect((await harness.admin("DELETE", `/admin/groups/${seeded.groupId}`)).status).toBe(204);
    const after = await harness.admin<{ data: Group[] }>("GET", "/admin/groups");
    expect(after.body.data.map((group) => group.id)).not.toContain(seeded.groupId);
    expect((await harness.admin("DELETE", `/admin/groups/${seeded.groupId}`)).status).toBe(404);
    expect((await harness.admin("DELETE", "/admin/groups/999999")).status).toBe(404);
    expect((await harness.admin("DELETE", "/admin/groups/not-a-number")).status).toBe(400);
  });

  it("takes the group off its accounts, which keep serving their other groups", async () => {
    const kept = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-two-groups" } }] });
    const doomed = await harness.admin<Group>("POST", "/admin/groups", { name: "doomed", platform: "claude" });
    const accountId = kept.accountIds[0]!;
    const patched = await harness.admin<Account>("PATCH", `/admin/accounts/${accountId}`, { groupIds: [kept.groupId, doomed.body.id] });
    expect(patched.body.groupIds.sort()).toEqual([kept.groupId, doomed.body.id].sort());
    const client = new Anthropic({ apiKey: kept.key, baseURL: harness.url, maxRetries: 0 });
    const ask = () => client.messages.create({ model: "claude-opus-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    await expect(ask()).resolves.toMatchObject({ type: "message" });

    expect((await harness.admin("DELETE", `/admin/groups/${doomed.body.id}`)).status).toBe(204);
    const accounts = await harness.admin<{ data: Account[] }>("GET", "/admin/accounts");
    expect(accounts.body.data.find((account) => account.id === accountId)?.groupIds).toEqual([kept.groupId]);
    await expect(ask()).resolves.toMatchObject({ type: "message" });
  });
});
