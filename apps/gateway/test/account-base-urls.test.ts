import Anthropic from "@anthropic-ai/sdk";
import { lookup } from "node:dns";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, paths, startTestGateway, type TestGateway } from "./harness";

interface Problem {
  field: string;
  message: string;
}
interface ErrorBody {
  error: { message: string; problems?: Problem[] };
}

const MODEL = "claude-opus-4-5";

/**
 * An account's own base URL cannot turn the gateway into a proxy into the operator's network (issue 13,
 * item 6): https to a public address only, checked when it is set and again on every connection, unless
 * UPSTREAM_ALLOWLIST names the host.
 */
describe("account base URLs (embedded, UPSTREAM_ALLOWLIST empty)", () => {
  let harness: TestGateway;
  let groupId: number;
  let key: string;
  /** The name the injected resolver answers for: a public address until `rebound`, then loopback. */
  const lookups: string[] = [];
  let rebound = false;
  /** A TCP listener on 127.0.0.1 that counts the connections it gets (none may come). */
  let listener: Server;
  let connections = 0;

  beforeAll(async () => {
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    harness = await startTestGateway({
      env: { UPSTREAM_ALLOWLIST: "" },
      overrides: {
        upstreamLookup: (hostname, options, callback) => {
          if (hostname !== "rebind.example") {
            lookup(hostname, options, callback);
            return;
          }
          lookups.push(hostname);
          callback(null, [rebound ? { address: "127.0.0.1", family: 4 } : { address: "93.184.216.34", family: 4 }]);
        },
      },
    });
    harness.upstream.on("POST", /\/v1\/messages$/, claudeReply);
    const group = await harness.admin<{ id: number }>("POST", "/admin/groups", { name: "base-urls", platform: "claude" });
    groupId = group.body.id;
    const created = await harness.admin<{ key: string }>("POST", "/admin/api-keys", { name: "base-urls", groupId });
    key = created.body.key;
  });
  afterAll(async () => {
    await harness?.close();
    await new Promise((resolve) => listener?.close(resolve));
  });

  const account = (baseUrl: unknown, name = "based") => ({
    name,
    platform: "claude",
    type: "apikey",
    credentials: { apiKey: "sk-ant-base-url-SECRET" },
    groupIds: [groupId],
    baseUrl,
  });
  const ask = () =>
    new Anthropic({ apiKey: key, baseURL: harness.url, maxRetries: 0 }).messages.create({
      model: MODEL,
      max_tokens: 8,
      messages: [{ role: "user", content: "hi" }],
    });

  it("refuses each bad base URL with a 400 naming baseUrl and the problem, and stores none of them", async () => {
    const port = harness.upstream.url.split(":").at(-1);
    const cases: Array<[string, RegExp]> = [
      ["file:///etc/passwd", /https/],
      ["gopher://example.com:70/_GET", /https/],
      ["ftp://example.com/", /https/],
      ["http://example.com/", /plain http/],
      [`http://127.0.0.1:${port}/`, /plain http/],
      ["https://user:hunter2@api.example.com/", /user name or password/],
      ["https://api.example.com/v1?key=abc", /query/],
      ["https://api.example.com/v1#top", /fragment/],
      ["not a url", /valid/],
      ["http://169.254.169.254/latest/meta-data/", /plain http/],
      ["https://169.254.169.254/latest/meta-data/", /non-public/],
      ["https://127.0.0.1/", /non-public/],
      ["https://127.1.2.3/", /non-public/],
      ["https://2130706433/", /non-public/],
      ["https://0.0.0.0/", /non-public/],
      ["https://10.1.2.3/", /non-public/],
      ["https://172.16.0.1/", /non-public/],
      ["https://172.31.255.254/", /non-public/],
      ["https://192.168.1.1/", /non-public/],
      ["https://100.64.0.1/", /non-public/],
      ["https://[::1]/", /non-public/],
      ["https://[::]/", /non-public/],
      ["https://[::ffff:127.0.0.1]/", /non-public/],
      ["https://[::ffff:a9fe:a9fe]/", /non-public/],
      ["https://[fc00::1]/", /non-public/],
      ["https://[fd12:3456::1]/", /non-public/],
      ["https://[fe80::1]/", /non-public/],
      ["https://[64:ff9b::7f00:1]/", /non-public/],
      ["https://localhost/", /resolves to .*non-public/],
      ["https://nowhere.invalid/", /could not be resolved/],
    ];
    for (const [baseUrl, problem] of cases) {
      const response = await harness.admin<ErrorBody>("POST", "/admin/accounts", account(baseUrl));
      expect(response.status, `${baseUrl}: ${JSON.stringify(response.body)}`).toBe(400);
      const problems = response.body.error.problems ?? [];
      expect(problems.map((each) => each.field), baseUrl).toContain("baseUrl");
      expect(problems.find((each) => each.field === "baseUrl")?.message, baseUrl).toMatch(problem);
      expect(JSON.stringify(response.body)).not.toContain("hunter2");
      expect(JSON.stringify(response.body)).not.toContain("SECRET");
    }
    const listed = await harness.admin<{ data: Array<{ baseUrl: string | null }> }>("GET", "/admin/accounts");
    expect(listed.body.data).toEqual([]);
  });

  it("takes https to a public address, and refuses a patch to a private one", async () => {
    const created = await harness.admin<{ id: string; baseUrl: string }>("POST", "/admin/accounts", account("https://1.1.1.1/anthropic", "public"));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.baseUrl).toBe("https://1.1.1.1/anthropic");
    const patched = await harness.admin<ErrorBody>("PATCH", `/admin/accounts/${created.body.id}`, { baseUrl: "https://192.168.0.10/" });
    expect(patched.status).toBe(400);
    expect(patched.body.error.problems?.map((each) => each.field)).toEqual(["baseUrl"]);
    expect((await harness.admin("DELETE", `/admin/accounts/${created.body.id}`)).status).toBe(204);
  });

  it("refuses at connect time a stored base URL on loopback, by address or by a name resolving there", async () => {
    for (const baseUrl of [`${harness.upstream.url}/stored-ip`, `${harness.upstream.url.replace("127.0.0.1", "localhost")}/stored-name`]) {
      const created = await harness.admin<{ id: string }>("POST", "/admin/accounts", account("https://1.1.1.1/", "stored"));
      expect(created.status).toBe(201);
      // As a row written before these checks existed would be.
      await harness.gateway.database.accounts.update(created.body.id, { baseUrl });
      const answer = await ask().then(
        () => "answered",
        (error: unknown) => (error as { status?: number }).status,
      );
      expect(answer, baseUrl).not.toBe("answered");
      expect(harness.upstream.requestsTo(/\/stored-(ip|name)\/v1\/messages$/), baseUrl).toEqual([]);
      expect((await harness.admin("DELETE", `/admin/accounts/${created.body.id}`)).status).toBe(204);
    }
  });

  it("refuses at connect time a name that resolved to a public address when it was set and to loopback later", async () => {
    const port = (listener.address() as { port: number }).port;
    const created = await harness.admin<{ id: string }>("POST", "/admin/accounts", account(`https://rebind.example:${port}/`, "rebinding"));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(lookups).toEqual(["rebind.example"]);
    rebound = true;
    await expect(ask()).rejects.toBeInstanceOf(Anthropic.APIError);
    expect(lookups.length).toBeGreaterThan(1);
    expect(connections).toBe(0);
    expect((await harness.admin("DELETE", `/admin/accounts/${created.body.id}`)).status).toBe(204);
  });
});

describe("account base URLs (embedded, UPSTREAM_ALLOWLIST names the hosts)", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { UPSTREAM_ALLOWLIST: "127.0.0.1,localhost" } });
    harness.upstream.on("POST", /\/v1\/messages$/, claudeReply);
  });
  afterAll(async () => harness?.close());

  it("relays over plain http to an allowlisted loopback host, by address and by name", async () => {
    for (const baseUrl of [`${harness.upstream.url}/allowed-ip`, `${harness.upstream.url.replace("127.0.0.1", "localhost")}/allowed-name`]) {
      const seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-allowed" }, baseUrl }] });
      const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
      await expect(client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] })).resolves.toMatchObject({
        type: "message",
      });
    }
    expect(harness.upstream.requestsTo(`/allowed-ip${paths.claudeMessages}`)).toHaveLength(1);
    expect(harness.upstream.requestsTo(`/allowed-name${paths.claudeMessages}`)).toHaveLength(1);
  });

  it("still refuses a userinfo, a query, or a private host the allowlist does not name", async () => {
    const group = await harness.admin<{ id: number }>("POST", "/admin/groups", { name: "allowlisted", platform: "claude" });
    for (const baseUrl of [`http://user:hunter2@127.0.0.1:1/`, "http://127.0.0.1:1/?a=b", "https://10.0.0.1/", "http://192.168.0.1/"]) {
      const response = await harness.admin<ErrorBody>("POST", "/admin/accounts", {
        name: "x",
        platform: "claude",
        type: "apikey",
        credentials: { apiKey: "sk-ant-x" },
        groupIds: [group.body.id],
        baseUrl,
      });
      expect(response.status, baseUrl).toBe(400);
      expect(response.body.error.problems?.map((each) => each.field), baseUrl).toContain("baseUrl");
      expect(JSON.stringify(response.body)).not.toContain("hunter2");
    }
  });
});
