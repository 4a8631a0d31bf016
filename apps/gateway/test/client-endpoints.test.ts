import { request as httpRequest } from "node:http";
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
});
