import Anthropic from "@anthropic-ai/sdk";
import { createLogger } from "@subrelay/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, paths, startTestGateway, type TestGateway } from "./harness";

const MODEL = "claude-opus-4-5";

/** The gateway's log at `info`: one access line per request, in the refresh worker's format; keys' last use recorded. */
describe("access log and key last use (embedded)", () => {
  let harness: TestGateway;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    harness = await startTestGateway({
      env: { LOG_LEVEL: "info" },
      overrides: { logStream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } },
    });
    harness.upstream.on("POST", paths.claudeMessages, claudeReply);
  });
  afterAll(async () => harness?.close());

  const accessLines = () => lines.filter((line) => line.msg === "request");

  it("writes one info line per request with method, route, status, platform, account id, duration, bytes and request id, never the key", async () => {
    const seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-access-log" } }] });
    lines.length = 0;
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    await client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    const refused = await fetch(`${harness.url}/v1/messages?key=${seeded.key}`, {
      method: "POST",
      headers: { "x-api-key": "sr-not-a-real-key-000000000000000000000000" },
      body: "{}",
    });
    await refused.text();

    const access = accessLines();
    expect(access).toHaveLength(2);
    const [relayed, unauthorised] = access;
    expect(relayed).toMatchObject({
      level: "info",
      method: "POST",
      route: "/v1/messages",
      status: 200,
      platform: "claude",
      accountId: seeded.accountIds[0],
    });
    expect(typeof relayed!.requestId).toBe("string");
    expect(relayed!.durationMs).toBeGreaterThanOrEqual(0);
    expect(relayed!.bytes).toBeGreaterThan(0);
    expect(unauthorised).toMatchObject({ level: "info", method: "POST", route: "/v1/messages", status: 401, accountId: null });
    expect(JSON.stringify(lines)).not.toContain(seeded.key);
    expect(JSON.stringify(lines)).not.toContain("sr-not-a-real-key");
  });

  it("logs in the refresh worker's format: level as its name, then time, pid, fields, msg", async () => {
    await (await fetch(`${harness.url}/healthz`)).text();
    // Any line the gateway wrote (the access line of that request, or fastify's own "listening" line).
    const gatewayLine = lines.at(-1)!;
    let workerLine: Record<string, unknown> = {};
    createLogger("info", { write: (line) => void (workerLine = JSON.parse(line) as Record<string, unknown>) }).info({ route: "/healthz" }, "request");
    expect(Object.keys(gatewayLine).slice(0, 3)).toEqual(Object.keys(workerLine).slice(0, 3));
    expect(Object.keys(gatewayLine).at(-1)).toBe("msg");
    expect(gatewayLine.level).toBe(workerLine.level);
    expect(gatewayLine).not.toHaveProperty("hostname");
  });

  it("records a key's lastUsedAt, shown by the admin API", async () => {
    const seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-last-used" } }] });
    const keyOf = async () => {
      const listed = await harness.admin<{ data: Array<{ id: number; lastUsedAt: number | null }> }>("GET", "/admin/api-keys");
      return listed.body.data.find((entry) => entry.id === seeded.keyId);
    };
    expect(await keyOf()).toMatchObject({ lastUsedAt: null });
    const before = Date.now();
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    await client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    await harness.gateway.flushLastUsed();
    const lastUsedAt = (await keyOf())?.lastUsedAt;
    expect(lastUsedAt).not.toBeNull();
    expect(lastUsedAt).toBeGreaterThanOrEqual(before);
  });
});
