import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { budgetWindows } from "../src/budget-windows";
import {
  backends,
  claudeReply,
  createTestDatabase,
  deferred,
  jsonFixture,
  ManualClock,
  geminiReply,
  openaiChatReply,
  paths,
  startTestGateway,
  type Seeded,
  type StartOptions,
  type TestGateway,
} from "./harness";

/**
 * Limits per key (issue 17, items 3 and 4): limits set through the admin API travel with the key; a model outside
 * the key's list and an address outside its allowedIps are refused with a 403 in the caller's dialect; rates and
 * budgets with a 429 naming the limit, across replicas and restarts; a key holder reads its own use at /v1/usage.
 */
type Dialect = "anthropic" | "openai" | "gemini";
const dialects: readonly Dialect[] = ["anthropic", "openai", "gemini"];
const platformOf = { anthropic: "claude", openai: "openai", gemini: "gemini" } as const;
const modelOf = { anthropic: "claude-sonnet-4-5", openai: "gpt-4o", gemini: "gemini-2.5-flash" } as const;

function keyHeader(dialect: Dialect, key: string): Record<string, string> {
  return dialect === "anthropic"
    ? { "x-api-key": key, "anthropic-version": "2023-06-01" }
    : dialect === "openai"
      ? { authorization: `Bearer ${key}` }
      : { "x-goog-api-key": key };
}

/** One generation in `dialect` for `model`; the status, headers and parsed body. */
async function generate(url: string, dialect: Dialect, key: string, model: string = modelOf[dialect], headers: Record<string, string> = {}) {
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
function expectRefusal(dialect: Dialect, answer: { status: number; body: Record<string, unknown> }, status: number, message: RegExp, kind?: string) {
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

async function seedDialects(harness: TestGateway, limits: Record<string, unknown>): Promise<Record<Dialect, Seeded>> {
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

function answerEveryPlatform(harness: TestGateway): void {
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

/** A test price: every answered request costs $0.018 (18 tokens at $1,000 / MTok), a refused one nothing. */
const costOf = (row: { status: number }) => (row.status === 200 ? 0.018 : 0);

async function usageOf(url: string, dialect: Dialect, key: string) {
  const response = await fetch(`${url}/v1/usage`, { headers: keyHeader(dialect, key) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

for (const backend of backends) {
  describe(`key limits: rates (${backend})`, () => {
    let harness: TestGateway;
    const clock = new ManualClock(Date.UTC(2026, 11, 9, 12, 0, 0));
    beforeAll(async () => {
      harness = await startTestGateway({ backend, overrides: { now: clock.now, costOf } });
      answerEveryPlatform(harness);
    });
    afterAll(async () => harness?.close());

    it("requestsPerMinute 5: the sixth request in a minute is refused with Retry-After in each dialect, and let through once the first leaves the minute", async () => {
      const seeded = await seedDialects(harness, { requestsPerMinute: 5 });
      const started = clock.now();
      for (const dialect of dialects) {
        for (let index = 0; index < 5; index++) {
          expect((await generate(harness.url, dialect, seeded[dialect].key)).status, `${dialect} ${index}`).toBe(200);
          clock.advance(1_000);
        }
        const refused = await generate(harness.url, dialect, seeded[dialect].key);
        expectRefusal(dialect, refused, 429, /requestsPerMinute of 5 reached/, "rate_limit_exceeded");
        // The first of the five was at `started + 6 s * index of the dialect`; it leaves the minute 60 s later.
        const first = started + dialects.indexOf(dialect) * 5_000;
        expect(Number(refused.headers.get("retry-after"))).toBe(Math.ceil((first + 60_000 - clock.now()) / 1000));
      }
      clock.advance(60_000);
      for (const dialect of dialects) expect((await generate(harness.url, dialect, seeded[dialect].key)).status).toBe(200);
    });

    it("a request that fails over is counted once: requestsPerMinute 1 lets its second account serve it", async () => {
      const tag = randomBytes(3).toString("hex");
      const seeded = await harness.seed({
        platform: "claude",
        accounts: [
          { type: "apikey", credentials: { apiKey: "sk-ant-failing" }, baseUrl: `${harness.upstream.url}/fail-${tag}`, priority: 1 },
          { type: "apikey", credentials: { apiKey: "sk-ant-serving" }, baseUrl: `${harness.upstream.url}/serve-${tag}`, priority: 2 },
        ],
      });
      harness.upstream
        .on("POST", `/fail-${tag}/v1/messages`, { status: 529, json: jsonFixture("claude", "error-overloaded.json") })
        .on("POST", `/serve-${tag}/v1/messages`, claudeReply);
      expect((await harness.admin("PATCH", `/admin/api-keys/${seeded.keyId}`, { limits: { requestsPerMinute: 1 } })).status).toBe(200);
      expect((await generate(harness.url, "anthropic", seeded.key)).status).toBe(200);
      expect(harness.upstream.requestsTo(`/fail-${tag}/v1/messages`)).toHaveLength(1);
      expect(harness.upstream.requestsTo(`/serve-${tag}/v1/messages`)).toHaveLength(1);
      expectRefusal("anthropic", await generate(harness.url, "anthropic", seeded.key), 429, /requestsPerMinute of 1/);
      clock.advance(61_000);
    });

    it("tokensPerMinute: refused once the minute's tokens reach the limit", async () => {
      const seeded = await seedDialects(harness, { tokensPerMinute: 1 });
      expect((await generate(harness.url, "anthropic", seeded.anthropic.key)).status).toBe(200);
      await harness.gateway.settleSlots();
      expectRefusal("anthropic", await generate(harness.url, "anthropic", seeded.anthropic.key), 429, /tokensPerMinute of 1 reached/);
      clock.advance(61_000);
      expect((await generate(harness.url, "anthropic", seeded.anthropic.key)).status).toBe(200);
    });

    it("GET /v1/usage answers the key holder's own use, with the key in any dialect's header, and nothing of other keys", async () => {
      const seeded = await seedDialects(harness, { costPerDayUsd: 5 });
      const other = await seedDialects(harness, {});
      for (let index = 0; index < 2; index++) expect((await generate(harness.url, "openai", seeded.openai.key)).status).toBe(200);
      expect((await generate(harness.url, "openai", other.openai.key)).status).toBe(200);
      await harness.gateway.usage.flush();
      expect((await generate(harness.url, "openai", seeded.openai.key)).status).toBe(200);
      for (const dialect of dialects) {
        const answer = await usageOf(harness.url, dialect, seeded.openai.key);
        expect(answer.status, dialect).toBe(200);
        // Two rows written, one still queued: all three counted.
        expect(answer.body).toEqual({
          name: "test",
          limits: { costPerDayUsd: 5 },
          spend: { todayUsd: expect.closeTo(0.054, 9), weekUsd: expect.closeTo(0.054, 9), monthUsd: expect.closeTo(0.054, 9), totalUsd: expect.closeTo(0.054, 9) },
          requests: { today: 3, minute: 3 },
          tokens: { today: expect.any(Number) },
        });
      }
      const byQuery = await fetch(`${harness.url}/v1/usage?key=${other.openai.key}`);
      expect(await byQuery.json()).toMatchObject({ limits: {}, requests: { today: 1 } });
      const anonymous = await fetch(`${harness.url}/v1/usage`, { headers: { "x-api-key": "sr-wrong", "anthropic-version": "2023-06-01" } });
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    });
  });
}

describe("key limits: a $0.05 daily budget across 3 gateways on one Redis, and after restarts", () => {
  const gateways: TestGateway[] = [];
  let upstream: FakeUpstream;
  let drop: () => Promise<void>;
  let env: Record<string, string>;
  let seeded: Record<Dialect, Seeded>;
  const start = async () => {
    const started = await startTestGateway({ backend: "postgres-redis", upstream, env, overrides: { costOf } });
    gateways.push(started);
    return started;
  };
  const closeAll = async () => {
    for (const gateway of gateways.splice(0)) await gateway.close();
  };

  beforeAll(async () => {
    upstream = await FakeUpstream.start();
    const database = await createTestDatabase();
    drop = () => database.drop();
    env = { DATABASE_URL: database.url, SUBRELAY_SECRET_KEY: randomBytes(32).toString("hex"), REDIS_PREFIX: `test-${randomBytes(6).toString("hex")}:` };
    for (let index = 0; index < 3; index++) answerEveryPlatform(await start());
    seeded = await seedDialects(gateways[0]!, { costPerDayUsd: 0.05 });
  });
  afterAll(async () => {
    await closeAll();
    await upstream?.close();
    await drop?.();
  });

  /** A request through each gateway in turn, each one's charge landed before the next is sent. */
  const through = async (index: number, dialect: Dialect) => {
    const gateway = gateways[index % gateways.length]!;
    const answer = await generate(gateway.url, dialect, seeded[dialect].key);
    await gateway.gateway.settleSlots();
    return answer;
  };

  it("three $0.018 requests pass (the third crosses the budget and is billed), the fourth is refused in each dialect, on any gateway", async () => {
    const dayEnd = budgetWindows(Date.now(), "UTC").dayEnd;
    for (const dialect of dialects) {
      for (let index = 0; index < 3; index++) expect((await through(index, dialect)).status, `${dialect} ${index}`).toBe(200);
      for (let index = 3; index < 6; index++) {
        const refused = await through(index, dialect);
        expectRefusal(dialect, refused, 429, /costPerDayUsd of \$0\.05 reached/, "insufficient_quota");
        const retryAfter = Number(refused.headers.get("retry-after"));
        expect(Math.abs(retryAfter - Math.ceil((dayEnd - Date.now()) / 1000))).toBeLessThanOrEqual(2);
      }
      // Rows still queued in other gateways are theirs to count: written, every gateway sees them.
      await Promise.all(gateways.map((gateway) => gateway.gateway.usage.flush()));
      expect((await usageOf(gateways[1]!.url, dialect, seeded[dialect].key)).body).toMatchObject({ spend: { todayUsd: expect.closeTo(0.054, 9) } });
    }
  });

  it("after a restart of every gateway (same database and Redis prefix) the spend still counts", async () => {
    await closeAll();
    for (let index = 0; index < 3; index++) answerEveryPlatform(await start());
    for (const dialect of dialects) expectRefusal(dialect, await through(0, dialect), 429, /costPerDayUsd/, "insufficient_quota");
  });

  it("with the key counters gone from Redis, the spend is rebuilt from the usage log", async () => {
    const redis = gateways[0]!.gateway.redis!;
    const keys = await redis.keys(`{${env.REDIS_PREFIX}slots}:key:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    for (const dialect of dialects) expectRefusal(dialect, await through(1, dialect), 429, /costPerDayUsd/, "insufficient_quota");
    // A key under its budget is rebuilt too, and keeps counting from what the log says.
    const fresh = await seedDialects(gateways[0]!, { costPerDayUsd: 0.05 });
    expect((await generate(gateways[0]!.url, "gemini", fresh.gemini.key)).status).toBe(200);
    await gateways[0]!.gateway.settleSlots();
    await gateways[0]!.gateway.usage.flush();
    await redis.del(...(await redis.keys(`{${env.REDIS_PREFIX}slots}:key:*`)));
    for (let index = 0; index < 2; index++) expect((await generate(gateways[2]!.url, "gemini", fresh.gemini.key)).status).toBe(200);
    await gateways[2]!.gateway.settleSlots();
    expectRefusal("gemini", await generate(gateways[1]!.url, "gemini", fresh.gemini.key), 429, /costPerDayUsd/);
  });
});

describe("key limits: a budget on the embedded default survives a restart (rebuilt from the usage log)", () => {
  it("refuses the fourth request again after the process restarts on the same data directory", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "subrelay-key-limits-"));
    try {
      const first = await startTestGateway({ env: { DATA_DIR: dataDir }, overrides: { costOf } });
      answerEveryPlatform(first);
      let seeded: Record<Dialect, Seeded>;
      try {
        seeded = await seedDialects(first, { costPerDayUsd: 0.05 });
        for (let index = 0; index < 3; index++) expect((await generate(first.url, "anthropic", seeded.anthropic.key)).status).toBe(200);
        expectRefusal("anthropic", await generate(first.url, "anthropic", seeded.anthropic.key), 429, /costPerDayUsd of \$0\.05/, "insufficient_quota");
      } finally {
        await first.close();
      }
      const second = await startTestGateway({ env: { DATA_DIR: dataDir }, overrides: { costOf } });
      try {
        answerEveryPlatform(second);
        expectRefusal("anthropic", await generate(second.url, "anthropic", seeded.anthropic.key), 429, /costPerDayUsd/);
        expect((await generate(second.url, "openai", seeded.openai.key)).status).toBe(200);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

for (const backend of backends) {
  describe(`key limits: concurrency (${backend})`, () => {
    it("a key's requests beyond its concurrency wait for one to end (WAIT_TIMEOUT), then get a 429 naming the limit", async () => {
      const harness = await startTestGateway({ backend, env: { WAIT_TIMEOUT: "300ms" } });
      try {
        const seeded = await seedDialects(harness, { concurrency: 1 });
        const held = deferred();
        const path = "/held/v1/messages";
        const inFlight = { now: 0, max: 0 };
        harness.upstream.on("POST", path, async (request) => {
          inFlight.max = Math.max(inFlight.max, ++inFlight.now);
          await held.promise;
          inFlight.now -= 1;
          return claudeReply(request);
        });
        const account = await harness.admin("PATCH", `/admin/accounts/${seeded.anthropic.accountIds[0]}`, { baseUrl: `${harness.upstream.url}/held` });
        expect(account.status).toBe(200);
        const first = generate(harness.url, "anthropic", seeded.anthropic.key);
        await harness.upstream.waitForRequests(1, path);
        // The account has room (concurrency 100), the key has not: the second waits, and its wait runs out.
        expectRefusal("anthropic", await generate(harness.url, "anthropic", seeded.anthropic.key), 429, /concurrency of 1 is in use/);
        const second = generate(harness.url, "anthropic", seeded.anthropic.key);
        const third = generate(harness.url, "anthropic", seeded.anthropic.key);
        held.resolve();
        // Woken by the first one's end (not refused): each in turn.
        expect((await first).status).toBe(200);
        expect((await Promise.all([second, third])).map((answer) => answer.status)).toEqual([200, 200]);
        expect(harness.upstream.requestsTo(path)).toHaveLength(3);
        expect(inFlight.max).toBe(1);
      } finally {
        await harness.close();
      }
    });
  });
}
