import { describe, expect, it } from "vitest";
import { GatewayError } from "../gateway-error";
import { dialectNamed, dialectOf, dialects, type DialectRequest } from "./index";

const request = (over: Partial<DialectRequest>): DialectRequest => ({ url: "/", headers: {}, query: {}, pathRest: "", body: {}, ...over });

describe("client dialects", () => {
  it("each own their routes: no two dialects register one path and method", () => {
    const owners = new Map<string, string>();
    for (const dialect of dialects) {
      for (const route of dialect.routes) {
        const key = `${route.method} ${route.url} ${route.action ?? ""}`;
        expect(owners.get(key), key).toBeUndefined();
        owners.set(key, dialect.name);
      }
    }
    // Six generation routes, plus (issue 14) Gemini's countTokens, embedContent and batchEmbedContents and the
    // Responses API's compact and retrieve.
    expect(owners.size).toBe(11);
  });

  it("tell a request that no route decides by its path and headers, OpenAI last", () => {
    expect(dialectOf({ url: "/v1beta/models", headers: {} }).name).toBe("gemini");
    expect(dialectOf({ url: "/v1/models", headers: { "anthropic-version": "2023-06-01" } }).name).toBe("anthropic");
    expect(dialectOf({ url: "/v1/models", headers: { "x-api-key": "k" } }).name).toBe("anthropic");
    expect(dialectOf({ url: "/v1/models", headers: { authorization: "Bearer k" } }).name).toBe("openai");
    expect(dialectOf({ url: "/nowhere", headers: {} }).name).toBe("openai");
  });

  it("read the key where each dialect's SDKs send it", () => {
    expect(dialectNamed("anthropic").apiKey(request({ headers: { "x-api-key": "a", authorization: "Bearer b" } }))).toBe("a");
    expect(dialectNamed("anthropic").apiKey(request({ headers: { authorization: "Bearer b" } }))).toBe("b");
    expect(dialectNamed("openai").apiKey(request({ headers: { authorization: "bearer  c ", "x-api-key": "x" } }))).toBe("c");
    expect(dialectNamed("gemini").apiKey(request({ headers: { "x-goog-api-key": "g" }, query: { key: "q" } }))).toBe("g");
    expect(dialectNamed("gemini").apiKey(request({ query: { key: "q" } }))).toBe("q");
    expect(dialectNamed("gemini").apiKey(request({ query: { key: ["q1", "q2"] } }))).toBeUndefined();
  });

  it("read a Gemini model from the (once decoded) path, and refuse a malformed one", () => {
    const gemini = dialectNamed("gemini");
    expect(gemini.model(request({ pathRest: "gemini-2.5-flash:generateContent" }))).toBe("gemini-2.5-flash");
    // Fastify has decoded the path: `tuned%2Fmine` arrives as `tuned/mine`, `%25` as `%`, and is not decoded again.
    expect(gemini.model(request({ pathRest: "tuned/mine:generateContent" }))).toBe("tuned/mine");
    expect(() => gemini.model(request({ pathRest: "%:generateContent" }))).toThrow(/not a valid model id/);
    expect(() => gemini.model(request({ pathRest: "a%41:generateContent" }))).toThrow(/not a valid model id/);
    // SSE only with `alt=sse`; without it the API answers a JSON array (issue 14).
    expect(gemini.stream(request({ query: { alt: "sse" } }), "stream_generate_content")).toBe(true);
    expect(gemini.stream(request({}), "stream_generate_content")).toBe(false);
    expect(gemini.stream(request({ body: { stream: true } }), "generate_content")).toBe(false);
  });

  it("read each dialect's session id: the common headers first, then the dialect's own body field", () => {
    expect(dialectNamed("anthropic").sessionId(request({ body: { metadata: { user_id: "u1" } } }))).toBe("u1");
    expect(dialectNamed("anthropic").sessionId(request({ headers: { "x-session-id": "h" }, body: { metadata: { user_id: "u1" } } }))).toBe("h");
    expect(dialectNamed("openai").sessionId(request({ body: { conversation: { id: "conv_1" } } }))).toBe("conv_1");
    expect(dialectNamed("openai").sessionId(request({ body: { prompt_cache_key: "pk" } }))).toBe("pk");
    expect(dialectNamed("openai").sessionId(request({ body: { metadata: { user_id: 3 } } }))).toBeUndefined();
    expect(dialectNamed("gemini").sessionId(request({ headers: { session_id: "s" } }))).toBe("s");
    expect(dialectNamed("anthropic").sessionId(request({ headers: { "x-claude-code-session-id": "cc" }, body: { metadata: { user_id: "u1" } } }))).toBe("cc");
    expect(dialectNamed("openai").sessionId(request({ headers: { "session-id": "codex" }, body: { prompt_cache_key: "pk" } }))).toBe("codex");
  });

  it("render one error in each dialect's shape, with its status", () => {
    const error = new GatewayError("rate_limited", "slow down");
    expect(dialectNamed("anthropic").errorBody(error)).toEqual({ type: "error", error: { type: "rate_limit_error", message: "slow down" } });
    expect(dialectNamed("openai").errorBody(error)).toEqual({
      error: { message: "slow down", type: "rate_limit_exceeded", param: null, code: "rate_limit_exceeded" },
    });
    expect(dialectNamed("gemini").errorBody(error)).toEqual({ error: { code: 429, message: "slow down", status: "RESOURCE_EXHAUSTED" } });
    expect(dialectNamed("anthropic").streamErrorEvent(error)).toMatch(/^event: error\ndata: \{.*\}\n\n$/);
    expect(dialectNamed("openai").streamErrorEvent(error)).toMatch(/^data: \{.*\}\n\n$/);
  });
});
