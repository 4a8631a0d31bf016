import type {
  BuildRequestInput,
  ClientRequest,
  UpstreamAccount,
  UpstreamRequest,
} from "@subrelay/providers-core";
import { join } from "node:path";
import { ProviderError, createSseParser, formatSseEvent, type SseEvent } from "@subrelay/providers-core";
import { FakeUpstream, readFixture, type RecordedRequest } from "@subrelay/providers-core/testing";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenAIProvider } from "./openai-provider";
import { defaultOpenAIModels } from "./openai-models";

const fixtures = join(import.meta.dirname, "__fixtures__");
let upstream: FakeUpstream;

beforeAll(async () => {
  upstream = await FakeUpstream.start();
  upstream.on("POST", /.*/, { json: { ok: true } });
});

afterAll(async () => {
  await upstream.close();
});

const apiKeyAccount: UpstreamAccount = {
  id: "7",
  platform: "openai",
  type: "apikey",
  credentials: { apiKey: "sk-proj-TestKey-0123456789" },
};
const oauthAccount: UpstreamAccount = {
  id: "8",
  platform: "openai",
  type: "oauth",
  credentials: { accessToken: "codex-access-token", refreshToken: "rt_x", accountId: "acc-7d1e2f3a" },
};

const clientHeaders = {
  authorization: "Bearer client-gateway-key",
  "x-api-key": "client-key",
  cookie: "session=1",
  connection: "keep-alive",
  host: "gateway.local",
  "content-length": "123",
  "user-agent": "OpenAI/JS 5.23.0",
  "openai-beta": "assistants=v2",
  "openai-organization": "org-client",
  "openai-project": "proj_client",
  "idempotency-key": "idem-1",
  session_id: "4c1f0e2a-9b7d-4e61-8a3f-2d5c6b7e8f90",
};

function clientRequest(overrides: Partial<ClientRequest>): ClientRequest {
  return {
    operation: "responses",
    model: "gpt-5",
    stream: true,
    body: { model: "gpt-5", input: "Say hi", stream: true },
    headers: clientHeaders,
    ...overrides,
  };
}

async function send(upstreamRequest: UpstreamRequest): Promise<RecordedRequest> {
  const before = upstream.requests.length;
  const response = await request(upstreamRequest.url, {
    method: upstreamRequest.method,
    headers: upstreamRequest.headers,
    body: upstreamRequest.body,
  });
  await response.body.text();
  const recorded = upstream.requests[before];
  if (recorded === undefined) throw new Error("the fake upstream recorded nothing");
  return recorded;
}

function unsupported(input: BuildRequestInput): unknown {
  try {
    createOpenAIProvider().buildRequest(input);
  } catch (error) {
    return error;
  }
  throw new Error("buildRequest did not throw");
}

describe("createOpenAIProvider: API-key accounts", () => {
  const provider = () => createOpenAIProvider({ baseUrl: `${upstream.url}/` });

  it("sends chat completions to /v1/chat/completions with the key, asking a stream to report usage", async () => {
    const body = {
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_obfuscation: false },
    };
    const recorded = await send(
      provider().buildRequest({
        account: apiKeyAccount,
        request: clientRequest({ operation: "chat_completions", body }),
      }),
    );

    expect(recorded.path).toBe("/v1/chat/completions");
    expect(recorded.headers.authorization).toBe("Bearer sk-proj-TestKey-0123456789");
    expect(recorded.headers.accept).toBe("text/event-stream");
    expect(recorded.headers["content-type"]).toBe("application/json");
    expect(recorded.headers["openai-beta"]).toBe("assistants=v2");
    expect(recorded.headers["idempotency-key"]).toBe("idem-1");
    expect(recorded.json()).toEqual({
      ...body,
      stream_options: { include_obfuscation: false, include_usage: true },
    });
    expect(body.stream_options).toEqual({ include_obfuscation: false });
  });

  it("forwards a non-streaming chat completion body unchanged", async () => {
    const body = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
    const recorded = await send(
      provider().buildRequest({
        account: apiKeyAccount,
        request: clientRequest({ operation: "chat_completions", stream: false, body }),
      }),
    );

    expect(recorded.json()).toEqual(body);
    expect(recorded.headers.accept).toBe("application/json");
  });

  it("sends responses to /v1/responses and never forwards client credentials, hop-by-hop or organisation headers", async () => {
    const recorded = await send(
      provider().buildRequest({ account: apiKeyAccount, request: clientRequest({}) }),
    );

    expect(recorded.path).toBe("/v1/responses");
    expect(recorded.json()).toEqual({ model: "gpt-5", input: "Say hi", stream: true });
    for (const name of [
      "x-api-key",
      "cookie",
      "openai-organization",
      "openai-project",
      "session_id",
      "chatgpt-account-id",
      "originator",
    ]) {
      expect(recorded.headers[name], name).toBeUndefined();
    }
    expect(recorded.headers.host).toBe(new URL(upstream.url).host);
    expect(JSON.stringify(recorded.headers)).not.toContain("client-gateway-key");
  });

  it("uses the account's own base URL when it has one", () => {
    const built = createOpenAIProvider().buildRequest({
      account: { ...apiKeyAccount, baseUrl: "https://proxy.example.com/openai" },
      request: clientRequest({}),
    });
    expect(built.url).toBe("https://proxy.example.com/openai/v1/responses");
  });

  it("defaults to the real API", () => {
    const built = createOpenAIProvider().buildRequest({
      account: apiKeyAccount,
      request: clientRequest({ operation: "chat_completions" }),
    });
    expect(built.url).toBe("https://api.openai.com/v1/chat/completions");
  });

  it("refuses an account without a key", () => {
    const error = unsupported({
      account: { ...apiKeyAccount, credentials: { apiKey: "" } },
      request: clientRequest({}),
    });
    expect(ProviderError.isInstance(error) && error.code).toBe("misconfigured");
  });
});

describe("createOpenAIProvider: OAuth (Codex) accounts", () => {
  const provider = () => createOpenAIProvider({ codexBaseUrl: `${upstream.url}/backend-api/codex` });

  it("sends streaming responses to the Codex backend with the bearer token, account id and Codex headers", async () => {
    const body = {
      model: "gpt-5-codex",
      input: [{ role: "user", content: "fix the tests" }],
      stream: true,
      store: true,
    };
    const recorded = await send(
      provider().buildRequest({
        account: oauthAccount,
        accessToken: "fresh-access-token",
        request: clientRequest({ body }),
      }),
    );

    expect(recorded.path).toBe("/backend-api/codex/responses");
    expect(recorded.headers.authorization).toBe("Bearer fresh-access-token");
    expect(recorded.headers["chatgpt-account-id"]).toBe("acc-7d1e2f3a");
    expect(recorded.headers["openai-beta"]).toBe("responses=experimental,assistants=v2");
    expect(recorded.headers.originator).toBe("codex_cli_rs");
    expect(recorded.headers.accept).toBe("text/event-stream");
    expect(recorded.headers.session_id).toBe("4c1f0e2a-9b7d-4e61-8a3f-2d5c6b7e8f90");
    expect(recorded.headers["openai-organization"]).toBeUndefined();
    expect(recorded.json()).toEqual({ ...body, stream: true, store: false });
    expect(body.store).toBe(true);
  });

  it("asks the backend for a stream when the client did not, and collects it for that client", () => {
    const body = { model: "gpt-5-codex", input: "fix the tests" };
    const input = { account: oauthAccount, accessToken: "a", request: clientRequest({ stream: false, body }) };
    const built = provider().buildRequest(input);
    expect(built.headers.accept).toBe("text/event-stream");
    expect(JSON.parse(built.body!)).toEqual({ ...body, stream: true, store: false });
    expect(body).toEqual({ model: "gpt-5-codex", input: "fix the tests" });
    const shaper = provider().responseShaper(input);
    expect(typeof shaper?.collector).toBe("function");
    const event = { event: "response.created", data: "{}" };
    expect(shaper?.event(event)).toBe(event);
  });

  it.each([true, false])(
    "sends a chat completion (stream: %s) to the Codex backend translated into a Responses request",
    async (stream) => {
      const body = {
        model: "gpt-5",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Weather in Paris?" },
        ],
        tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
        max_tokens: 200,
        temperature: 0.3,
        stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}),
      };
      const before = structuredClone(body);
      const recorded = await send(
        provider().buildRequest({
          account: oauthAccount,
          accessToken: "fresh-access-token",
          request: clientRequest({ operation: "chat_completions", stream, body }),
        }),
      );

      expect(recorded.path).toBe("/backend-api/codex/responses");
      expect(recorded.headers.authorization).toBe("Bearer fresh-access-token");
      expect(recorded.headers["chatgpt-account-id"]).toBe("acc-7d1e2f3a");
      expect(recorded.headers.originator).toBe("codex_cli_rs");
      expect(recorded.headers.accept).toBe("text/event-stream");
      expect(recorded.json()).toEqual({
        model: "gpt-5",
        instructions: "Be brief.",
        input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "Weather in Paris?" }] }],
        tools: [{ type: "function", name: "get_weather", parameters: { type: "object" } }],
        stream: true,
        store: false,
      });
      expect(body).toEqual(before);
    },
  );

  it("gives each chat completion its own shaper, translating the Codex stream back into chunks", async () => {
    const events = readFixture(fixtures, "codex-stream-tool-call.sse")
      .split(/(?<=\n\n)/)
      .filter((event) => event !== "");
    upstream.on("POST", "/chat-stream/responses", { sse: events });
    const input = {
      account: { ...oauthAccount, baseUrl: `${upstream.url}/chat-stream` },
      accessToken: "a",
      request: clientRequest({
        operation: "chat_completions",
        body: { model: "gpt-5", messages: [{ role: "user", content: "Weather in Paris and Tokyo?" }], stream: true },
      }),
    };
    const shaper = provider().responseShaper(input);
    expect(shaper).not.toBeNull();
    expect(provider().responseShaper(input)).not.toBe(shaper);

    // What the gateway does for a streaming client: parse the upstream stream, shape each event, then end().
    const built = provider().buildRequest(input);
    const response = await request(built.url, { method: built.method, headers: built.headers, body: built.body });
    let written = "";
    const parser = createSseParser((event) => {
      const shaped = shaper!.event(event);
      if (shaped === null) return;
      for (const one of Array.isArray(shaped) ? (shaped as SseEvent[]) : [shaped as SseEvent]) written += formatSseEvent(one);
    });
    for await (const chunk of response.body) parser.push(chunk as Uint8Array);
    parser.end();
    for (const one of shaper!.end!()) written += formatSseEvent(one);

    const payloads = written
      .split("\n\n")
      .filter((event) => event !== "")
      .map((event) => event.replace(/^data: /, ""));
    expect(written).not.toContain("event:");
    expect(payloads.at(-1)).toBe("[DONE]");
    const chunks = payloads.slice(0, -1).map((payload) => JSON.parse(payload) as Record<string, unknown>);
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
    expect(chunks.at(-2)).toMatchObject({ choices: [{ finish_reason: "tool_calls" }] });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 2150, completion_tokens: 96 } });
  });

  it("collects a Codex stream into a chat.completion for a non-streaming chat client", () => {
    const shaper = provider().responseShaper({
      account: oauthAccount,
      accessToken: "a",
      request: clientRequest({ operation: "chat_completions", stream: false }),
    });
    const collector = shaper!.collector!();
    const parser = createSseParser((event) => collector.event(event));
    parser.push(readFixture(fixtures, "codex-stream.sse"));
    parser.end();
    expect(collector.finish()).toMatchObject({
      status: 200,
      body: {
        object: "chat.completion",
        choices: [{ message: { role: "assistant", content: "I'll run the tests — all green." }, finish_reason: "stop" }],
      },
    });
  });

  it("does not duplicate responses=experimental when the client already sends it", () => {
    const built = provider().buildRequest({
      account: oauthAccount,
      accessToken: "t",
      request: clientRequest({ headers: { "openai-beta": "responses=experimental" } }),
    });
    expect(built.headers["openai-beta"]).toBe("responses=experimental");
  });

  it("omits chatgpt-account-id when the credentials do not know it", () => {
    const built = provider().buildRequest({
      account: { ...oauthAccount, credentials: { accessToken: "a" } },
      accessToken: "a",
      request: clientRequest({}),
    });
    expect(built.headers["chatgpt-account-id"]).toBeUndefined();
  });

  it("defaults to the real Codex backend", () => {
    const built = createOpenAIProvider().buildRequest({
      account: oauthAccount,
      accessToken: "a",
      request: clientRequest({}),
    });
    expect(built.url).toBe("https://chatgpt.com/backend-api/codex/responses");
  });

  it.each([
    {
      name: "an Anthropic operation",
      request: clientRequest({ operation: "messages" }),
      code: "unsupported",
    },
    {
      name: "a chat completion without messages",
      request: clientRequest({ operation: "chat_completions", body: { model: "gpt-5", prompt: "hi" } }),
      code: "invalid_request",
    },
    {
      name: "a chat completion asking for several choices",
      request: clientRequest({
        operation: "chat_completions",
        body: { model: "gpt-5", messages: [{ role: "user", content: "hi" }], n: 3 },
      }),
      code: "invalid_request",
    },
  ])("refuses $name", ({ request: client, code }) => {
    const error = unsupported({ account: oauthAccount, accessToken: "a", request: client });
    expect(ProviderError.isInstance(error) && error.code).toBe(code);
  });

  it("refuses a request without an access token, without naming any token", () => {
    const error = unsupported({ account: oauthAccount, request: clientRequest({}) });
    expect(ProviderError.isInstance(error) && error.code).toBe("misconfigured");
    expect(String(error)).not.toContain("codex-access-token");
  });
});

describe("createOpenAIProvider", () => {
  it("describes the platform", () => {
    const provider = createOpenAIProvider();
    expect(provider.platform).toBe("openai");
    expect(provider.dialect).toBe("openai");
    expect(
      provider.refresher.cacheKey({ id: "9", platform: "openai", credentials: { accessToken: "a" } }),
    ).toBe("openai:account:9");
    // Streams pass through as they are; only a Codex answer to a non-streaming client is reshaped.
    expect(
      provider.responseShaper({ account: oauthAccount, accessToken: "a", request: clientRequest({}) }),
    ).toBeNull();
    expect(
      provider.responseShaper({ account: apiKeyAccount, request: clientRequest({ stream: false }) }),
    ).toBeNull();
  });

  it.each([
    ["responses", "apikey", true],
    ["chat_completions", "apikey", true],
    ["responses", "oauth", true],
    ["chat_completions", "oauth", true],
    ["messages", "apikey", false],
    ["generate_content", "oauth", false],
  ] as const)("supports(%s, %s) is %s", (operation, type, expected) => {
    expect(createOpenAIProvider().supports(operation, type)).toBe(expected);
  });

  it("lists the default models, or the configured ones, without sharing them", () => {
    const provider = createOpenAIProvider();
    const models = provider.models();
    expect(models.map((model) => model.id)).toEqual(
      expect.arrayContaining(["gpt-5", "gpt-5-codex", "gpt-4.1", "gpt-4o", "o3", "o4-mini"]),
    );
    models[0]!.id = "mutated";
    expect(provider.models()[0]!.id).toBe(defaultOpenAIModels[0]!.id);
    expect(createOpenAIProvider({ models: [{ id: "gpt-x" }] }).models()).toEqual([{ id: "gpt-x" }]);
  });

  it("applies the configured rate-limit fallback and overload cool-down", () => {
    const provider = createOpenAIProvider({ rateLimitFallbackMs: 5_000, overloadedCooldownMs: 7_000 });
    expect(provider.classify({ status: 429, headers: {} }, 1_000)).toMatchObject({
      kind: "rate_limited",
      until: 6_000,
    });
    expect(provider.classify({ status: 503, headers: {}, bodyText: "overloaded" }, 1_000)).toMatchObject({
      kind: "overloaded",
      until: 8_000,
    });
  });

  it("treats a refused connection as a server failure", async () => {
    const closed = await FakeUpstream.start();
    const url = closed.url;
    await closed.close();
    const error: unknown = await request(url).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(createOpenAIProvider().classifyNetworkError(error)).toEqual({
      kind: "server",
      cause: "network",
      reason: "network ECONNREFUSED",
    });
    expect(createOpenAIProvider().classifyNetworkError("weird")).toEqual({
      kind: "server",
      cause: "network",
      reason: "network error",
    });
  });

  it("tracks usage by operation", () => {
    const tracker = createOpenAIProvider().usageTracker(clientRequest({ operation: "chat_completions" }));
    tracker.json({ model: "gpt-4o", usage: { prompt_tokens: 10, completion_tokens: 2 } });
    expect(tracker.result()).toEqual({
      model: "gpt-4o",
      inputTokens: 10,
      outputTokens: 2,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  it("counts the raw Codex stream that answers a chat completion", () => {
    const tracker = createOpenAIProvider().usageTracker(clientRequest({ operation: "chat_completions" }));
    tracker.push(readFixture(fixtures, "codex-stream-tool-call.sse"));
    expect(tracker.result()).toEqual({
      model: "gpt-5",
      inputTokens: 230,
      outputTokens: 96,
      cacheReadTokens: 1920,
      cacheWriteTokens: 0,
    });
  });
});
