import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backends,
  claudeReply,
  geminiReply,
  openaiChatReply,
  paths,
  startTestGateway,
  type Seeded,
  type StartOptions,
  type TestGateway,
} from "./harness";

/**
 * Limits per key (issue 17, item 3): limits set through the admin API travel with the key; a model outside the
 * key's list and an address outside its allowedIps are refused with a 403 in the caller's dialect.
 */
type Dialect = "anthropic" | "openai" | "gemini";
const dialects: readonly Dialect[] = ["anthropic", "openai", "gemini"];
const platformOf = { anthropic: "claude", openai: "openai", gemini: "gemini" } as const;
const modelOf = { anthropic: "claude-sonnet-4-5", openai: "gpt-4o", gemini: "gemini-2.5-flash" } as const;

export function keyHeader(dialect: Dialect, key: string): Record<string, string> {
  return dialect === "anthropic"
    ? { "x-api-key": key, "anthropic-version": "2023-06-01" }
    : dialect === "openai"
      ? { authorization: `Bearer ${key}` }
      : { "x-goog-api-key": key };
}

/** One generation in `dialect` for `model`; the status, headers and parsed body. */
export async function generate(url: string, dialect: Dialect, key: string, model: string = modelOf[dialect], headers: Record<string, string> = {}) {
  const path = dialect === "anthropic" ? "/v1/messages" : dialect === "openai" ? "/v1/chat/completions" : `/v1beta/models/${model}:generateContent`;
  const body =
    dialect === "gemini" ? { contents: [{ role: "user", parts: [{ text: "hi" }] }] } : { model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] };
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...keyHeader(dialect, key), ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/** Error bodies of each dialect, by status: the shape and the dialect's own names. */
export function expectRefusal(dialect: Dialect, answer: { status: number; body: Record<string, unknown> }, status: number, message: RegExp, kind?: string) {
  expect(answer.status).toBe(status);
  if (dialect === "anthropic") {
    expect(answer.body).toMatchObject({ type: "error", error: { type: status === 403 ? "permission_error" : "rate_limit_error", message: expect.stringMatching(message) } });
  } else if (dialect === "openai") {
    expect(answer.body).toMatchObject({ error: { message: expect.stringMatching(message), ...(kind ? { code: kind } : {}) } });
  } else {
    expect(answer.body).toMatchObject({
      error: { code: status, message: expect.stringMatching(message), status: status === 403 ? "PERMISSION_DENIED" : "RESOURCE_EXHAUSTED" },
    });
  }
}

export async function seedDialects(harness: TestGateway, limits: Record<string, unknown>): Promise<Record<Dialect, Seeded>> {
  const seeded = {} as Record<Dialect, Seeded>;
  for (const dialect of dialects) {
    seeded[dialect] = await harness.seed({
      platform: platformOf[dialect],
      accounts: [{ type: "apikey", credentials: { apiKey: `upstream-${dialect}` }, ...(dialect === "openai" ? { modelMap: { "gpt-4o": "gpt-4o-2024-11-20" } } : {}) }],
    });
    const patched = await harness.admin("PATCH", `/admin/api-keys/${seeded[dialect].keyId}`, { limits });
    expect(patched.status).toBe(200);
  }
  return seeded;
}

export function answerEveryPlatform(harness: TestGateway): void {
  harness.upstream
    .on("POST", paths.claudeMessages, claudeReply)
    .on("POST", paths.openaiChat, openaiChatReply)
    .on("POST", paths.geminiGenerate, geminiReply);
}

for (const backend of backends) {
  describe(`key limits: models and addresses (${backend})`, () => {
    let harness: TestGateway;

    const start = async (options: StartOptions = {}) => {
      const started = await startTestGateway({ backend, ...options });
      answerEveryPlatform(started);
      return started;
    };
    beforeAll(async () => {
      harness = await start({ env: { TRUSTED_PROXIES: "127.0.0.1" } });
    });
    afterAll(async () => harness?.close());

    it("sets, patches, shows and clears limits through the admin API, one problem per wrong field", async () => {
      const group = await harness.admin<{ id: number }>("POST", "/admin/groups", { name: `limits-${backend}`, platform: "claude" });
      const limits = { requestsPerMinute: 5, costPerDayUsd: 5, models: ["claude-sonnet-4-5"], allowedIps: ["10.0.0.0/8", "2001:db8::/32"] };
      const created = await harness.admin<{ id: number; limits: unknown }>("POST", "/admin/api-keys", { name: "limited", groupId: group.body.id, limits });
      expect(created.status).toBe(201);
      expect(created.body.limits).toEqual(limits);
      const patched = await harness.admin("PATCH", `/admin/api-keys/${created.body.id}`, { name: "renamed", limits: { costTotalUsd: 10 } });
      expect(patched).toMatchObject({ status: 200, body: { name: "renamed", limits: { costTotalUsd: 10 } } });
      const listed = await harness.admin<{ data: Array<{ id: number; limits: unknown; name: string }> }>("GET", "/admin/api-keys");
      expect(listed.body.data.find((key) => key.id === created.body.id)).toMatchObject({ name: "renamed", limits: { costTotalUsd: 10 } });
      const wrong = await harness.admin<{ error: { problems: Array<{ field: string }> } }>("PATCH", `/admin/api-keys/${created.body.id}`, {
        limits: { requestsPerMinute: 1.5, allowedIps: ["10.0.0.1", "300.1.1.1"], burst: 3 },
        groupId: 2,
      });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.problems.map((problem) => problem.field).sort()).toEqual(["groupId", "limits.allowedIps[1]", "limits.burst", "limits.requestsPerMinute"]);
      expect((await harness.admin("PATCH", `/admin/api-keys/${created.body.id}`, { limits: null })).body).toMatchObject({ limits: null });
      expect((await harness.admin("PATCH", "/admin/api-keys/999999", { name: "ghost" })).status).toBe(404);
    });

    it("refuses a model outside the key's list with a 403 in each dialect; the mapped upstream name counts", async () => {
      const seeded = await seedDialects(harness, { models: ["claude-sonnet-4-5", "gpt-4o-2024-11-20", "gemini-2.5-flash"] });
      for (const dialect of dialects) {
        const allowed = await generate(harness.url, dialect, seeded[dialect].key);
        expect(allowed.status, dialect).toBe(200);
        const other = dialect === "anthropic" ? "claude-opus-4-5" : dialect === "openai" ? "gpt-4.1" : "gemini-2.5-pro";
        expectRefusal(dialect, await generate(harness.url, dialect, seeded[dialect].key, other), 403, /not allowed for this API key/);
      }
    });

    it("refuses an address outside allowedIps with a 403 in each dialect; behind a trusted proxy the forwarded address counts", async () => {
      const seeded = await seedDialects(harness, { allowedIps: ["10.0.0.0/8", "2001:db8::/32"] });
      for (const dialect of dialects) {
        const key = seeded[dialect].key;
        expectRefusal(dialect, await generate(harness.url, dialect, key), 403, /may not be used from this address/);
        expectRefusal(dialect, await generate(harness.url, dialect, key, undefined, { "x-forwarded-for": "10.1.2.3, 203.0.113.5" }), 403, /address/);
        expect((await generate(harness.url, dialect, key, undefined, { "x-forwarded-for": "203.0.113.5, 10.1.2.3" })).status, dialect).toBe(200);
        expect((await generate(harness.url, dialect, key, undefined, { "x-forwarded-for": "2001:db8::7" })).status, dialect).toBe(200);
      }
    });

    it("without trusted proxies, X-Forwarded-For is ignored: the peer address is matched", async () => {
      const direct = await start();
      try {
        const seeded = await seedDialects(direct, { allowedIps: ["10.0.0.0/8"] });
        expectRefusal("openai", await generate(direct.url, "openai", seeded.openai.key, undefined, { "x-forwarded-for": "10.1.2.3" }), 403, /address/);
        const loopback = await seedDialects(direct, { allowedIps: ["127.0.0.0/8", "::1"] });
        expect((await generate(direct.url, "openai", loopback.openai.key)).status).toBe(200);
      } finally {
        await direct.close();
      }
    });
  });
}
