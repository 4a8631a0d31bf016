import { request as httpRequest } from "node:http";
import { GoogleGenAI } from "@google/genai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeAssistReply, jsonFixture, openaiResponsesReply, splitSse, startTestGateway, TokenEndpoint, type Seeded, type TestGateway } from "./harness";
import { readFixture } from "@subrelay/providers-core/testing";

const hour = 3_600_000;
const geminiFixtures = new URL("../../../packages/providers-gemini/src/__fixtures__/", import.meta.url);

/**
 * The endpoints Claude Code, Codex CLI and Gemini CLI call besides generation: product info at `/`, model
 * retrieval, Gemini's countTokens and embedContent, the Responses API's compact and retrieve, the WebSocket
 * probe on `/v1/responses`, and `:streamGenerateContent` without `alt=sse` (a JSON array).
 */
describe("client endpoints (embedded)", () => {
  let harness: TestGateway;
  let claude: Seeded;
  let openaiKeys: Seeded;
  let codex: Seeded;
  let geminiKeys: Seeded;
  let codeAssist: Seeded;
  const tokens = new TokenEndpoint();

  beforeAll(async () => {
    harness = await startTestGateway();
    tokens.install(harness.upstream);
    const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
    const oauth = (name: string, extra: Record<string, unknown> = {}) => ({
      type: "oauth" as const,
      credentials: { accessToken: `${name}-access`, refreshToken: `${name}-refresh`, expiresAt: Date.now() + hour, ...extra },
    });
    claude = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-endpoints" } }] });
    openaiKeys = await harness.seed({ platform: "openai", accounts: [{ type: "apikey", credentials: { apiKey: "sk-openai-endpoints" }, baseUrl: base("ep-openai") }] });
    codex = await harness.seed({ platform: "openai", accounts: [{ ...oauth("codex", { accountId: "chatgpt-1" }), baseUrl: base("ep-codex") }] });
    geminiKeys = await harness.seed({ platform: "gemini", accounts: [{ type: "apikey", credentials: { apiKey: "AIza-endpoints" }, baseUrl: base("ep-gemini") }] });
    codeAssist = await harness.seed({ platform: "gemini", accounts: [{ ...oauth("code-assist", { projectId: "project-42" }), baseUrl: base("ep-ca") }] });
    harness.upstream
      .on("POST", "/ep-openai/v1/responses/compact", { json: { id: "resp_compacted", object: "response.compaction", output: [] } })
      .on("GET", "/ep-openai/v1/responses/resp_123", { json: { ...jsonFixture("openai", "response.json"), id: "resp_123" } })
      .on("POST", "/ep-openai/v1/responses", openaiResponsesReply)
      .on("POST", "/ep-gemini/v1beta/models/gemini-2.5-flash:countTokens", { json: { totalTokens: 31, promptTokensDetails: [{ modality: "TEXT", tokenCount: 31 }] } })
      .on("POST", "/ep-gemini/v1beta/models/gemini-embedding-001:embedContent", { json: { embedding: { values: [0.013, -0.008, 0.021] } } })
      .on("POST", "/ep-gemini/v1beta/models/gemini-embedding-001:batchEmbedContents", { json: { embeddings: [{ values: [0.5, -0.25] }, { values: [0.125, 1] }] } })
      .on("POST", "/ep-gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent", { sse: splitSse(readFixture(geminiFixtures, "stream.sse")) })
      .on("POST", "/ep-ca/v1internal:countTokens", { json: { totalTokens: 17 } })
      .on("POST", "/ep-ca/v1internal:streamGenerateContent", codeAssistReply);
  });
  afterAll(async () => harness?.close());

  const call = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    fetch(`${harness.url}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const anthropicHeaders = (key: string) => ({ "x-api-key": key, "anthropic-version": "2023-06-01" });
  const contents = { contents: [{ role: "user", parts: [{ text: "Hi" }] }] };

  describe("product info at /", () => {
    it("GET / names the product", async () => {
      const response = await call("GET", "/");
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      expect(await response.json()).toMatchObject({ name: "subrelay" });
    });

    it("HEAD / (Claude Code's start-up probe) answers 200", async () => {
      const response = await call("HEAD", "/");
      expect(response.status).toBe(200);
    });
  });

  describe("the WebSocket probe on /v1/responses", () => {
    it("answers 426 Upgrade Required in the OpenAI dialect, so Codex falls back to HTTP", async () => {
      // fetch refuses Upgrade headers: a raw request, as Codex's WebSocket client sends it.
      const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = httpRequest(`${harness.url}/v1/responses`, {
          headers: { ...bearer(codex.key), connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" },
        });
        request.on("response", (answer) => {
          let text = "";
          answer.setEncoding("utf8");
          answer.on("data", (chunk: string) => (text += chunk));
          answer.on("end", () => resolve({ status: answer.statusCode ?? 0, text }));
        });
        request.on("upgrade", () => reject(new Error("the gateway accepted the WebSocket upgrade")));
        request.on("error", reject);
        request.end();
      });
      expect(response.status).toBe(426);
      const body = JSON.parse(response.text) as { error: { code: string } };
      expect(body.error.code).not.toBe("model_not_found");
      expect(body).toMatchObject({ error: { type: "invalid_request_error", code: "websocket_not_supported" } });
    });

    it("a plain GET /v1/responses is an unknown route, not a missing model", async () => {
      const response = await call("GET", "/v1/responses", bearer(codex.key));
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
    });
  });

  describe("model retrieval", () => {
    it("GET /v1/models/{id} answers the OpenAI shape for an OpenAI client", async () => {
      const response = await call("GET", "/v1/models/gpt-5", bearer(openaiKeys.key));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ id: "gpt-5", object: "model", created: expect.any(Number), owned_by: "openai" });
    });

    it("GET /v1/models/{id} answers the Anthropic shape for an Anthropic client", async () => {
      const response = await call("GET", "/v1/models/claude-sonnet-4-5-20250929", anthropicHeaders(claude.key));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ type: "model", id: "claude-sonnet-4-5-20250929", display_name: "Claude Sonnet 4.5", created_at: expect.any(String) });
    });

    it("an unknown model is a 404 model_not_found in the dialect", async () => {
      const openai = await call("GET", "/v1/models/gpt-unknown", bearer(openaiKeys.key));
      expect(openai.status).toBe(404);
      expect(await openai.json()).toMatchObject({ error: { code: "model_not_found" } });
      const anthropic = await call("GET", "/v1/models/claude-unknown", anthropicHeaders(claude.key));
      expect(anthropic.status).toBe(404);
      expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
      const gemini = await call("GET", "/v1beta/models/gemini-unknown", { "x-goog-api-key": geminiKeys.key });
      expect(gemini.status).toBe(404);
      expect(await gemini.json()).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
    });

    it("GET /v1beta/models/{model} answers the Gemini shape, with or without models/", async () => {
      for (const path of ["/v1beta/models/gemini-2.5-flash", "/v1beta/models/models/gemini-2.5-flash"]) {
        const response = await call("GET", path, { "x-goog-api-key": geminiKeys.key });
        expect(response.status, path).toBe(200);
        expect(await response.json()).toMatchObject({ name: "models/gemini-2.5-flash", displayName: "Gemini 2.5 Flash" });
      }
    });

    it("model retrieval needs a valid key", async () => {
      const response = await call("GET", "/v1/models/gpt-5", bearer("sk-not-a-key"));
      expect(response.status).toBe(401);
    });
  });

  describe("Gemini countTokens and embedContent", () => {
    it("relays :countTokens on an API-key account", async () => {
      const response = await call("POST", "/v1beta/models/gemini-2.5-flash:countTokens", { "x-goog-api-key": geminiKeys.key }, contents);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ totalTokens: 31 });
      const sent = harness.upstream.requestsTo("/ep-gemini/v1beta/models/gemini-2.5-flash:countTokens").at(-1)!;
      expect(sent.headers["x-goog-api-key"]).toBe("AIza-endpoints");
      expect(sent.json()).toEqual(contents);
    });

    it("relays :countTokens on a Code Assist account in its envelope", async () => {
      const response = await call("POST", "/v1beta/models/gemini-2.5-flash:countTokens", { "x-goog-api-key": codeAssist.key }, contents);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ totalTokens: 17 });
      const sent = harness.upstream.requestsTo("/ep-ca/v1internal:countTokens").at(-1)!;
      expect(sent.json()).toEqual({ request: { model: "models/gemini-2.5-flash", ...contents } });
    });

    it("relays :embedContent on an API-key account", async () => {
      const body = { content: { parts: [{ text: "Hi" }] } };
      const response = await call("POST", "/v1beta/models/gemini-embedding-001:embedContent", { "x-goog-api-key": geminiKeys.key }, body);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ embedding: { values: [0.013, -0.008, 0.021] } });
    });

    it("relays :batchEmbedContents, what the Gen AI SDK's models.embedContent calls, on an API-key account", async () => {
      const client = new GoogleGenAI({ apiKey: geminiKeys.key, httpOptions: { baseUrl: harness.url } });
      const response = await client.models.embedContent({ model: "gemini-embedding-001", contents: ["Hi", "there"] });
      expect(response.embeddings).toEqual([{ values: [0.5, -0.25] }, { values: [0.125, 1] }]);
      const sent = harness.upstream.requestsTo("/ep-gemini/v1beta/models/gemini-embedding-001:batchEmbedContents").at(-1)!;
      expect(sent.headers["x-goog-api-key"]).toBe("AIza-endpoints");
      expect(sent.json()).toEqual({
        requests: [
          { model: "models/gemini-embedding-001", content: { parts: [{ text: "Hi" }], role: "user" } },
          { model: "models/gemini-embedding-001", content: { parts: [{ text: "there" }], role: "user" } },
        ],
      });
    });

    it(":batchEmbedContents through a Code Assist account is a Gemini 404, not a 5xx", async () => {
      const body = { requests: [{ model: "models/gemini-embedding-001", content: { parts: [{ text: "Hi" }] } }] };
      const response = await call("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", { "x-goog-api-key": codeAssist.key }, body);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
      expect(harness.upstream.requestsTo(/batchEmbedContents/).every((request) => !request.path.startsWith("/ep-ca"))).toBe(true);
    });

    it(":embedContent through a Code Assist account is a Gemini 404, not a 5xx", async () => {
      const response = await call("POST", "/v1beta/models/gemini-embedding-001:embedContent", { "x-goog-api-key": codeAssist.key }, { content: { parts: [{ text: "Hi" }] } });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
    });
  });

  describe(":streamGenerateContent without alt=sse", () => {
    it.each(["geminiKeys", "codeAssist"] as const)("answers the JSON array the API returns (%s)", async (which) => {
      const key = which === "geminiKeys" ? geminiKeys.key : codeAssist.key;
      const response = await call("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", { "x-goog-api-key": key }, contents);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("application/json");
      const chunks = (await response.json()) as Array<{ candidates?: unknown; response?: unknown }>;
      expect(Array.isArray(chunks)).toBe(true);
      expect(chunks.length).toBeGreaterThan(1);
      for (const chunk of chunks) expect(chunk).not.toHaveProperty("response");
      expect(chunks.some((chunk) => chunk.candidates !== undefined)).toBe(true);
    });

    it("with alt=sse it still streams SSE", async () => {
      const response = await call("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", { "x-goog-api-key": geminiKeys.key }, contents);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      expect(await response.text()).toContain("data: ");
    });
  });

  describe("Responses compact and retrieve", () => {
    it("relays POST /v1/responses/compact on an API-key account", async () => {
      const body = { model: "gpt-5", input: [{ role: "user", content: "Hi" }], instructions: "Be brief." };
      const response = await call("POST", "/v1/responses/compact", bearer(openaiKeys.key), body);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: "resp_compacted" });
      const sent = harness.upstream.requestsTo("/ep-openai/v1/responses/compact").at(-1)!;
      expect(sent.headers.authorization).toBe("Bearer sk-openai-endpoints");
      expect(sent.json()).toEqual(body);
    });

    it("relays GET /v1/responses/{id} on an API-key account", async () => {
      const response = await call("GET", "/v1/responses/resp_123", bearer(openaiKeys.key));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: "resp_123", object: "response" });
      const sent = harness.upstream.requestsTo("/ep-openai/v1/responses/resp_123").at(-1)!;
      expect(sent.method).toBe("GET");
      expect(sent.headers.authorization).toBe("Bearer sk-openai-endpoints");
    });

    it.each([
      ["POST", "/v1/responses/compact", { model: "gpt-5", input: "Hi" }],
      ["GET", "/v1/responses/resp_123", undefined],
    ] as const)("%s %s through a ChatGPT (Codex) account is an OpenAI 404 with its own code", async (method, path, body) => {
      const response = await call(method, path, bearer(codex.key), body);
      expect(response.status).toBe(404);
      const answer = (await response.json()) as { error: { code: string } };
      expect(answer).toMatchObject({ error: { type: "invalid_request_error", code: "unsupported_endpoint" } });
      expect(harness.upstream.requestsTo(/^\/ep-codex\//)).toEqual([]);
    });
  });
});
