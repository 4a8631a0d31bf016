import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "./harness";

interface Problem {
  field: string;
  message: string;
}
interface ErrorBody {
  error: { message: string; problems?: Problem[] };
}
interface AccountRow {
  id: string;
  name: string;
  priority: number;
  concurrency: number;
  groupIds: number[];
}
interface KeyRow {
  id: number;
  name: string;
  expiresAt: number | null;
}

/**
 * The admin API refuses configurations that cannot work, with a 400 listing one problem per bad field,
 * and writes nothing then (issue 13, item 10).
 */
describe("admin API validation (embedded)", () => {
  let harness: TestGateway;
  let claudeGroup: number;

  const account = (overrides: Record<string, unknown> = {}) => ({
    name: "checked",
    platform: "claude",
    type: "apikey",
    credentials: { apiKey: "sk-ant-validation-SECRET" },
    groupIds: [claudeGroup],
    ...overrides,
  });
  const refused = async (method: string, path: string, body: unknown) => {
    const response = await harness.admin<ErrorBody>(method, path, body);
    expect(response.status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`).toBe(400);
    expect(JSON.stringify(response.body)).not.toContain("SECRET");
    return response.body.error;
  };
  const fieldsOf = (error: ErrorBody["error"]) => (error.problems ?? []).map((problem) => problem.field).sort();
  const accounts = async () => (await harness.admin<{ data: AccountRow[] }>("GET", "/admin/accounts")).body.data;
  const keys = async () => (await harness.admin<{ data: KeyRow[] }>("GET", "/admin/api-keys")).body.data;

  beforeAll(async () => {
    harness = await startTestGateway();
    const group = await harness.admin<{ id: number }>("POST", "/admin/groups", { name: "validation", platform: "claude" });
    expect(group.status).toBe(201);
    claudeGroup = group.body.id;
  });
  afterAll(async () => harness?.close());

  it("refuses an account in no group, on create and on update", async () => {
    const before = await accounts();
    const error = await refused("POST", "/admin/accounts", account({ groupIds: [] }));
    expect(fieldsOf(error)).toEqual(["groupIds"]);
    expect(error.message).toMatch(/groupIds/);
    expect(await accounts()).toEqual(before);

    const created = await harness.admin<AccountRow>("POST", "/admin/accounts", account({ name: "grouped" }));
    expect(created.status).toBe(201);
    expect(fieldsOf(await refused("PATCH", `/admin/accounts/${created.body.id}`, { groupIds: [] }))).toEqual(["groupIds"]);
    expect((await accounts()).find((row) => row.id === created.body.id)?.groupIds).toEqual([claudeGroup]);
  });

  it("refuses an openai account for a single claude group, naming groupIds", async () => {
    const error = await refused("POST", "/admin/accounts", account({ platform: "openai", credentials: { apiKey: "sk-SECRET" } }));
    expect(fieldsOf(error)).toEqual(["groupIds"]);
    expect(error.message).toContain('cannot join group "validation"');
  });

  it("refuses a null priority or concurrency instead of storing 0 (the top priority)", async () => {
    const before = await accounts();
    expect(fieldsOf(await refused("POST", "/admin/accounts", account({ priority: null })))).toEqual(["priority"]);
    expect(fieldsOf(await refused("POST", "/admin/accounts", account({ concurrency: null })))).toEqual(["concurrency"]);
    expect(await accounts()).toEqual(before);

    const created = await harness.admin<AccountRow>("POST", "/admin/accounts", account({ name: "defaults" }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ priority: 50, concurrency: 3 });
    expect(fieldsOf(await refused("PATCH", `/admin/accounts/${created.body.id}`, { priority: null }))).toEqual(["priority"]);
    expect((await accounts()).find((row) => row.id === created.body.id)?.priority).toBe(50);
  });

  it("lists every problem of a body at once, each naming its field", async () => {
    const error = await refused("POST", "/admin/accounts", {
      name: "",
      platform: "claude",
      type: "apikey",
      credentials: {},
      groupIds: [],
      priority: -1,
      concurrency: "many",
      models: [""],
      colour: "blue",
    });
    expect(fieldsOf(error)).toEqual(["colour", "concurrency", "credentials.apiKey", "groupIds", "models[0]", "name", "priority"]);
    for (const problem of error.problems!) expect(error.message).toContain(problem.message);
  });

  it("applies the same credential rules as the repository: an oauth account needs a refresh token", async () => {
    const error = await refused("POST", "/admin/accounts", account({ type: "oauth", credentials: { accessToken: "at-SECRET", expiresAt: "soon" } }));
    expect(fieldsOf(error)).toEqual(["credentials.expiresAt", "credentials.refreshToken"]);
  });

  it("refuses an API key in no group or whose expiresAt has passed", async () => {
    const before = await keys();
    expect(fieldsOf(await refused("POST", "/admin/api-keys", { name: "nogroup" }))).toEqual(["groupId"]);
    expect(fieldsOf(await refused("POST", "/admin/api-keys", { name: "gone", groupId: 999_999 }))).toEqual(["groupId"]);
    expect(fieldsOf(await refused("POST", "/admin/api-keys", { name: "past", groupId: claudeGroup, expiresAt: "2001-01-01T00:00:00Z" }))).toEqual([
      "expiresAt",
    ]);
    expect(fieldsOf(await refused("POST", "/admin/api-keys", { name: "past", groupId: claudeGroup, expiresAt: Date.now() - 60_000 }))).toEqual([
      "expiresAt",
    ]);
    expect(await keys()).toEqual(before);
  });

  it("reads a numeric expiresAt as epoch milliseconds, and refuses strings that are not ISO 8601", async () => {
    const at = Date.now() + 3_600_000;
    const created = await harness.admin<KeyRow>("POST", "/admin/api-keys", { name: "epoch", groupId: claudeGroup, expiresAt: at });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.expiresAt).toBe(at);

    const iso = new Date(at).toISOString();
    const fromIso = await harness.admin<KeyRow>("POST", "/admin/api-keys", { name: "iso", groupId: claudeGroup, expiresAt: iso });
    expect(fromIso.status, JSON.stringify(fromIso.body)).toBe(201);
    expect(fromIso.body.expiresAt).toBe(at);

    // 12 is 12 ms after 1970 (long past), not December 2001.
    expect(fieldsOf(await refused("POST", "/admin/api-keys", { name: "twelve", groupId: claudeGroup, expiresAt: 12 }))).toEqual(["expiresAt"]);
    for (const expiresAt of ["12", "next week", String(at), 1.5e20, 1.5]) {
      expect(fieldsOf(await refused("POST", "/admin/api-keys", { name: "odd", groupId: claudeGroup, expiresAt }))).toEqual(["expiresAt"]);
    }
  });

  it("names the field of a route schema's refusal too", async () => {
    const error = await refused("POST", "/admin/groups", { name: "", platform: "mistral" });
    expect(fieldsOf(error)).toEqual(["name", "platform"]);
  });
});
