import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backends,
  claudeMessage,
  claudeReply,
  codeAssistReply,
  codexReply,
  geminiReply,
  openaiChatReply,
  openaiResponsesReply,
  paths,
  startTestGateway,
  TokenEndpoint,
  type Seeded,
  type TestGateway,
} from "./harness";

const hour = 3_600_000;

/**
 * Every client API driven by its official SDK, streaming and not, on both backends: what the client
 * gets, what the upstream was sent (its own credentials, never the client's key) and the usage row.
 */
describe.each(backends)("official SDKs against the %s gateway", (backend) => {
  let harness: TestGateway;
  const tokens = new TokenEndpoint();
  let claude: Seeded;
  let openaiKeys: Seeded;
  let codex: Seeded;
  let geminiKeys: Seeded;
  let codeAssist: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    tokens.install(harness.upstream);
    harness.upstream
      .on("POST", paths.claudeMessages, claudeReply)
      .on("POST", "/v1/messages/count_tokens", { json: { input_tokens: 2095 } })
      .on("POST", paths.openaiChat, openaiChatReply)
      .on("POST", paths.openaiResponses, openaiResponsesReply)
      .on("POST", paths.codexResponses, codexReply)
      .on("POST", paths.geminiGenerate, geminiReply)
      .on("POST", paths.geminiStream, geminiReply)
      .on("POST", paths.codeAssistGenerate, codeAssistReply)
      .on("POST", paths.codeAssistStream, codeAssistReply);
    const oauth = (name: string, extra: Record<string, unknown> = {}) => ({
      type: "oauth" as const,
      credentials: { accessToken: `${name}-access`, refreshToken: `${name}-refresh`, expiresAt: Date.now() + hour, ...extra },
    });
    claude = await harness.seed({ platform: "claude", accounts: [oauth("claude")] });
    openaiKeys = await harness.seed({ platform: "openai", accounts: [{ type: "apikey", credentials: { apiKey: "sk-upstream-openai" } }] });
    codex = await harness.seed({ platform: "openai", accounts: [oauth("codex", { accountId: "chatgpt-account-1" })] });
    geminiKeys = await harness.seed({ platform: "gemini", accounts: [{ type: "apikey", credentials: { apiKey: "AIza-upstream-gemini" } }] });
    codeAssist = await harness.seed({ platform: "gemini", accounts: [oauth("code-assist", { projectId: "project-42" })] });
  });
  afterAll(async () => harness?.close());

  /** The request the upstream got last on `path`, checked to carry none of the client's key. */
  const lastSent = (path: string | RegExp, clientKey: string) => {
    const sent = harness.upstream.requestsTo(path).at(-1);
    expect(sent, `nothing reached ${String(path)}`).toBeDefined();
    expect(JSON.stringify(sent!.headers)).not.toContain(clientKey);
    expect(sent!.url).not.toContain(clientKey);
    return sent!;
  };

  /** Usage recorded for an account grows by `requests` with tokens counted. */
  const expectUsage = async (accountId: string, before: number, requests: number) => {
    const usage = await harness.usageOf(accountId);
    expect(usage?.requests).toBe(before + requests);
    expect(usage?.inputTokens).toBeGreaterThan(0);
    expect(usage?.outputTokens).toBeGreaterThan(0);
    expect(usage?.errors).toBe(0);
  };

  describe("Anthropic", () => {
    let client: Anthropic;
    beforeAll(() => {
      client = new Anthropic({ apiKey: claude.key, baseURL: harness.url, maxRetries: 0 });
    });

    it("relays messages, streamed and not, with the account's OAuth token", async () => {
      const before = (await harness.usageOf(claude.accountIds[0]!))?.requests ?? 0;
      const message = await client.messages.create({
        model: "claude-opus-4-5",
        max_tokens: 64,
        messages: [{ role: "user", content: "Hello" }],
      });
      expect(message).toMatchObject({ id: claudeMessage().id, type: "message" });
      const sent = lastSent(paths.claudeMessages, claude.key);
      expect(sent.headers.authorization).toBe("Bearer claude-access");
      expect(String(sent.headers["anthropic-beta"])).toContain("oauth-2025-04-20");
      expect(sent.headers["x-api-key"]).toBeUndefined();
      expect(sent.json()).toMatchObject({ model: "claude-opus-4-5", messages: [{ role: "user", content: "Hello" }] });

      const stream = client.messages.stream({
        model: "claude-opus-4-5",
        max_tokens: 64,
        messages: [{ role: "user", content: "Hello" }],
      });
      const final = await stream.finalMessage();
      expect(final.usage.output_tokens).toBeGreaterThan(0);
      expect(final.content.length).toBeGreaterThan(0);
      expect(lastSent(paths.claudeMessages, claude.key).json()).toMatchObject({ stream: true });
      await expectUsage(claude.accountIds[0]!, before, 2);
    });

    it("counts tokens", async () => {
      const counted = await client.messages.countTokens({
        model: "claude-opus-4-5",
        messages: [{ role: "user", content: "Hello" }],
      });
      expect(counted.input_tokens).toBe(2095);
      const sent = lastSent("/v1/messages/count_tokens", claude.key);
      expect(sent.headers.authorization).toBe("Bearer claude-access");
    });
  });

  describe("OpenAI", () => {
    it("relays chat completions, streamed and not, with the account's API key", async () => {
      const client = new OpenAI({ apiKey: openaiKeys.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const accountId = openaiKeys.accountIds[0]!;
      const before = (await harness.usageOf(accountId))?.requests ?? 0;
      const completion = await client.chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "Bonjour" }],
      });
      expect(completion.choices[0]?.message.content).toContain("Bonjour");
      expect(lastSent(paths.openaiChat, openaiKeys.key).headers.authorization).toBe("Bearer sk-upstream-openai");

      const stream = await client.chat.completions.create({
        model: "gpt-4.1-mini",
        messages: [{ role: "user", content: "Salut" }],
        stream: true,
      });
      let text = "";
      let sawUsage = false;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        if (chunk.usage) sawUsage = true;
      }
      expect(text.length).toBeGreaterThan(0);
      expect(sawUsage).toBe(true);
      expect(lastSent(paths.openaiChat, openaiKeys.key).json()).toMatchObject({
        stream: true,
        stream_options: { include_usage: true },
      });
      await expectUsage(accountId, before, 2);
    });

    it("relays responses, streamed and not, with the account's API key", async () => {
      const client = new OpenAI({ apiKey: openaiKeys.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const response = await client.responses.create({ model: "gpt-4.1", input: "Hello" });
      expect(response.object).toBe("response");
      expect(response.output_text.length).toBeGreaterThan(0);
      expect(lastSent(paths.openaiResponses, openaiKeys.key).headers.authorization).toBe("Bearer sk-upstream-openai");

      const stream = await client.responses.create({ model: "gpt-4.1", input: "Hello", stream: true });
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      expect(types[0]).toBe("response.created");
      expect(types).toContain("response.completed");
    });

    it("relays a streamed response through an OAuth (Codex) account", async () => {
      const client = new OpenAI({ apiKey: codex.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const before = (await harness.usageOf(codex.accountIds[0]!))?.requests ?? 0;
      const stream = await client.responses.create({ model: "gpt-5-codex", input: "Run the tests", stream: true });
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) if (event.type === "response.completed") completed = event.response;
      const message = completed?.output.find((item) => item.type === "message");
      expect(message?.type === "message" && message.content[0]?.type === "output_text" ? message.content[0].text : "").toContain(
        "all green",
      );
      const sent = lastSent(paths.codexResponses, codex.key);
      expect(sent.headers.authorization).toBe("Bearer codex-access");
      expect(sent.headers["chatgpt-account-id"]).toBe("chatgpt-account-1");
      expect(sent.json()).toMatchObject({ model: "gpt-5-codex", stream: true, store: false });
      await expectUsage(codex.accountIds[0]!, before, 1);
    });

    it("answers a non-streaming response on an OAuth (Codex) account from the backend's stream", async () => {
      const client = new OpenAI({ apiKey: codex.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const before = (await harness.usageOf(codex.accountIds[0]!))?.requests ?? 0;
      const response = await client.responses.create({ model: "gpt-5-codex", input: "Run the tests" });
      expect(response.object).toBe("response");
      expect(response.status).toBe("completed");
      expect(response.output_text).toBe("I'll run the tests — all green.");
      expect(response.usage).toMatchObject({ input_tokens: 12873, output_tokens: 431 });
      expect(lastSent(paths.codexResponses, codex.key).json()).toMatchObject({ input: "Run the tests", stream: true, store: false });
      await expectUsage(codex.accountIds[0]!, before, 1);
    });

    it("serves chat completions on an OAuth (Codex) account through the Responses API, streamed and not", async () => {
      const client = new OpenAI({ apiKey: codex.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const before = (await harness.usageOf(codex.accountIds[0]!))?.requests ?? 0;
      const messages = [
        { role: "system" as const, content: "Be brief." },
        { role: "user" as const, content: "Run the tests" },
      ];
      const completion = await client.chat.completions.create({ model: "gpt-5-codex", messages });
      expect(completion.object).toBe("chat.completion");
      expect(completion.choices[0]?.message.content).toBe("I'll run the tests — all green.");
      expect(completion.choices[0]?.finish_reason).toBe("stop");
      expect(completion.usage).toMatchObject({ prompt_tokens: 12873, completion_tokens: 431 });
      const sent = lastSent(paths.codexResponses, codex.key).json<Record<string, unknown>>();
      expect(sent).toMatchObject({
        model: "gpt-5-codex",
        instructions: "Be brief.",
        input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "Run the tests" }] }],
        stream: true,
        store: false,
      });
      expect(sent).not.toHaveProperty("messages");

      const stream = await client.chat.completions.create({ model: "gpt-5-codex", messages, stream: true });
      let text = "";
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        expect(chunk.object).toBe("chat.completion.chunk");
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe("I'll run the tests — all green.");
      expect(finish).toBe("stop");
      expect(usage).toMatchObject({ prompt_tokens: 12873, completion_tokens: 431 });
      await expectUsage(codex.accountIds[0]!, before, 2);
    });

    it("answers a 502 in OpenAI's shape when the Codex stream behind a non-streaming response is cut", async () => {
      const client = new OpenAI({ apiKey: codex.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const before = await harness.usageOf(codex.accountIds[0]!);
      const error = await client.responses.create({ model: "gpt-5-codex", input: "cut" }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({
        type: "server_error",
        message: expect.stringContaining("ended before the response completed") as unknown,
      });
      const after = await harness.usageOf(codex.accountIds[0]!);
      expect(after?.requests).toBe((before?.requests ?? 0) + 1);
      expect(after?.errors).toBe((before?.errors ?? 0) + 1);
    });

    it("lists models", async () => {
      const client = new OpenAI({ apiKey: openaiKeys.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
      const models: string[] = [];
      for await (const model of client.models.list()) models.push(model.id);
      expect(models.length).toBeGreaterThan(0);
      expect(models.every((id) => !id.startsWith("claude") && !id.startsWith("gemini"))).toBe(true);
    });
  });

  describe("Gemini", () => {
    const ask = { model: "gemini-2.5-flash", contents: "Say hello" };

    it("relays generateContent and generateContentStream with the account's API key", async () => {
      const client = new GoogleGenAI({ apiKey: geminiKeys.key, httpOptions: { baseUrl: harness.url } });
      const before = (await harness.usageOf(geminiKeys.accountIds[0]!))?.requests ?? 0;
      const response = await client.models.generateContent(ask);
      expect(response.text?.length).toBeGreaterThan(0);
      const sent = lastSent(paths.geminiGenerate, geminiKeys.key);
      expect(sent.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
      expect(sent.headers["x-goog-api-key"]).toBe("AIza-upstream-gemini");
      expect(sent.query.get("key")).toBeNull();

      let text = "";
      for await (const chunk of await client.models.generateContentStream(ask)) text += chunk.text ?? "";
      expect(text.length).toBeGreaterThan(0);
      const streamed = lastSent(paths.geminiStream, geminiKeys.key);
      expect(streamed.query.get("alt")).toBe("sse");
      expect(streamed.headers["x-goog-api-key"]).toBe("AIza-upstream-gemini");
      await expectUsage(geminiKeys.accountIds[0]!, before, 2);
    });

    it("lists models", async () => {
      const client = new GoogleGenAI({ apiKey: geminiKeys.key, httpOptions: { baseUrl: harness.url } });
      const names: string[] = [];
      for await (const model of await client.models.list()) names.push(model.name ?? "");
      expect(names.length).toBeGreaterThan(0);
      expect(names.every((name) => name.startsWith("models/gemini"))).toBe(true);
    });

    it("relays through an OAuth (Code Assist) account and unwraps its envelope", async () => {
      const client = new GoogleGenAI({ apiKey: codeAssist.key, httpOptions: { baseUrl: harness.url } });
      const before = (await harness.usageOf(codeAssist.accountIds[0]!))?.requests ?? 0;
      const response = await client.models.generateContent({ model: "gemini-2.5-pro", contents: "The answer?" });
      expect(response.text).toBe("The answer is 42.");
      expect(response.usageMetadata?.promptTokenCount).toBe(8431);
      const sent = lastSent(paths.codeAssistGenerate, codeAssist.key);
      expect(sent.headers.authorization).toBe("Bearer code-assist-access");
      expect(sent.headers["x-goog-api-key"]).toBeUndefined();
      expect(sent.json()).toMatchObject({
        model: "gemini-2.5-pro",
        project: "project-42",
        request: { contents: [{ parts: [{ text: "The answer?" }] }] },
      });

      const chunks: string[] = [];
      for await (const chunk of await client.models.generateContentStream({ model: "gemini-2.5-pro", contents: "The answer?" })) {
        chunks.push(chunk.text ?? "");
      }
      expect(chunks.join("")).toContain("The answer is 42.");
      expect(lastSent(paths.codeAssistStream, codeAssist.key).json()).toMatchObject({ project: "project-42" });

      // Raw bytes: no Code Assist envelope reaches the client.
      const raw = await fetch(`${harness.url}/v1beta/models/gemini-2.5-pro:generateContent`, {
        method: "POST",
        headers: { "x-goog-api-key": codeAssist.key, "content-type": "application/json" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "The answer?" }] }] }),
      });
      const body = (await raw.json()) as Record<string, unknown>;
      expect(body.candidates).toBeDefined();
      expect(body.response).toBeUndefined();
      expect(body.traceId).toBeUndefined();
      await expectUsage(codeAssist.accountIds[0]!, before, 3);
    });
  });

  it("refreshes an expired OAuth token once for 200 concurrent requests", async () => {
    const herd = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          concurrency: 1000,
          credentials: { accessToken: "herd-stale", refreshToken: "herd-refresh", expiresAt: Date.now() - 60_000 },
        },
      ],
    });
    const client = new Anthropic({ apiKey: herd.key, baseURL: harness.url, maxRetries: 0 });
    const sentBefore = harness.upstream.requestsTo(paths.claudeMessages).length;
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, index) =>
        client.messages.create({ model: "claude-opus-4-5", max_tokens: 8, messages: [{ role: "user", content: `#${index}` }] }),
      ),
    );
    const failures = results.filter((result) => result.status === "rejected");
    expect(failures.map((failure) => String(failure.reason))).toEqual([]);
    expect(tokens.calls("herd-refresh")).toBe(1);
    const sent = harness.upstream.requestsTo(paths.claudeMessages).slice(sentBefore);
    expect(sent).toHaveLength(200);
    expect(new Set(sent.map((request) => request.headers.authorization))).toEqual(new Set(["Bearer fresh-herd-refresh-1"]));
  });
});
