import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeReply, geminiReply, leakedSecrets, openaiChatReply, paths, startTestGateway, type Seeded, type TestGateway } from "./harness";

/**
 * Issue 13's hostile inputs, fired at a running gateway: each gets a 4xx in the caller's dialect, never a
 * 5xx; no response echoes a key; the gateway keeps answering /healthz; memory stays bounded.
 */

type Dialect = "anthropic" | "openai" | "gemini";
const dialects: readonly Dialect[] = ["anthropic", "openai", "gemini"];
const CLAUDE_MODEL = "claude-opus-4-5";

/** A key a caller must never see echoed (a Gemini `?key=`, a header key). */
const QUERY_SECRET = "sr-hostile-query-secret-0123456789";

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

interface Answer {
  status: number;
  text: string;
  body: unknown;
}

describe("hostile input", () => {
  let harness: TestGateway;
  let claude: Seeded;
  let openai: Seeded;
  let gemini: Seeded;
  let empty: { key: string };
  const upstreamSecrets = ["sk-ant-upstream-hostile", "sk-openai-upstream-hostile", "AIza-upstream-hostile"];
  const secrets = () => [...upstreamSecrets, claude.key, openai.key, gemini.key, empty.key, QUERY_SECRET];

  beforeAll(async () => {
    harness = await startTestGateway();
    harness.upstream
      .on("POST", paths.claudeMessages, claudeReply)
      .on("POST", paths.openaiChat, openaiChatReply)
      .on("POST", paths.geminiGenerate, geminiReply);
    claude = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: upstreamSecrets[0] } }] });
    openai = await harness.seed({
      platform: "openai",
      accounts: [{ type: "apikey", credentials: { apiKey: upstreamSecrets[1] }, models: ["gpt-4o"] }],
    });
    gemini = await harness.seed({ platform: "gemini", accounts: [{ type: "apikey", credentials: { apiKey: upstreamSecrets[2] } }] });
    // A key whose group has no account at all.
    const group = await harness.admin<{ id: number }>("POST", "/admin/groups", { name: "hostile-empty", platform: "openai" });
    const key = await harness.admin<{ key: string }>("POST", "/admin/api-keys", { name: "empty", groupId: group.body.id });
    empty = { key: key.body.key };
  });
  afterAll(async () => harness?.close());

  const endpoint: Record<Dialect, string> = {
    anthropic: "/v1/messages",
    openai: "/v1/chat/completions",
    gemini: "/v1beta/models/gemini-2.5-flash:generateContent",
  };
  const keyHeader = (dialect: Dialect, key: string): Record<string, string> =>
    dialect === "anthropic"
      ? { "x-api-key": key, "anthropic-version": "2023-06-01" }
      : dialect === "openai"
        ? { authorization: `Bearer ${key}` }
        : { "x-goog-api-key": key };
  const keyOf = (dialect: Dialect) => (dialect === "anthropic" ? claude.key : dialect === "openai" ? openai.key : gemini.key);
  const validBody = (dialect: Dialect, model?: string): Record<string, unknown> =>
    dialect === "gemini"
      ? { contents: [{ role: "user", parts: [{ text: "hi" }] }] }
      : { model: model ?? (dialect === "anthropic" ? CLAUDE_MODEL : "gpt-4o"), max_tokens: 8, messages: [{ role: "user", content: "hi" }] };

  /** A raw request; checks that no secret is in the answer and that it is no 5xx. */
  const send = async (method: string, path: string, headers: Record<string, string>, body?: string, allow5xx = false): Promise<Answer> => {
    const response = await fetch(`${harness.url}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body,
    });
    const text = await response.text();
    expect(leakedSecrets(text, secrets())).toEqual([]);
    if (!allow5xx) expect(response.status).toBeLessThan(500);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: response.status, text, body: parsed };
  };
  const post = (path: string, headers: Record<string, string>, body: string) => send("POST", path, headers, body);

  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

  describe("item 4: malformed input", () => {
    it.each(dialects)("refuses a 5,000-deep JSON body with a 400 (%s)", async (dialect) => {
      const body = JSON.stringify(validBody(dialect)).replace(/}$/, `,"deep":${nested(5000)}}`);
      const answer = await post(endpoint[dialect], keyHeader(dialect, keyOf(dialect)), body);
      expect(answer.status).toBe(400);
      expectDialectError(dialect, 400, answer.body);
      expect(JSON.stringify(answer.body)).toMatch(/nested deeper than 400/);
    });

    it("relays a body at the depth limit and brackets inside strings", async () => {
      const body = { ...validBody("anthropic"), deep: JSON.parse(nested(398)) as unknown, text: `"${"[".repeat(1000)}\\"{{{{` };
      const answer = await post(endpoint.anthropic, keyHeader("anthropic", claude.key), JSON.stringify(body));
      expect(answer.status).toBe(200);
    });

    it.each(["%25", "%2525", "a%2541", "%25E0%25A4%25A"])("does not decode a Gemini model path twice (/v1beta/models/%s:generateContent)", async (model) => {
      const before = harness.upstream.requests.length;
      const answer = await post(`/v1beta/models/${model}:generateContent`, keyHeader("gemini", gemini.key), JSON.stringify(validBody("gemini")));
      expect([400, 404]).toContain(answer.status);
      expectDialectError("gemini", answer.status, answer.body);
      expect(harness.upstream.requests.length).toBe(before);
    });

    it("treats a repeated ?key= as no key: 401, not 503", async () => {
      const answer = await post(
        `${endpoint.gemini}?key=${QUERY_SECRET}&key=${QUERY_SECRET}b`,
        {},
        JSON.stringify(validBody("gemini")),
      );
      expect(answer.status).toBe(401);
      expectDialectError("gemini", 401, answer.body);
      const list = await send("GET", `/v1beta/models?key=a&key=b`, {});
      expect(list.status).toBe(401);
    });

    it.each(dialects)("refuses a model name longer than 256 characters with a 400 (%s)", async (dialect) => {
      const model = `m${"x".repeat(300)}`;
      const path = dialect === "gemini" ? `/v1beta/models/${model}:generateContent` : endpoint[dialect];
      const answer = await post(path, keyHeader(dialect, keyOf(dialect)), JSON.stringify(validBody(dialect, model)));
      expect(answer.status).toBe(400);
      expectDialectError(dialect, 400, answer.body);
      expect(answer.text).not.toContain(model);
    });

    it.each(dialects)("refuses a Content-Encoding other than identity with a 415 (%s)", async (dialect) => {
      const answer = await post(
        endpoint[dialect],
        { ...keyHeader(dialect, keyOf(dialect)), "content-encoding": "gzip" },
        JSON.stringify(validBody(dialect)),
      );
      expect(answer.status).toBe(415);
      expectDialectError(dialect, 415, answer.body);
    });

    it("drops __proto__ and constructor.prototype keys from relayed bodies", async () => {
      const before = harness.upstream.requests.length;
      const body = `{"model":"${CLAUDE_MODEL}","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"__proto__":{"polluted":true},"metadata":{"constructor":{"prototype":{"polluted":true}}}}`;
      const answer = await post(endpoint.anthropic, keyHeader("anthropic", claude.key), body);
      expect(answer.status).toBe(200);
      const relayed = harness.upstream.requests.slice(before).find((request) => request.path === paths.claudeMessages);
      expect(relayed).toBeDefined();
      expect(relayed!.body).not.toContain("__proto__");
      expect(relayed!.body).not.toContain("polluted");
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it("refuses ids and groupIds of 2^31 and more, and dates past year 9999, with a 400", async () => {
      const big = 2 ** 31;
      const answers = await Promise.all([
        harness.admin("PATCH", `/admin/accounts/${big}`, { priority: 1 }),
        harness.admin("DELETE", `/admin/accounts/${big}`),
        harness.admin("POST", `/admin/accounts/${big}/reset`),
        harness.admin("DELETE", `/admin/api-keys/${big}`),
        harness.admin("POST", "/admin/api-keys", { name: "big", groupId: big }),
        harness.admin("POST", "/admin/accounts", {
          name: "big",
          platform: "claude",
          type: "apikey",
          credentials: { apiKey: "sk-ant-big" },
          groupIds: [big],
        }),
        harness.admin("GET", "/admin/usage?to=8.64e15"),
        harness.admin("GET", "/admin/usage?to=8640000000000000"),
        harness.admin("GET", "/admin/usage?from=-271821-04-20T00:00:00Z"),
      ]);
      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 400));
      // The largest id is still an id: not found, not refused.
      expect((await harness.admin("DELETE", `/admin/api-keys/${big - 1}`)).status).toBe(404);
    });

    it("answers Fastify's refusal of a bad path in the caller's dialect, without echoing the URL or ?key=", async () => {
      const answer = await post(`/v1beta/models/%E0%A4%A:generateContent?key=${QUERY_SECRET}`, {}, "{}");
      expect(answer.status).toBe(400);
      expectDialectError("gemini", 400, answer.body);
      expect(answer.text).not.toContain("%E0");
      const anthropicAnswer = await post(`/v1/messages/%E0%A4%A`, keyHeader("anthropic", claude.key), "{}");
      expect(anthropicAnswer.status).toBe(400);
      expectDialectError("anthropic", 400, anthropicAnswer.body);
    });

    /** A request with a header bigger than Node's 16 KB limit, over a raw socket (clients may refuse to send one). */
    const oversizedHeaders = (path: string, headers: Record<string, string>) =>
      new Promise<Answer>((resolve, reject) => {
        const target = new URL(harness.url);
        const request = httpRequest(
          { host: target.hostname, port: target.port, method: "POST", path, headers: { ...headers, "x-padding": "p".repeat(20_000) } },
          (response) => {
            let text = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => (text += chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, text, body: JSON.parse(text) as unknown }));
            response.on("error", reject);
          },
        );
        request.on("error", reject);
        request.end("{}");
      });

    it.each(dialects)("answers headers too large with a 431 in the caller's dialect (%s)", async (dialect) => {
      const path = dialect === "gemini" ? `${endpoint.gemini}?key=${QUERY_SECRET}` : endpoint[dialect];
      const answer = await oversizedHeaders(path, dialect === "gemini" ? {} : keyHeader(dialect, QUERY_SECRET));
      expect(answer.status).toBe(431);
      expectDialectError(dialect, 431, answer.body);
      expect(leakedSecrets(answer.text, secrets())).toEqual([]);
    });

    it("names unknown routes, missing accounts and missing keys with their own codes", async () => {
      const route = await post("/v1/nowhere", keyHeader("openai", openai.key), "{}");
      expect(route.status).toBe(404);
      expect(route.body).toMatchObject({ error: { type: "invalid_request_error", code: "not_found" } });
      const anthropicRoute = await post("/v1/nowhere", keyHeader("anthropic", claude.key), "{}");
      expect(anthropicRoute.body).toMatchObject({ type: "error", error: { type: "not_found_error" } });
      const geminiRoute = await send("GET", "/v1beta/nowhere", {});
      expect(geminiRoute.body).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });

      const model = await post(endpoint.openai, keyHeader("openai", openai.key), JSON.stringify(validBody("openai", "no-such-model")));
      expect(model.status).toBe(404);
      expect(model.body).toMatchObject({ error: { code: "model_not_found" } });

      const account = await send("POST", endpoint.openai, keyHeader("openai", empty.key), JSON.stringify(validBody("openai")), true);
      expect(account.status).toBe(503);
      expect(account.body).toMatchObject({ error: { type: "server_error", code: "no_account_available" } });

      const missing = await post(endpoint.openai, {}, JSON.stringify(validBody("openai")));
      expect(missing.status).toBe(401);
      expect(missing.body).toMatchObject({ error: { type: "invalid_request_error", code: "invalid_api_key" } });
      const missingAnthropic = await post(endpoint.anthropic, { "anthropic-version": "2023-06-01" }, JSON.stringify(validBody("anthropic")));
      expect(missingAnthropic.status).toBe(401);
      expect(missingAnthropic.body).toMatchObject({ type: "error", error: { type: "authentication_error" } });
      const missingGemini = await post(endpoint.gemini, {}, JSON.stringify(validBody("gemini")));
      expect(missingGemini.body).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
    });

    it("stays up with bounded memory under a burst of deep bodies", async () => {
      const body = JSON.stringify(validBody("openai")).replace(/}$/, `,"deep":${nested(5000)}}`);
      const rssBefore = process.memoryUsage().rss;
      for (let round = 0; round < 10; round++) {
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => post(endpoint.openai, keyHeader("openai", openai.key), body)),
        );
        for (const answer of answers) expect(answer.status).toBe(400);
      }
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 1024 * 1024);
      expect((await send("GET", "/healthz", {})).status).toBe(200);
    });
  });

  // Items 1-3 (key shape and cache, auth before the body): the full-size proofs are in hostile-auth.test.ts
  // and hostile-timeouts.test.ts; here each input meets the gateway beside the others.
  describe("items 1-3: unauthenticated clients", () => {
    it.each(dialects)("refuses 15 KB bogus keys in the caller's dialect, without echoing them (%s)", async (dialect) => {
      const bogus = `sr-${"b".repeat(15 * 1024)}`;
      const rssBefore = process.memoryUsage().rss;
      for (let round = 0; round < 5; round++) {
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, index) => {
            const key = `${bogus}${dialect}${round}-${index}`;
            return fetch(`${harness.url}${endpoint[dialect]}`, {
              method: "POST",
              headers: { "content-type": "application/json", ...keyHeader(dialect, key) },
              body: JSON.stringify(validBody(dialect)),
            }).then(async (response) => ({ status: response.status, text: await response.text() }));
          }),
        );
        for (const answer of answers) {
          expect(answer.status).toBe(401);
          expect(answer.text).not.toContain("bbbbbbbbbbbbbbbb");
          expectDialectError(dialect, 401, JSON.parse(answer.text));
        }
      }
      // 200 here; hostile-auth.test.ts sends the 50,000.
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 1024 * 1024);
    });

    it.each(dialects)("refuses bodies without a key with a 4xx in the caller's dialect (%s)", async (dialect) => {
      // Item 2: the key is checked from the headers before the body is read, so `{bad` and a 1 MB body both get 401.
      const bad = await post(endpoint[dialect], dialect === "anthropic" ? { "anthropic-version": "2023-06-01" } : {}, "{bad");
      expect(bad.status).toBe(401);
      expectDialectError(dialect, 401, bad.body);
      const large = await post(
        endpoint[dialect],
        dialect === "anthropic" ? { "anthropic-version": "2023-06-01" } : {},
        JSON.stringify({ ...validBody(dialect), padding: "p".repeat(1024 * 1024) }),
      );
      expect(large.status).toBe(401);
      expectDialectError(dialect, 401, large.body);
    });

    it("still answers /healthz", async () => {
      expect((await send("GET", "/healthz", {})).body).toEqual({ status: "ok" });
    });
  });
});
