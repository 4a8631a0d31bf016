import Anthropic from "@anthropic-ai/sdk";
import { ApiError, GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import type { Provider } from "@subrelay/providers-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, leakedSecrets, openaiChatReply, paths, startTestGateway, type Seeded, type TestGateway } from "./harness";

const BODY_LIMIT = 2048;
const MODEL = "claude-opus-4-5";

type Dialect = "anthropic" | "openai" | "gemini";

/** The shape each dialect's error body must have, for a given status. */
function expectDialectError(dialect: Dialect, status: number, body: unknown): void {
  if (dialect === "anthropic") {
    expect(body).toMatchObject({ type: "error", error: { type: expect.any(String), message: expect.any(String) } });
  } else if (dialect === "openai") {
    expect(body).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } });
    expect(body).not.toHaveProperty("type");
  } else {
    expect(body).toMatchObject({ error: { code: status, message: expect.any(String), status: expect.any(String) } });
  }
}

/** The platform providers, with OpenAI's OAuth accounts serving no operation at all. */
function apiKeyOnlyOpenAI(built: ReadonlyMap<string, Provider>): ReadonlyMap<string, Provider> {
  const openai = built.get("openai")!;
  const narrowed: Provider = { ...openai, supports: (operation, type) => type === "apikey" && openai.supports(operation, type) };
  return new Map([...built, ["openai", narrowed]]);
}

/**
 * Requests the gateway refuses before any upstream is involved: each gets the right status, in the
 * dialect of the API it called, and no secret in the body.
 */
describe("client errors in each dialect (embedded)", () => {
  let harness: TestGateway;
  let claude: Seeded;
  let openai: Seeded;
  let gemini: Seeded;
  const upstreamSecrets = ["sk-ant-upstream-errors", "sk-openai-upstream-errors", "AIza-upstream-errors"];
  const secrets = () => [...upstreamSecrets, claude.key, openai.key, gemini.key];

  beforeAll(async () => {
    harness = await startTestGateway({
      env: { BODY_LIMIT_BYTES: String(BODY_LIMIT) },
      // OpenAI OAuth accounts serve nothing here, so that a group of them cannot serve an endpoint (the
      // built-in providers serve every endpoint of their dialect on both account types).
      overrides: { providers: apiKeyOnlyOpenAI },
    });
    harness.upstream.on("POST", paths.claudeMessages, claudeReply).on("POST", paths.openaiChat, openaiChatReply);
    claude = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: upstreamSecrets[0] } }] });
    openai = await harness.seed({
      platform: "openai",
      accounts: [{ type: "apikey", credentials: { apiKey: upstreamSecrets[1] }, models: ["gpt-4o"] }],
    });
    gemini = await harness.seed({ platform: "gemini", accounts: [{ type: "apikey", credentials: { apiKey: upstreamSecrets[2] } }] });
  });
  afterAll(async () => harness?.close());

  const endpoint: Record<Dialect, string> = {
    anthropic: "/v1/messages",
    openai: "/v1/chat/completions",
    gemini: "/v1beta/models/gemini-2.5-flash:generateContent",
  };
  const keyHeader = (dialect: Dialect, key: string): Record<string, string> =>
    dialect === "anthropic" ? { "x-api-key": key } : dialect === "openai" ? { authorization: `Bearer ${key}` } : { "x-goog-api-key": key };
  const keyOf = (dialect: Dialect) => (dialect === "anthropic" ? claude.key : dialect === "openai" ? openai.key : gemini.key);
  const validBody = (dialect: Dialect) =>
    dialect === "gemini"
      ? { contents: [{ role: "user", parts: [{ text: "hi" }] }] }
      : { model: dialect === "anthropic" ? MODEL : "gpt-4o", max_tokens: 8, messages: [{ role: "user", content: "hi" }] };

  /** A raw request; returns the status and the parsed body, after checking no secret is in it. */
  const post = async (path: string, headers: Record<string, string>, body: string) => {
    const response = await fetch(`${harness.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
    const text = await response.text();
    expect(leakedSecrets(text, secrets())).toEqual([]);
    return { status: response.status, body: JSON.parse(text) as unknown };
  };

  describe("authentication", () => {
    it("refuses a wrong key through each SDK with a 401 in its dialect", async () => {
      const anthropic = new Anthropic({ apiKey: "sr-wrong-anthropic", baseURL: harness.url, maxRetries: 0 });
      const anthropicError = await anthropic.messages
        .create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "x" }] })
        .catch((caught: unknown) => caught);
      expect(anthropicError).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((anthropicError as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({
        type: "error",
        error: { type: "authentication_error" },
      });

      const openaiClient = new OpenAI({ apiKey: "sr-wrong-openai", baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const openaiError = await openaiClient.chat.completions
        .create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] })
        .catch((caught: unknown) => caught);
      expect(openaiError).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((openaiError as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe("invalid_api_key");

      const google = new GoogleGenAI({ apiKey: "sr-wrong-gemini", httpOptions: { baseUrl: harness.url } });
      const googleError = await google.models
        .generateContent({ model: "gemini-2.5-flash", contents: "x" })
        .catch((caught: unknown) => caught);
      expect(googleError).toBeInstanceOf(ApiError);
      expect((googleError as ApiError).status).toBe(401);
      expect((googleError as ApiError).message).toContain("UNAUTHENTICATED");
    });

    it.each(["anthropic", "openai", "gemini"] as const)("refuses a missing or wrong %s key with a 401", async (dialect) => {
      const missing = await post(endpoint[dialect], {}, JSON.stringify(validBody(dialect)));
      expect(missing.status).toBe(401);
      expectDialectError(dialect, 401, missing.body);
      const wrong = await post(endpoint[dialect], keyHeader(dialect, "sr-not-a-key"), JSON.stringify(validBody(dialect)));
      expect(wrong.status).toBe(401);
      expectDialectError(dialect, 401, wrong.body);
    });

    it("takes the Gemini key from ?key= as well as x-goog-api-key", async () => {
      const wrong = await post(`${endpoint.gemini}?key=sr-not-a-key`, {}, JSON.stringify(validBody("gemini")));
      expect(wrong.status).toBe(401);
      expect(wrong.body).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
      harness.upstream.on("POST", paths.geminiGenerate, { json: { candidates: [] } });
      const right = await post(`${endpoint.gemini}?key=${gemini.key}`, {}, JSON.stringify(validBody("gemini")));
      expect(right.status).toBe(200);
      const sent = harness.upstream.requestsTo(paths.geminiGenerate).at(-1)!;
      expect(sent.query.get("key")).toBeNull();
      expect(sent.headers["x-goog-api-key"]).toBe(upstreamSecrets[2]);
    });

    it("refuses a key whose group serves another platform with a 403", async () => {
      const openaiClient = new OpenAI({ apiKey: claude.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const error = await openaiClient.chat.completions
        .create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);

      const anthropic = new Anthropic({ apiKey: gemini.key, baseURL: harness.url, maxRetries: 0 });
      const anthropicError = await anthropic.messages
        .create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "x" }] })
        .catch((caught: unknown) => caught);
      expect(anthropicError).toBeInstanceOf(Anthropic.PermissionDeniedError);
      expect((anthropicError as InstanceType<typeof Anthropic.PermissionDeniedError>).error).toMatchObject({
        error: { type: "permission_error" },
      });

      const wrongPlatform = await post(endpoint.gemini, keyHeader("gemini", openai.key), JSON.stringify(validBody("gemini")));
      expect(wrongPlatform.status).toBe(403);
      expect(wrongPlatform.body).toMatchObject({ error: { code: 403, status: "PERMISSION_DENIED" } });
    });
  });

  describe("bodies", () => {
    it.each(["anthropic", "openai", "gemini"] as const)("refuses malformed %s JSON with a 400", async (dialect) => {
      const bad = await post(endpoint[dialect], keyHeader(dialect, keyOf(dialect)), '{"model": "x", ');
      expect(bad.status).toBe(400);
      expectDialectError(dialect, 400, bad.body);
      const notObject = await post(endpoint[dialect], keyHeader(dialect, keyOf(dialect)), "[1, 2]");
      expect(notObject.status).toBe(400);
      expectDialectError(dialect, 400, notObject.body);
    });

    it.each(["anthropic", "openai"] as const)("refuses a %s body without a model with a 400", async (dialect) => {
      const { model: _model, ...withoutModel } = validBody(dialect) as Record<string, unknown>;
      const missing = await post(endpoint[dialect], keyHeader(dialect, keyOf(dialect)), JSON.stringify(withoutModel));
      expect(missing.status).toBe(400);
      expectDialectError(dialect, 400, missing.body);
      expect(JSON.stringify(missing.body)).toContain("model");
    });

    it("refuses a Gemini path without a model with a 400", async () => {
      const missing = await post("/v1beta/models/:generateContent", keyHeader("gemini", gemini.key), JSON.stringify(validBody("gemini")));
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    });

    it("refuses a Gemini path whose model is not valid percent-encoding with a 400, not a 500", async () => {
      const malformed = await post("/v1beta/models/%E0%A4%A:generateContent", keyHeader("gemini", gemini.key), JSON.stringify(validBody("gemini")));
      expect(malformed.status).toBe(400);
      expect(malformed.body).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    });

    it.each(["anthropic", "openai", "gemini"] as const)("refuses a %s body over the size limit with a 413", async (dialect) => {
      const big = { ...validBody(dialect), padding: "x".repeat(BODY_LIMIT * 2) };
      const tooLarge = await post(endpoint[dialect], keyHeader(dialect, keyOf(dialect)), JSON.stringify(big));
      expect(tooLarge.status).toBe(413);
      expectDialectError(dialect, 413, tooLarge.body);
    });

    it("refuses an oversize Anthropic SDK request with a 413 request_too_large", async () => {
      const client = new Anthropic({ apiKey: claude.key, baseURL: harness.url, maxRetries: 0 });
      const error = await client.messages
        .create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "x".repeat(BODY_LIMIT * 2) }] })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Anthropic.APIError);
      expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(413);
      expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ error: { type: "request_too_large" } });
    });
  });

  it("answers a model no account of the key's group serves with a 404", async () => {
    const client = new OpenAI({ apiKey: openai.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
    const sentBefore = harness.upstream.requestsTo(paths.openaiChat).length;
    const error = await client.chat.completions
      .create({ model: "gpt-unknown", messages: [{ role: "user", content: "x" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
    expect(harness.upstream.requestsTo(paths.openaiChat)).toHaveLength(sentBefore);

    // The listed model still goes through.
    const completion = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] });
    expect(completion.object).toBe("chat.completion");
  });

  it("answers 503 for a group with no accounts, and 400 for an endpoint its accounts cannot serve", async () => {
    const empty = await harness.seed({ platform: "openai", accounts: [] });
    const none = await post(endpoint.openai, keyHeader("openai", empty.key), JSON.stringify(validBody("openai")));
    expect(none.status).toBe(503);
    expectDialectError("openai", 503, none.body);

    // A group of accounts the provider says cannot serve chat completions (OAuth ones, in this gateway).
    const codex = await harness.seed({
      platform: "openai",
      accounts: [{ type: "oauth", credentials: { accessToken: "codex-access", refreshToken: "codex-refresh", expiresAt: Date.now() + 3_600_000, accountId: "acct" } }],
    });
    const chat = await post(endpoint.openai, keyHeader("openai", codex.key), JSON.stringify(validBody("openai")));
    expect(chat.status).toBe(400);
    expectDialectError("openai", 400, chat.body);
    expect(harness.upstream.requestsTo(paths.codexResponses)).toHaveLength(0);
  });
});
