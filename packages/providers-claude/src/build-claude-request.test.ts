import { type BuildRequestInput, type ClientRequest, ProviderError, type UpstreamAccount } from "@subrelay/providers-core";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { request as undiciRequest } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildClaudeRequest } from "./build-claude-request";
import { claudeCodeSystemPrompt } from "./claude-defaults";
import { createClaudeProvider } from "./claude-provider";
import * as packageIndex from "./index";

const provider = createClaudeProvider({ baseUrl: "https://claude.example.test/" });

const oauthAccount: UpstreamAccount = {
  id: "1",
  platform: "claude",
  type: "oauth",
  credentials: { accessToken: "sk-ant-oat01-ACCOUNT-TOKEN", refreshToken: "sk-ant-ort01-RT" },
};
const apiKeyAccount: UpstreamAccount = { id: "2", platform: "claude", type: "apikey", credentials: { apiKey: "sk-ant-api03-ACCOUNT-KEY" } };

const clientHeaders = {
  authorization: "Bearer client-gateway-key",
  "x-api-key": "client-gateway-key",
  cookie: "session=abc",
  host: "gateway.local",
  connection: "keep-alive",
  "content-length": "123",
  "transfer-encoding": "chunked",
  "accept-encoding": "gzip, br",
  "proxy-authorization": "Basic Zm9v",
  "anthropic-version": "2023-01-01",
  "anthropic-beta": "interleaved-thinking-2025-05-14, oauth-2025-04-20,fine-grained-tool-streaming-2025-05-14",
  "anthropic-dangerous-direct-browser-access": "true",
  "x-stainless-lang": "js",
  "x-stainless-package-version": "0.60.0",
  "user-agent": "claude-cli/2.0.14 (external, cli)",
  "x-app": "cli",
  "x-forwarded-for": "10.0.0.1",
};

function clientRequest(overrides: Partial<ClientRequest> = {}): ClientRequest {
  return {
    operation: "messages",
    model: "claude-sonnet-4-5-20250929",
    stream: true,
    body: { model: "claude-sonnet-4-5", max_tokens: 1024, stream: true, messages: [{ role: "user", content: "Hi" }] },
    headers: clientHeaders,
    ...overrides,
  };
}

function build(input: Partial<BuildRequestInput> = {}) {
  return provider.buildRequest({ account: oauthAccount, accessToken: "sk-ant-oat01-ACCOUNT-TOKEN", request: clientRequest(), ...input });
}

describe("Claude request shaping", () => {
  it("sends an OAuth request with the bearer token, the OAuth beta merged in and the client's version", () => {
    const upstream = build();
    expect(upstream.url).toBe("https://claude.example.test/v1/messages");
    expect(upstream.method).toBe("POST");
    expect(upstream.headers).toEqual({
      "content-type": "application/json",
      authorization: "Bearer sk-ant-oat01-ACCOUNT-TOKEN",
      "anthropic-version": "2023-01-01",
      "anthropic-beta": "oauth-2025-04-20,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
      "anthropic-dangerous-direct-browser-access": "true",
      "x-stainless-lang": "js",
      "x-stainless-package-version": "0.60.0",
      "user-agent": "claude-cli/2.0.14 (external, cli)",
      "x-app": "cli",
    });
  });

  it("adds the OAuth beta and the default version when the client sent neither", () => {
    const upstream = build({ request: clientRequest({ headers: { "x-api-key": "client-key" } }) });
    expect(upstream.headers).toEqual({
      "content-type": "application/json",
      authorization: "Bearer sk-ant-oat01-ACCOUNT-TOKEN",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "oauth-2025-04-20",
    });
  });

  it("sends an API-key request with x-api-key, the client's betas deduped, never the OAuth beta unless asked", () => {
    const upstream = build({
      account: apiKeyAccount,
      accessToken: undefined,
      request: clientRequest({ headers: { ...clientHeaders, "anthropic-beta": ["context-1m-2025-08-07", "context-1m-2025-08-07, token-efficient-tools-2025-02-19"] } }),
    });
    expect(upstream.headers["x-api-key"]).toBe("sk-ant-api03-ACCOUNT-KEY");
    expect(upstream.headers).not.toHaveProperty("authorization");
    expect(upstream.headers["anthropic-beta"]).toBe("context-1m-2025-08-07,token-efficient-tools-2025-02-19");
    const withoutBeta = build({ account: apiKeyAccount, accessToken: undefined, request: clientRequest({ headers: {} }) });
    expect(withoutBeta.headers).toEqual({
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": "sk-ant-api03-ACCOUNT-KEY",
    });
  });

  it("never forwards client auth, cookies, hop-by-hop headers, accept-encoding or unlisted headers", () => {
    for (const upstream of [build(), build({ account: apiKeyAccount, accessToken: undefined })]) {
      const serialised = JSON.stringify(upstream.headers);
      expect(serialised).not.toContain("client-gateway-key");
      for (const name of ["cookie", "host", "connection", "content-length", "transfer-encoding", "accept-encoding", "proxy-authorization", "x-forwarded-for"]) {
        expect(upstream.headers, name).not.toHaveProperty(name);
      }
    }
  });

  it("sends the client's body with the routed model and the stream flag, without mutating it", () => {
    const request = clientRequest();
    const original = structuredClone(request.body);
    const upstream = build({ request });
    expect(JSON.parse(upstream.body!)).toEqual({
      ...original,
      model: "claude-sonnet-4-5-20250929",
      system: [{ type: "text", text: claudeCodeSystemPrompt }],
    });
    expect(request.body).toEqual(original);
    const apiKey = build({ account: apiKeyAccount, accessToken: undefined, request });
    expect(JSON.parse(apiKey.body!)).toEqual({ ...original, model: "claude-sonnet-4-5-20250929" });
    expect(request.body).toEqual(original);
    const streamed = build({ request: clientRequest({ body: { model: "m", max_tokens: 1, messages: [] }, model: "m", stream: true }) });
    expect(JSON.parse(streamed.body!)).toMatchObject({ stream: true });
  });

  it("counts tokens at /v1/messages/count_tokens without a stream flag", () => {
    const upstream = build({ request: clientRequest({ operation: "count_tokens", stream: false }) });
    expect(upstream.url).toBe("https://claude.example.test/v1/messages/count_tokens");
    expect(JSON.parse(upstream.body!)).not.toHaveProperty("stream");
    expect(upstream.headers["anthropic-beta"]).toContain("oauth-2025-04-20");
  });

  it("uses the account's base URL over the provider's", () => {
    const upstream = build({ account: { ...oauthAccount, baseUrl: "http://127.0.0.1:9999/proxy/" } });
    expect(upstream.url).toBe("http://127.0.0.1:9999/proxy/v1/messages");
    expect(createClaudeProvider().buildRequest({ account: apiKeyAccount, request: clientRequest() }).url).toBe("https://api.anthropic.com/v1/messages");
  });

  it("refuses other platforms' operations and accounts without their secret, naming no secret", () => {
    const cases: Array<[Partial<BuildRequestInput>, string]> = [
      [{ request: clientRequest({ operation: "chat_completions" }) }, "unsupported"],
      [{ request: clientRequest({ operation: "generate_content" }) }, "unsupported"],
      [{ accessToken: undefined }, "invalid_request"],
      [{ account: { ...apiKeyAccount, credentials: { apiKey: "" } }, accessToken: undefined }, "invalid_request"],
    ];
    for (const [input, code] of cases) {
      let thrown: unknown;
      try {
        build(input);
      } catch (error) {
        thrown = error;
      }
      expect(ProviderError.isInstance(thrown), code).toBe(true);
      expect((thrown as ProviderError).code).toBe(code);
      expect((thrown as ProviderError).message).not.toContain("ACCOUNT-TOKEN");
    }
  });

  it("produces a request that arrives upstream as shaped", async () => {
    const upstream = await FakeUpstream.start();
    try {
      upstream.on("POST", "/v1/messages", { json: { ok: true } });
      const local = createClaudeProvider({ baseUrl: upstream.url });
      const shaped = local.buildRequest({ account: oauthAccount, accessToken: "sk-ant-oat01-ACCOUNT-TOKEN", request: clientRequest() });
      const response = await undiciRequest(shaped.url, { method: shaped.method, headers: shaped.headers, body: shaped.body });
      await response.body.text();
      const [received] = upstream.requests;
      expect(received!.headers.authorization).toBe("Bearer sk-ant-oat01-ACCOUNT-TOKEN");
      expect(received!.headers["anthropic-beta"]).toBe("oauth-2025-04-20,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14");
      expect(received!.headers["x-api-key"]).toBeUndefined();
      expect(received!.headers.cookie).toBeUndefined();
      expect(received!.json()).toMatchObject({ model: "claude-sonnet-4-5-20250929", stream: true });
    } finally {
      await upstream.close();
    }
  });
});

const prompt = "You are Claude Code, Anthropic's official CLI for Claude.";
const promptBlock = { type: "text", text: prompt };

/** Freezes a value and everything in it, so that any mutation by the code under test throws. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** A client body (model and stream already as routed, so only `system` can make it change), deep-frozen. */
function bodyWith(system?: unknown): Record<string, unknown> {
  const body: Record<string, unknown> = { model: "claude-sonnet-4-5-20250929", max_tokens: 1024, stream: true, messages: [{ role: "user", content: "Hi" }] };
  if (system !== undefined) body.system = system;
  return deepFreeze(body);
}

/** Shapes `body` for an account and returns what goes upstream, checking the client's body stayed as it was. */
function shape(body: Record<string, unknown>, options: { account?: UpstreamAccount; operation?: "messages" | "count_tokens"; local?: typeof provider } = {}) {
  const original = structuredClone(body);
  const account = options.account ?? oauthAccount;
  const operation = options.operation ?? "messages";
  const upstream = (options.local ?? provider).buildRequest({
    account,
    accessToken: account.type === "oauth" ? "sk-ant-oat01-ACCOUNT-TOKEN" : undefined,
    request: clientRequest({ operation, stream: operation === "messages", body }),
  });
  expect(body).toEqual(original);
  return { serialised: upstream.body!, sent: JSON.parse(upstream.body!) as Record<string, unknown> };
}

// What Claude Code itself sends: its identity line as the first block (after a billing-header block since 2.1.29).
const claudeCodeSystem = [
  { type: "text", text: prompt, cache_control: { type: "ephemeral" } },
  { type: "text", text: "You are an interactive CLI tool that helps users with software engineering tasks.", cache_control: { type: "ephemeral" } },
];
const claudeCodeBillingSystem = [
  { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.37.0d9; cc_entrypoint=cli; cch=fa690;" },
  ...claudeCodeSystem,
];

describe("Claude Code system prompt for OAuth accounts", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("exports the exact line Anthropic requires, from the package index too", () => {
    expect(claudeCodeSystemPrompt).toBe(prompt);
    expect(packageIndex.claudeCodeSystemPrompt).toBe(prompt);
  });

  it.each(["messages", "count_tokens"] as const)("adds it as the whole system prompt when there is none (%s)", (operation) => {
    for (const system of [undefined, "", [], null]) {
      const { sent } = shape(bodyWith(system), { operation });
      expect(sent.system, JSON.stringify(system)).toEqual([promptBlock]);
      expect(sent.messages).toEqual([{ role: "user", content: "Hi" }]);
    }
  });

  it.each(["messages", "count_tokens"] as const)("puts it before a string system prompt, as two text blocks (%s)", (operation) => {
    const { sent } = shape(bodyWith("You are a helpful pirate."), { operation });
    expect(sent.system).toEqual([promptBlock, { type: "text", text: "You are a helpful pirate." }]);
  });

  it("leaves a string system prompt that already starts with it unchanged", () => {
    const body = bodyWith(`${prompt}\n\nBe brief.`);
    const { serialised, sent } = shape(body);
    expect(serialised).toBe(JSON.stringify(body));
    expect(sent.system).toBe(`${prompt}\n\nBe brief.`);
    expect(shape(bodyWith(prompt)).sent.system).toBe(prompt);
  });

  it.each(["messages", "count_tokens"] as const)("prepends it to an array of blocks, reusing the client's blocks (%s)", (operation) => {
    const system = [
      { type: "text", text: "You are a helpful pirate.", cache_control: { type: "ephemeral" } },
      { type: "text", text: `Mention that ${prompt}` },
    ];
    const { sent } = shape(bodyWith(system), { operation });
    expect(sent.system).toEqual([promptBlock, ...system]);
  });

  it("prepends it when the first block is not a text block", () => {
    const system = [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } }, { type: "text", text: prompt }];
    expect(shape(bodyWith(system)).sent.system).toEqual([promptBlock, ...system]);
    expect(shape(bodyWith(["loose string"])).sent.system).toEqual([promptBlock, "loose string"]);
  });

  it("never mutates the client's system array or its blocks, and does not share the array", () => {
    const system = [{ type: "text", text: "Be brief." }];
    const body = { model: "claude-sonnet-4-5-20250929", max_tokens: 1, stream: true, messages: [], system };
    const spy = vi.spyOn(JSON, "stringify");
    provider.buildRequest({ account: oauthAccount, accessToken: "t", request: clientRequest({ body }) });
    const sentBody = spy.mock.calls.map(([value]) => value as Record<string, unknown>).find((value) => value?.max_tokens === 1);
    expect(sentBody).toBeDefined();
    expect(sentBody).not.toBe(body);
    expect(sentBody!.system).not.toBe(system);
    expect((sentBody!.system as unknown[])[1]).toBe(system[0]);
    expect(system).toEqual([{ type: "text", text: "Be brief." }]);
    expect(body.system).toBe(system);
  });

  it.each([
    ["Claude Code's blocks", claudeCodeSystem],
    ["Claude Code's blocks after its billing header", claudeCodeBillingSystem],
    ["a first block that starts with the line", [{ type: "text", text: `${prompt}\nWorking directory: /repo` }]],
  ])("passes %s through as the very same body object", (_name, system) => {
    for (const operation of ["messages", "count_tokens"] as const) {
      const body = operation === "messages" ? bodyWith(system) : deepFreeze({ model: "claude-sonnet-4-5-20250929", messages: [], system });
      const spy = vi.spyOn(JSON, "stringify");
      const { serialised } = shape(body, { operation });
      const stringified = spy.mock.calls.map(([value]) => value as unknown);
      spy.mockRestore();
      expect(stringified, operation).toEqual([body]);
      expect(stringified[0], operation).toBe(body);
      expect(serialised).toBe(JSON.stringify(body));
    }
  });

  it("keeps a leading billing-header block first and puts the line right after it", () => {
    const billing = { type: "text", text: "x-anthropic-billing-header: cc_version=2.1.37.0d9; cc_entrypoint=cli; cch=fa690;" };
    const rest = { type: "text", text: "You are a helpful pirate." };
    expect(shape(bodyWith([billing, rest])).sent.system).toEqual([billing, promptBlock, rest]);
    expect(shape(bodyWith([billing])).sent.system).toEqual([billing, promptBlock]);
  });

  it.each([
    ["a number", 42],
    ["an object", { type: "text", text: "not an array" }],
    ["a boolean", true],
  ])("leaves a system that is %s alone (the upstream refuses it)", (_name, system) => {
    const body = bodyWith(system);
    const { serialised, sent } = shape(body);
    expect(serialised).toBe(JSON.stringify(body));
    expect(sent.system).toEqual(system);
  });

  it("never changes an API-key account's system", () => {
    for (const system of [undefined, "", [], "You are a helpful pirate.", [{ type: "text", text: "Be brief." }], claudeCodeSystem]) {
      for (const operation of ["messages", "count_tokens"] as const) {
        const body = bodyWith(system);
        const { sent } = shape(body, { account: apiKeyAccount, operation });
        expect(sent.system, `${operation} ${JSON.stringify(system)}`).toEqual(system);
        if (system === undefined) expect(sent).not.toHaveProperty("system");
      }
    }
    const body = bodyWith("You are a helpful pirate.");
    expect(shape(body, { account: apiKeyAccount }).serialised).toBe(JSON.stringify(body));
  });

  it("is turned off by claudeCodeSystemPrompt: false (or an empty string)", () => {
    for (const claudeCodeSystemPrompt of [false, ""] as const) {
      const local = createClaudeProvider({ baseUrl: "https://claude.example.test", claudeCodeSystemPrompt });
      for (const system of [undefined, "You are a helpful pirate.", [{ type: "text", text: "Be brief." }]]) {
        const body = bodyWith(system);
        const { serialised } = shape(body, { local });
        expect(serialised, `${String(claudeCodeSystemPrompt)} ${JSON.stringify(system)}`).toBe(JSON.stringify(body));
      }
    }
  });

  it("uses a custom line when configured", () => {
    const local = createClaudeProvider({ claudeCodeSystemPrompt: "You are Claude Code, custom edition." });
    const custom = { type: "text", text: "You are Claude Code, custom edition." };
    expect(shape(bodyWith(), { local }).sent.system).toEqual([custom]);
    expect(shape(bodyWith("Be brief."), { local }).sent.system).toEqual([custom, { type: "text", text: "Be brief." }]);
    expect(shape(bodyWith(claudeCodeSystem), { local }).sent.system).toEqual([custom, ...claudeCodeSystem]);
    expect(shape(bodyWith([custom, { type: "text", text: "Be brief." }]), { local }).sent.system).toEqual([custom, { type: "text", text: "Be brief." }]);
    expect(shape(bodyWith("You are Claude Code, custom edition. Be brief."), { local }).sent.system).toBe("You are Claude Code, custom edition. Be brief.");
  });

  it("is on by default when buildClaudeRequest is called without options", () => {
    const input = { account: oauthAccount, accessToken: "t", request: clientRequest({ body: bodyWith("Be brief.") }) };
    expect(JSON.parse(buildClaudeRequest(input, "https://claude.example.test").body!)).toHaveProperty("system", [promptBlock, { type: "text", text: "Be brief." }]);
    expect(JSON.parse(buildClaudeRequest(input, "https://claude.example.test", { claudeCodeSystemPrompt: false }).body!)).toHaveProperty("system", "Be brief.");
  });

  it("arrives upstream with the line first", async () => {
    const upstream = await FakeUpstream.start();
    try {
      upstream.on("POST", "/v1/messages/count_tokens", { json: { input_tokens: 12 } });
      const local = createClaudeProvider({ baseUrl: upstream.url });
      const shaped = local.buildRequest({
        account: oauthAccount,
        accessToken: "sk-ant-oat01-ACCOUNT-TOKEN",
        request: clientRequest({ operation: "count_tokens", stream: false, body: bodyWith("Be brief.") }),
      });
      const response = await undiciRequest(shaped.url, { method: shaped.method, headers: shaped.headers, body: shaped.body });
      await response.body.text();
      expect(upstream.requests[0]!.json()).toMatchObject({ system: [promptBlock, { type: "text", text: "Be brief." }] });
    } finally {
      await upstream.close();
    }
  });
});
