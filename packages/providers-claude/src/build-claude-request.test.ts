import { type BuildRequestInput, type ClientRequest, ProviderError, type UpstreamAccount } from "@subrelay/providers-core";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { request as undiciRequest } from "undici";
import { describe, expect, it } from "vitest";
import { createClaudeProvider } from "./claude-provider";

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
    expect(JSON.parse(upstream.body!)).toEqual({ ...original, model: "claude-sonnet-4-5-20250929" });
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
      [{ accessToken: undefined }, "misconfigured"],
      [{ account: { ...apiKeyAccount, credentials: { apiKey: "" } }, accessToken: undefined }, "misconfigured"],
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
