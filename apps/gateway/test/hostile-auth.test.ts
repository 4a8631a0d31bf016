import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, paths, startTestGateway, type Seeded, type TestGateway } from "./harness";

const MODEL = "claude-opus-4-5";

interface OpenRequest {
  request: ClientRequest;
  response: Promise<IncomingMessage>;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
}

/** A POST whose headers declare `declaredBytes` of body; the caller writes (part of) the body itself. */
function openPost(base: string, path: string, headers: Record<string, string>, declaredBytes: number): OpenRequest {
  const url = new URL(path, base);
  const request = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    method: "POST",
    agent: false,
    headers: { "content-type": "application/json", "content-length": String(declaredBytes), ...headers },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once("response", resolve);
    request.once("error", reject);
  });
  const closed = new Promise<void>((resolve) => request.once("socket", (socket) => socket.once("close", () => resolve())));
  request.on("error", () => undefined);
  request.flushHeaders();
  return { request, response, closed };
}

async function readBody(response: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

describe("authentication before the body (embedded)", () => {
  let harness: TestGateway;
  let seeded: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { BODY_LIMIT_BYTES: String(32 * 1024 * 1024) } });
    seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-api03-upstream" } }] });
    harness.upstream.on("POST", paths.claudeMessages, claudeReply);
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("answers a large body without a key with its 401 while the body is still being sent, and /healthz meanwhile", async () => {
    const declared = 19 * 1024 * 1024;
    const open = openPost(harness.url, "/v1/messages", {}, declared);
    open.request.write(`{"model":"${MODEL}","max_tokens":1,"messages":[{"role":"user","content":"${"a".repeat(64 * 1024)}`);

    const response = await open.response;
    // The response came while the client had sent 64 KiB of 19 MiB: the gateway did not wait for the body.
    expect(open.request.writableEnded).toBe(false);
    expect(response.statusCode).toBe(401);
    expect(await readBody(response)).toMatchObject({ type: "error", error: { type: "authentication_error" } });

    const health = await fetch(`${harness.url}/healthz`);
    expect(health.status).toBe(200);
    // The gateway closes the connection rather than reading the rest of the body.
    await open.closed;
    open.request.destroy();
  });

  it.each([
    ["anthropic", "/v1/messages", { type: "error", error: { type: "authentication_error" } }],
    ["openai", "/v1/chat/completions", { error: { type: "invalid_request_error", code: "invalid_api_key" } }],
    ["gemini", `/v1beta/models/${MODEL}:generateContent`, { error: { code: 401, status: "UNAUTHENTICATED" } }],
  ] as const)("answers `{bad` without a key with 401, not 400 (%s)", async (_dialect, path, shape) => {
    const response = await fetch(`${harness.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{bad" });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject(shape);
  });

  it("still reads and relays the body of a request with a valid key", async () => {
    const response = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": seeded.key },
      body: JSON.stringify({ model: MODEL, max_tokens: 1, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    const bad = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": seeded.key },
      body: "{bad",
    });
    expect(bad.status).toBe(400);
  });
});

/** GETs `path` with `headers` over `agent`, resolving to the status once the answer is read. */
function get(agent: Agent, base: string, path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, agent, headers }, (response) => {
      response.resume();
      response.once("end", () => resolve(response.statusCode ?? 0));
      response.once("error", reject);
    });
    request.once("error", reject);
    request.end();
  });
}

describe("made-up keys (embedded)", () => {
  let harness: TestGateway;
  let seeded: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway();
    seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-api03-upstream" } }] });
    harness.upstream.on("POST", paths.claudeMessages, claudeReply);
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("50,000 requests with distinct 15 KB keys grow RSS by less than 50 MB, and a real key still works after them", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const tail = "k".repeat(15 * 1024);
    const flood = async (from: number, count: number) => {
      let next = from;
      const worker = async () => {
        while (next < from + count) {
          const index = next++;
          const status = await get(agent, harness.url, "/v1/models", { "x-api-key": `sr-${index}-${tail}`, "anthropic-version": "2023-06-01" });
          if (status !== 401) throw new Error(`request ${index}: status ${status}`);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    };
    await flood(0, 2_000); // warm-up: sockets, JIT, the heap's working size
    const before = process.memoryUsage().rss;
    await flood(2_000, 50_000);
    const grown = process.memoryUsage().rss - before;
    agent.destroy();
    expect(grown).toBeLessThan(50 * 1024 * 1024);

    const response = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": seeded.key },
      body: JSON.stringify({ model: MODEL, max_tokens: 1, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
  }, 180_000);
});
