import { type BuildRequestInput, type ClientRequest, ProviderError, type UpstreamAccount } from "@subrelay/providers-core";
import { FakeUpstream, type RecordedRequest } from "@subrelay/providers-core/testing";
import { request as send } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createGeminiProvider } from "./gemini-provider";

const apiKey = "AIzaSyTestKey-0123456789abcdefghijkl";
const accessToken = "ya29.a0AeDClZBaccessToken0123456789";
const clientBody = {
  contents: [{ role: "user", parts: [{ text: "Write a haiku about cedar." }] }],
  generationConfig: { temperature: 0.2, thinkingConfig: { thinkingBudget: 512 } },
};

let upstream: FakeUpstream;

beforeAll(async () => {
  upstream = await FakeUpstream.start();
  upstream.on("POST", /.*/, { json: { ok: true } });
});
afterEach(() => {
  upstream.reset();
  upstream.on("POST", /.*/, { json: { ok: true } });
});
afterAll(async () => {
  await upstream.close();
});

function provider() {
  return createGeminiProvider({ baseUrl: `${upstream.url}/public`, codeAssistBaseUrl: `${upstream.url}/code-assist/` });
}

const apiKeyAccount: UpstreamAccount = { id: "1", platform: "gemini", type: "apikey", credentials: { apiKey } };
const oauthAccount: UpstreamAccount = {
  id: "2",
  platform: "gemini",
  type: "oauth",
  credentials: { accessToken: "stale-token-from-db", refreshToken: "1//0gRefresh", projectId: "spry-tide-q4k9m" },
};

function clientRequest(overrides: Partial<ClientRequest> = {}): ClientRequest {
  return {
    operation: "generate_content",
    model: "gemini-2.5-pro",
    stream: false,
    body: clientBody,
    headers: {
      "content-type": "application/json",
      "x-goog-api-key": "client-own-gateway-key",
      authorization: "Bearer client-gateway-token",
      "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.0",
      connection: "keep-alive",
      "user-agent": "my-app/1.0",
      cookie: "session=abc",
    },
    ...overrides,
  };
}

/** Builds the request, sends it to the fake upstream for real, and returns what arrived. */
async function roundTrip(input: BuildRequestInput): Promise<RecordedRequest> {
  const upstreamRequest = provider().buildRequest(input);
  const response = await send(upstreamRequest.url, {
    method: upstreamRequest.method,
    headers: upstreamRequest.headers,
    body: upstreamRequest.body,
  });
  await response.body.dump();
  const [recorded] = await upstream.waitForRequests(1);
  return recorded!;
}

describe("Gemini request shaping", () => {
  it("API key, generateContent: public URL, x-goog-api-key, body as-is, client credentials dropped", async () => {
    const recorded = await roundTrip({ account: apiKeyAccount, request: clientRequest() });
    expect(recorded.method).toBe("POST");
    expect(recorded.path).toBe("/public/v1beta/models/gemini-2.5-pro:generateContent");
    expect([...recorded.query]).toEqual([]);
    expect(recorded.headers["x-goog-api-key"]).toBe(apiKey);
    expect(recorded.headers["content-type"]).toBe("application/json");
    expect(recorded.headers["x-goog-api-client"]).toBe("google-genai-sdk/1.30.0 gl-node/v20.20.0");
    expect(recorded.headers.authorization).toBeUndefined();
    expect(recorded.headers.cookie).toBeUndefined();
    expect(recorded.headers["user-agent"]).not.toBe("my-app/1.0");
    expect(recorded.json()).toEqual(clientBody);
  });

  it("API key, streamGenerateContent: alt=sse, models/ prefix normalised", async () => {
    const recorded = await roundTrip({
      account: apiKeyAccount,
      request: clientRequest({ operation: "stream_generate_content", stream: true, model: "models/gemini-2.5-flash" }),
    });
    expect(recorded.path).toBe("/public/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    expect(recorded.query.get("alt")).toBe("sse");
    expect(recorded.json()).toEqual(clientBody);
  });

  it("OAuth, generateContent: Code Assist URL, bearer token, {model, project, request} envelope", async () => {
    const recorded = await roundTrip({ account: oauthAccount, accessToken, request: clientRequest({ model: "models/gemini-2.5-pro" }) });
    expect(recorded.path).toBe("/code-assist/v1internal:generateContent");
    expect([...recorded.query]).toEqual([]);
    expect(recorded.headers.authorization).toBe(`Bearer ${accessToken}`);
    expect(recorded.headers["x-goog-api-key"]).toBeUndefined();
    expect(recorded.json()).toEqual({ model: "gemini-2.5-pro", project: "spry-tide-q4k9m", request: clientBody });
  });

  it("OAuth, streamGenerateContent: alt=sse", async () => {
    const recorded = await roundTrip({
      account: oauthAccount,
      accessToken,
      request: clientRequest({ operation: "stream_generate_content", stream: true }),
    });
    expect(recorded.path).toBe("/code-assist/v1internal:streamGenerateContent");
    expect(recorded.query.get("alt")).toBe("sse");
    expect(recorded.json()).toMatchObject({ model: "gemini-2.5-pro", project: "spry-tide-q4k9m" });
  });

  it("API key, batchEmbedContents (the Gen AI SDKs' models.embedContent): its own method, body as-is", async () => {
    const body = { requests: [{ model: "models/gemini-embedding-001", content: { parts: [{ text: "cedar" }] } }] };
    const recorded = await roundTrip({
      account: apiKeyAccount,
      request: clientRequest({ operation: "batch_embed_contents", model: "gemini-embedding-001", body }),
    });
    expect(recorded.path).toBe("/public/v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect([...recorded.query]).toEqual([]);
    expect(recorded.headers["x-goog-api-key"]).toBe(apiKey);
    expect(recorded.json()).toEqual(body);
  });

  it("an account's baseUrl overrides the provider's", async () => {
    const recorded = await roundTrip({
      account: { ...apiKeyAccount, baseUrl: `${upstream.url}/regional/` },
      request: clientRequest(),
    });
    expect(recorded.path).toBe("/regional/v1beta/models/gemini-2.5-pro:generateContent");
  });

  it("defaults to Google's real endpoints", () => {
    const defaults = createGeminiProvider();
    expect(defaults.buildRequest({ account: apiKeyAccount, request: clientRequest() }).url).toBe(
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent",
    );
    expect(
      defaults.buildRequest({
        account: oauthAccount,
        accessToken,
        request: clientRequest({ operation: "stream_generate_content", stream: true }),
      }).url,
    ).toBe("https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse");
  });

  it("escapes the model into a single path segment", () => {
    const { url } = provider().buildRequest({ account: apiKeyAccount, request: clientRequest({ model: "../../admin?x=1" }) });
    expect(url).toBe(`${upstream.url}/public/v1beta/models/..%2F..%2Fadmin%3Fx%3D1:generateContent`);
  });

  it("does not mutate the client's body", () => {
    const body = structuredClone(clientBody);
    provider().buildRequest({ account: oauthAccount, accessToken, request: clientRequest({ body }) });
    expect(body).toEqual(clientBody);
  });

  it.each([
    ["an operation Gemini does not serve", { account: apiKeyAccount, request: clientRequest({ operation: "messages" }) }, "unsupported"],
    ["an empty model", { account: apiKeyAccount, request: clientRequest({ model: "models/" }) }, "invalid_request"],
    [
      "batchEmbedContents on an OAuth (Code Assist) account",
      { account: oauthAccount, accessToken, request: clientRequest({ operation: "batch_embed_contents" }) },
      "unsupported",
    ],
    [
      "an OAuth account without projectId",
      { account: { ...oauthAccount, credentials: { accessToken: "x", refreshToken: "y" } }, accessToken, request: clientRequest() },
      "misconfigured",
    ],
    ["an OAuth account given no access token", { account: oauthAccount, request: clientRequest() }, "misconfigured"],
    ["an API-key account without a key", { account: { ...apiKeyAccount, credentials: { apiKey: "" } }, request: clientRequest() }, "misconfigured"],
  ] as const)("refuses %s with ProviderError %s", (_name, input: BuildRequestInput, code) => {
    let caught: unknown;
    try {
      provider().buildRequest(input);
    } catch (error) {
      caught = error;
    }
    expect(ProviderError.isInstance(caught)).toBe(true);
    expect(caught).toMatchObject({ code });
    expect(String(caught)).not.toContain(accessToken);
  });
});
