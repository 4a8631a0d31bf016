import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, startTestGateway, type TestGateway } from "./harness";

interface Group {
  id: number;
  name: string;
  platform: string;
  mode: string;
}
interface Account {
  id: string;
  name: string;
  platform: string;
  groupIds: number[];
}
interface ErrorBody {
  error: { message: string };
}

/**
 * Group modes and platforms at the admin API: modes are `single` and `mixed`; a `single` group takes
 * accounts of its own platform only, and a refused link writes nothing.
 */
describe.each(backends)("group modes and platforms (%s)", (backend) => {
  let harness: TestGateway;
  let claudeSingle: Group;
  let claudeMixed: Group;

  const groups = async () => (await harness.admin<{ data: Group[] }>("GET", "/admin/groups")).body.data;
  const accounts = async () => (await harness.admin<{ data: Account[] }>("GET", "/admin/accounts")).body.data;
  const createGroup = async (body: Record<string, unknown>) => {
    const response = await harness.admin<Group>("POST", "/admin/groups", body);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  };
  const openaiAccount = (name: string, groupIds: number[]) => ({
    name,
    platform: "openai",
    type: "apikey",
    credentials: { apiKey: "sk-openai-SECRET" },
    groupIds,
  });

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    claudeSingle = await createGroup({ name: "claude-single", platform: "claude" });
    claudeMixed = await createGroup({ name: "claude-mixed", platform: "claude", mode: "mixed" });
  });
  afterAll(async () => harness?.close());

  it("takes the platforms of the provider registry, and refuses any other with a 400 that names them", async () => {
    const before = await groups();
    const response = await harness.admin<ErrorBody>("POST", "/admin/groups", { name: "mistral", platform: "mistral" });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toBe("body/platform must be equal to one of the allowed values: claude, openai, gemini");
    expect(await groups()).toEqual(before);
    for (const platform of ["claude", "openai", "gemini"]) {
      expect((await createGroup({ name: `${platform}-registry`, platform })).platform).toBe(platform);
    }
  });

  it("refuses the removed mode `forced` with a 400 that names the modes, and creates no group", async () => {
    const before = await groups();
    const response = await harness.admin<ErrorBody>("POST", "/admin/groups", {
      name: "forced-group",
      platform: "claude",
      mode: "forced",
    });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toBe("body/mode must be equal to one of the allowed values: single, mixed");
    expect(await groups()).toEqual(before);
  });

  it("refuses an OpenAI account for a single Claude group on create with a 400, and creates nothing", async () => {
    const groupsBefore = await groups();
    const accountsBefore = await accounts();
    for (const groupIds of [[claudeSingle.id], [claudeMixed.id, claudeSingle.id]]) {
      const response = await harness.admin<ErrorBody>("POST", "/admin/accounts", openaiAccount("refused", groupIds));
      expect(response.status, JSON.stringify(groupIds)).toBe(400);
      expect(response.body.error.message).toBe(
        'Account of platform openai cannot join group "claude-single": it is a single claude group; only a mixed group holds accounts of several platforms',
      );
      expect(JSON.stringify(response.body)).not.toContain("SECRET");
    }
    expect(await accounts()).toEqual(accountsBefore);
    expect(await groups()).toEqual(groupsBefore);
  });

  it("refuses to move an OpenAI account into a single Claude group on update with a 400, and changes nothing", async () => {
    const created = await harness.admin<Account>("POST", "/admin/accounts", openaiAccount("openai-in-mixed", [claudeMixed.id]));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.groupIds).toEqual([claudeMixed.id]);
    const accountsBefore = await accounts();

    const response = await harness.admin<ErrorBody>("PATCH", `/admin/accounts/${created.body.id}`, {
      groupIds: [claudeSingle.id],
      name: "renamed",
    });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toContain('cannot join group "claude-single"');
    expect(await accounts()).toEqual(accountsBefore);

    // A Claude account joins both; a patch of other fields leaves the OpenAI account's groups alone.
    const claude = await harness.admin<Account>("POST", "/admin/accounts", {
      name: "claude",
      platform: "claude",
      type: "apikey",
      credentials: { apiKey: "sk-ant-SECRET" },
      groupIds: [claudeSingle.id, claudeMixed.id],
    });
    expect(claude.status, JSON.stringify(claude.body)).toBe(201);
    expect(claude.body.groupIds).toEqual([claudeSingle.id, claudeMixed.id]);
    const patched = await harness.admin<Account>("PATCH", `/admin/accounts/${created.body.id}`, { name: "renamed" });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "renamed", groupIds: [claudeMixed.id] });
  });
});
