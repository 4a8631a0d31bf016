import { GoogleGenAI } from "@google/genai";
import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeAssistReply, paths, startTestGateway, TokenEndpoint, type TestGateway } from "./harness";

const hour = 3_600_000;
const loadCodeAssist = "/v1internal:loadCodeAssist";
const onboardUser = "/v1internal:onboardUser";

/**
 * Gemini OAuth accounts added without their Code Assist project: the admin API asks Code Assist for it
 * (loadCodeAssist, onboardUser when the account has never been set up), refreshing the operator's token
 * first when it is stale, and stores it with the credentials.
 */
describe("Gemini account set-up through the admin API (embedded)", () => {
  let harness: TestGateway;
  const tokens = new TokenEndpoint();
  let groupId: number;
  let key: string;

  /** loadCodeAssist answers by the bearer token: "onboarded-*" accounts have a project, "refused-*" get a 401, others none yet. */
  const loadReply = (request: RecordedRequest) => {
    const bearer = String(request.headers.authorization);
    if (bearer.includes("refused")) return { status: 401, json: { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } } };
    if (bearer.includes("onboarded")) return { json: { currentTier: { id: "standard-tier" }, cloudaicompanionProject: "project-from-load" } };
    return { json: { allowedTiers: [{ id: "free-tier", isDefault: true }] } };
  };

  beforeAll(async () => {
    harness = await startTestGateway();
    tokens.install(harness.upstream);
    harness.upstream
      .on("POST", loadCodeAssist, loadReply)
      .on("POST", onboardUser, { json: { name: "operations/onboard-1", done: true, response: { cloudaicompanionProject: { id: "project-from-onboarding" } } } })
      .on("POST", paths.codeAssistGenerate, codeAssistReply);
    const group = await harness.admin<{ id: number }>("POST", "/admin/groups", { name: "gemini-setup", platform: "gemini" });
    groupId = group.body.id;
    const created = await harness.admin<{ key: string }>("POST", "/admin/api-keys", { name: "gemini-setup", groupId });
    key = created.body.key;
  });
  afterAll(async () => harness?.close());

  const addAccount = (name: string, credentials: Record<string, unknown>) =>
    harness.admin<Record<string, unknown>>("POST", "/admin/accounts", { name, platform: "gemini", type: "oauth", credentials, groupIds: [groupId] });

  /** The project the account's next Code Assist request names. */
  const projectUsed = async (accountName: string) => {
    const before = harness.upstream.requestsTo(paths.codeAssistGenerate).length;
    const client = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: harness.url } });
    await client.models.generateContent({ model: "gemini-2.5-pro", contents: `hello from ${accountName}` });
    const sent = harness.upstream.requestsTo(paths.codeAssistGenerate).slice(before);
    expect(sent).toHaveLength(1);
    return sent[0]!.json<{ project?: string }>().project;
  };

  const disable = async (id: unknown) => {
    const patched = await harness.admin("PATCH", `/admin/accounts/${String(id)}`, { status: "disabled" });
    expect(patched.status).toBe(200);
  };

  it("finds the project of an account that is already set up, with the operator's token", async () => {
    const loadsBefore = harness.upstream.requestsTo(loadCodeAssist).length;
    const created = await addAccount("onboarded", { accessToken: "onboarded-access", refreshToken: "onboarded-refresh", expiresAt: Date.now() + hour });
    expect(created.status).toBe(201);
    expect(JSON.stringify(created.body)).not.toContain("project-from-load");
    const loads = harness.upstream.requestsTo(loadCodeAssist).slice(loadsBefore);
    expect(loads).toHaveLength(1);
    expect(loads[0]!.headers.authorization).toBe("Bearer onboarded-access");
    expect(tokens.calls("onboarded-refresh")).toBe(0);
    expect(await projectUsed("onboarded")).toBe("project-from-load");
    await disable(created.body.id);
  });

  it("refreshes a stale token first, then onboards an account that never was", async () => {
    const onboardsBefore = harness.upstream.requestsTo(onboardUser).length;
    const created = await addAccount("new-user", { refreshToken: "new-user-refresh" });
    expect(created.status).toBe(201);
    expect(tokens.calls("new-user-refresh")).toBe(1);
    const onboards = harness.upstream.requestsTo(onboardUser).slice(onboardsBefore);
    expect(onboards).toHaveLength(1);
    expect(onboards[0]!.headers.authorization).toBe("Bearer fresh-new-user-refresh-1");
    expect(onboards[0]!.json()).toMatchObject({ tierId: "free-tier" });
    expect(await projectUsed("new-user")).toBe("project-from-onboarding");
    // The refreshed token was stored with the project: serving the request needed no second refresh.
    expect(tokens.calls("new-user-refresh")).toBe(1);
    await disable(created.body.id);
  });

  it("asks nothing when the operator gives the project", async () => {
    const loadsBefore = harness.upstream.requestsTo(loadCodeAssist).length;
    const created = await addAccount("given", { accessToken: "given-access", refreshToken: "given-refresh", expiresAt: Date.now() + hour, projectId: "project-given" });
    expect(created.status).toBe(201);
    expect(harness.upstream.requestsTo(loadCodeAssist)).toHaveLength(loadsBefore);
    expect(await projectUsed("given")).toBe("project-given");
    await disable(created.body.id);
  });

  it("answers 400 and adds nothing when Code Assist refuses the account, without echoing its token", async () => {
    const before = await harness.admin<{ data: Array<{ name: string }> }>("GET", "/admin/accounts");
    const refused = await addAccount("refused", { accessToken: "refused-access", refreshToken: "refused-refresh", expiresAt: Date.now() + hour });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/set the account up/i);
    expect(JSON.stringify(refused.body)).not.toContain("refused-access");
    const after = await harness.admin<{ data: Array<{ name: string }> }>("GET", "/admin/accounts");
    expect(after.body.data).toHaveLength(before.body.data.length);
  });

  it("sets the account up again when its credentials are replaced without a project", async () => {
    const created = await addAccount("replaced", { accessToken: "replaced-access", refreshToken: "replaced-refresh", expiresAt: Date.now() + hour, projectId: "project-old" });
    expect(created.status).toBe(201);
    const patched = await harness.admin("PATCH", `/admin/accounts/${String(created.body.id)}`, {
      credentials: { accessToken: "onboarded-replaced", refreshToken: "replaced-refresh-2", expiresAt: Date.now() + hour },
    });
    expect(patched.status).toBe(200);
    expect(await projectUsed("replaced")).toBe("project-from-load");
    const refusedPatch = await harness.admin<Record<string, unknown>>("PATCH", `/admin/accounts/${String(created.body.id)}`, {
      credentials: { accessToken: "refused-again", refreshToken: "replaced-refresh-3", expiresAt: Date.now() + hour },
    });
    expect(refusedPatch.status).toBe(400);
    expect(await projectUsed("replaced")).toBe("project-from-load");
    await disable(created.body.id);
  });
});
