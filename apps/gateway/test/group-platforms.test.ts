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
});
