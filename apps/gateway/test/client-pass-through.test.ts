import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, codexReply, openaiResponsesReply, startTestGateway, TokenEndpoint, type Seeded, type TestGateway } from "./harness";

const hour = 3_600_000;
const SESSION = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";

/** Upstream response headers that must never reach a client. */
const neverReturned = { "set-cookie": "__cf_bm=pooled-account-cookie; Path=/", "openai-organization": "org-pooled-account", "x-envoy-upstream-service-time": "7" };

/**
 * What the gateway passes through between the real clients (Claude Code, Codex CLI) and the upstream:
 * their query parameters and session headers go up, the upstream's request ids and rate-limit headers
 * come back, nothing else does. Each group's account has its own base URL, so the fake tells them apart.
 */
describe("client pass-through (embedded)", () => {
  let harness: TestGateway;
  let claude: Seeded;
  let codex: Seeded;
  let openaiKeys: Seeded;
  const tokens = new TokenEndpoint();

  beforeAll(async () => {
    harness = await startTestGateway();
    tokens.install(harness.upstream);
    const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
    claude = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-pass" }, baseUrl: base("pt-claude") }] });
    codex = await harness.seed({
      platform: "openai",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: "codex-access", refreshToken: "codex-refresh", expiresAt: Date.now() + hour, accountId: "chatgpt-1" },
          baseUrl: base("pt-codex"),
        },
      ],
    });
    openaiKeys = await harness.seed({ platform: "openai", accounts: [{ type: "apikey", credentials: { apiKey: "sk-openai-pass" }, baseUrl: base("pt-openai") }] });
    const claudeHeaders = {
      "request-id": "req_011CVexample",
      "anthropic-ratelimit-unified-status": "allowed",
      "anthropic-ratelimit-unified-5h-utilization": "0.25",
      ...neverReturned,
    };
    harness.upstream
      .on("POST", "/pt-claude/v1/messages", (request) => {
        const reply = claudeReply(request);
        return { ...reply, headers: { ...reply.headers, ...claudeHeaders } };
      })
      .on("POST", "/pt-claude/v1/messages/count_tokens", { json: { input_tokens: 12 }, headers: claudeHeaders })
      .on("POST", "/pt-codex/responses", (request) => ({
        ...codexReply(request),
        headers: { "content-type": "text/event-stream", "x-codex-primary-used-percent": "42", "x-codex-primary-window-minutes": "300", ...neverReturned },
      }))
      .on("POST", "/pt-openai/v1/responses", (request) => ({
        ...openaiResponsesReply(request),
        headers: { "x-request-id": "req_upstream_openai", "openai-processing-ms": "321", "x-ratelimit-remaining-tokens": "99000", ...neverReturned },
      }));
  });
  afterAll(async () => harness?.close());

  const claudeCode = (path: string, key: string, body: Record<string, unknown>) =>
    fetch(`${harness.url}${path}`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json", "x-claude-code-session-id": SESSION },
      body: JSON.stringify(body),
    });
  const message = { model: "claude-opus-4-5", max_tokens: 16, messages: [{ role: "user", content: "Hi" }] };

  it("Claude Code's ?beta=true and session header reach the upstream; only allowed query parameters do", async () => {
    const response = await claudeCode("/v1/messages?beta=true&key=sk-ant-not-forwarded&other=1", claude.key, message);
    expect(response.status).toBe(200);
    await response.text();
    const sent = harness.upstream.requestsTo("/pt-claude/v1/messages").at(-1)!;
    expect(sent.url).toBe("/pt-claude/v1/messages?beta=true");
    expect(sent.headers["x-claude-code-session-id"]).toBe(SESSION);
  });

  it("count_tokens keeps ?beta=true too", async () => {
    const response = await claudeCode("/v1/messages/count_tokens?beta=true", claude.key, message);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ input_tokens: 12 });
    expect(harness.upstream.requestsTo("/pt-claude/v1/messages/count_tokens").at(-1)!.url).toBe("/pt-claude/v1/messages/count_tokens?beta=true");
  });

  it.each([false, true])("the upstream's request id and unified rate-limit headers come back (stream: %s), never cookies", async (stream) => {
    const response = await claudeCode("/v1/messages?beta=true", claude.key, { ...message, stream });
    expect(response.status).toBe(200);
    await response.text();
    expect(response.headers.get("request-id")).toBe("req_011CVexample");
    expect(response.headers.get("anthropic-ratelimit-unified-status")).toBe("allowed");
    expect(response.headers.get("anthropic-ratelimit-unified-5h-utilization")).toBe("0.25");
    for (const header of Object.keys(neverReturned)) expect(response.headers.get(header), header).toBeNull();
  });

  it("Codex's session-id, thread-id and own originator reach the backend; its x-codex-* usage headers come back", async () => {
    const response = await fetch(`${harness.url}/v1/responses`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${codex.key}`,
        "content-type": "application/json",
        "session-id": SESSION,
        "thread-id": SESSION,
        originator: "codex_exec",
      },
      body: JSON.stringify({ model: "gpt-5", input: "Hi", stream: true }),
    });
    expect(response.status).toBe(200);
    await response.text();
    const sent = harness.upstream.requestsTo("/pt-codex/responses").at(-1)!;
    expect({ session: sent.headers["session-id"], thread: sent.headers["thread-id"], originator: sent.headers.originator }).toEqual({
      session: SESSION,
      thread: SESSION,
      originator: "codex_exec",
    });
    expect(response.headers.get("x-codex-primary-used-percent")).toBe("42");
    expect(response.headers.get("x-codex-primary-window-minutes")).toBe("300");
    for (const header of Object.keys(neverReturned)) expect(response.headers.get(header), header).toBeNull();
  });

  it("an OpenAI API answer keeps its own x-request-id, processing time and rate-limit headers", async () => {
    const response = await fetch(`${harness.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${openaiKeys.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5", input: "Hi" }),
    });
    expect(response.status).toBe(200);
    await response.text();
    expect(response.headers.get("x-request-id")).toBe("req_upstream_openai");
    expect(response.headers.get("openai-processing-ms")).toBe("321");
    expect(response.headers.get("x-ratelimit-remaining-tokens")).toBe("99000");
    for (const header of Object.keys(neverReturned)) expect(response.headers.get(header), header).toBeNull();
  });
});
