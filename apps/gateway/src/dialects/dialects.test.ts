import { describe, expect, it } from "vitest";
import { GatewayError } from "../gateway-error";
import { dialectNamed, dialectOf, dialects, type ClientDialect, type DialectRequest } from "./index";

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

  describe("derive a session id from the conversation's opening (STICKY_FROM_CONTENT)", () => {
    const derive = (name: "anthropic" | "openai" | "gemini", operation: Parameters<ClientDialect["contentSessionId"]>[1], body: Record<string, unknown>) =>
      dialectNamed(name).contentSessionId(request({ body }), operation);

    it("Anthropic Messages: system + first user message; a later turn and a moved cache marker give the same id", () => {
      const system = [{ type: "text", text: "Be careful.", cache_control: { type: "ephemeral" } }];
      const first = derive("anthropic", "messages", { system, messages: [{ role: "user", content: [{ type: "text", text: "Fix it", cache_control: { type: "ephemeral" } }] }] });
      expect(first).toMatch(/^[\w-]{43}$/);
      const later = derive("anthropic", "messages", {
        system: [{ type: "text", text: "Be careful." }],
        max_tokens: 99,
        messages: [
          { role: "user", content: "Fix it" },
          { role: "assistant", content: "Done." },
          { role: "user", content: [{ type: "text", text: "Thanks", cache_control: { type: "ephemeral" } }] },
        ],
      });
      expect(later).toBe(first);
      expect(derive("anthropic", "messages", { system, messages: [{ role: "user", content: "Fix that" }] })).not.toBe(first);
      expect(derive("anthropic", "messages", { system: "Be terse.", messages: [{ role: "user", content: "Fix it" }] })).not.toBe(first);
      // No conversation to keep: token counts, and bodies without a user turn.
      expect(derive("anthropic", "count_tokens", { system, messages: [{ role: "user", content: "Fix it" }] })).toBeUndefined();
      expect(derive("anthropic", "messages", { system, messages: [{ role: "assistant", content: "Hi" }] })).toBeUndefined();
    });

    it("OpenAI chat: leading system/developer messages + first user message", () => {
      const first = derive("openai", "chat_completions", { messages: [{ role: "system", content: "Be careful." }, { role: "user", content: "Fix it" }] });
      const later = derive("openai", "chat_completions", {
        temperature: 0.2,
        messages: [
          { role: "system", content: [{ type: "text", text: "Be careful." }] },
          { role: "user", content: [{ type: "text", text: "Fix it", cache_control: { type: "ephemeral" } }] },
          { role: "assistant", content: "Done." },
          { role: "system", content: "Reminder added later" },
          { role: "user", content: "Thanks" },
        ],
      });
      expect(first).toBeDefined();
      expect(later).toBe(first);
      expect(derive("openai", "chat_completions", { messages: [{ role: "system", content: "Be careful." }, { role: "user", content: "Write docs" }] })).not.toBe(first);
      expect(derive("openai", "chat_completions", { messages: [{ role: "developer", content: "Be terse." }, { role: "user", content: "Fix it" }] })).not.toBe(first);
    });

    it("OpenAI Responses: instructions + first user input item; string input is that item", () => {
      const first = derive("openai", "responses", { instructions: "Be careful.", input: "Fix it" });
      const later = derive("openai", "responses", {
        instructions: "Be careful.",
        input: [
          { type: "message", role: "user", content: [{ type: "input_text", text: "Fix it" }] },
          { type: "function_call", call_id: "c1", name: "read", arguments: "{}" },
          { type: "function_call_output", call_id: "c1", output: "ok" },
          { role: "user", content: "Thanks" },
        ],
      });
      expect(first).toBeDefined();
      expect(later).toBe(first);
      expect(derive("openai", "responses", { instructions: "Be careful.", input: "Write docs" })).not.toBe(first);
      expect(derive("openai", "responses", { instructions: "Be terse.", input: "Fix it" })).not.toBe(first);
      // A follow-up by previous_response_id carries only its new turn: nothing to derive from.
      expect(derive("openai", "responses", { instructions: "Be careful.", input: "Thanks", previous_response_id: "resp_1" })).toBeUndefined();
    });

    it("Gemini: systemInstruction + first user content (a content without a role is the user's)", () => {
      const first = derive("gemini", "generate_content", { systemInstruction: { parts: [{ text: "Be careful." }] }, contents: [{ parts: [{ text: "Fix it" }] }] });
      const later = derive("gemini", "stream_generate_content", {
        system_instruction: { role: "system", parts: [{ text: "Be careful." }] },
        generationConfig: { temperature: 0 },
        contents: [
          { role: "user", parts: [{ text: "Fix it" }] },
          { role: "model", parts: [{ text: "Done." }] },
          { role: "user", parts: [{ text: "Thanks" }] },
        ],
      });
      expect(first).toBeDefined();
      expect(later).toBe(first);
      expect(derive("gemini", "generate_content", { systemInstruction: { parts: [{ text: "Be careful." }] }, contents: [{ parts: [{ text: "Write docs" }] }] })).not.toBe(first);
      expect(derive("gemini", "gemini_count_tokens", { contents: [{ parts: [{ text: "Fix it" }] }] })).toBeUndefined();
    });

    it("never throw on a malformed body: no user turn gives undefined, odd values are digested as they are", () => {
      const odd: Record<string, unknown>[] = [
        { messages: "hi", contents: 5, input: 7 },
        { messages: [null, 3, "x", []], contents: [null, [], "x"], input: [null, 1, { type: "reasoning" }] },
        { system: 42, instructions: { a: [1] }, systemInstruction: "plain", messages: [{ role: "user" }], contents: [{ role: "user", parts: "p" }], input: [{ role: "user", content: null }] },
      ];
      for (const body of odd) {
        for (const [name, operation] of [["anthropic", "messages"], ["openai", "chat_completions"], ["openai", "responses"], ["gemini", "generate_content"]] as const) {
          expect(() => derive(name, operation, body), `${name} ${JSON.stringify(body)}`).not.toThrow();
        }
      }
      expect(derive("anthropic", "messages", odd[0]!)).toBeUndefined();
      expect(derive("gemini", "generate_content", odd[1]!)).toBeUndefined();
      expect(derive("openai", "responses", odd[2]!)).toMatch(/^[\w-]{43}$/);
    });
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
