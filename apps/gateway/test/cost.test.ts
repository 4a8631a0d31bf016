import { randomBytes } from "node:crypto";
import { FakeUpstream, readFixture, type RecordedRequest } from "@subrelay/providers-core/testing";
import type { UsageRow } from "@subrelay/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backends, createTestDatabase, deferred, paths, splitSse, startTestGateway, type Seeded, type TestGateway } from "./harness";

const claudeFixtures = new URL("../../../packages/providers-claude/src/__fixtures__/", import.meta.url);
const openaiFixtures = new URL("../../../packages/providers-openai/src/__fixtures__/", import.meta.url);
const geminiFixtures = new URL("../../../packages/providers-gemini/src/__fixtures__/", import.meta.url);

/** USD of `tokens` at `usdPerMTok`. */
const usd = (tokens: number, usdPerMTok: number) => (tokens * usdPerMTok) / 1e6;

/** What each fixture costs at the shipped list prices (see the providers' price tests for the arithmetic). */
const expected = {
  // message-cache-1h.json, Sonnet 4.5: 21 input, 48,000 cache reads, 2,000 5-minute and 4,000 1-hour writes, 393 output.
  "claude-sonnet-4-5-20250929": usd(21, 3) + usd(48_000, 0.3) + usd(2_000, 3.75) + usd(4_000, 6) + usd(393, 15),
  // messages-stream-cumulative.sse, Haiku 4.5: message_start and a cumulative message_delta, billed once.
  "claude-haiku-4-5-20251001": usd(1_830, 1) + usd(95_000, 0.1) + usd(12_000, 2) + usd(87, 5),
  // chat-completion.json, gpt-4o: 2,006 prompt tokens of which 1,920 cached.
  "gpt-4o-2024-08-06": usd(86, 2.5) + usd(1_920, 1.25) + usd(300, 10),
  // chat-stream-with-usage.sse, gpt-4.1-mini: 1,536 prompt tokens of which 1,024 cached.
  "gpt-4.1-mini-2025-04-14": usd(512, 0.4) + usd(1_024, 0.1) + usd(12, 1.6),
  // generate-content.json, Gemini 2.5 Flash: 1,210 prompt tokens of which 1,024 cached, 25 + 50 thinking out.
  "gemini-2.5-flash": usd(186, 0.3) + usd(1_024, 0.03) + usd(75, 2.5),
  // stream-long-context.sse, Gemini 2.5 Pro above 200k prompt tokens: the long-context tier.
  "gemini-2.5-pro": usd(57_344, 2.5) + usd(204_800, 0.25) + usd(889, 15),
} as const;

interface ModelTotals {
  key: string;
  requests: number;
  costUsd: number;
}

/**
 * Cost per request end to end: each platform's realistic answers, JSON and streamed, relayed through the
 * gateway and costed on their usage rows, read back through GET /admin/usage; operator overrides applied at
 * once, and undone.
 */
describe.each(backends)("cost per request (%s)", (backend) => {
  let harness: TestGateway;
  let claude: Seeded;
  let openai: Seeded;
  let gemini: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    const upstream = harness.upstream;
    upstream.on("POST", paths.claudeMessages, (request: RecordedRequest) => {
      const body = request.json<{ stream?: boolean; model: string }>();
      if (body.model === "claude-haiku-4-5") return { sse: splitSse(readFixture(claudeFixtures, "messages-stream-cumulative.sse")) };
      const message = JSON.parse(readFixture(claudeFixtures, "message-cache-1h.json")) as Record<string, unknown>;
      // An upstream that names a model no price list knows (a preview build), for the fallback to the mapped name.
      if (body.model === "claude-opus-4-5") return { json: { ...message, model: "claude-internal-preview-x" } };
      if (body.model === "mystery-model") return { json: { ...message, model: "mystery-model-1" } };
      return { json: message };
    });
    upstream.on("POST", paths.openaiChat, (request: RecordedRequest) =>
      request.json<{ stream?: boolean }>().stream
        ? { sse: splitSse(readFixture(openaiFixtures, "chat-stream-with-usage.sse")) }
        : { json: JSON.parse(readFixture(openaiFixtures, "chat-completion.json")) as unknown },
    );
    upstream.on("POST", paths.geminiGenerate, { json: JSON.parse(readFixture(geminiFixtures, "generate-content.json")) as unknown });
    upstream.on("POST", paths.geminiStream, { sse: splitSse(readFixture(geminiFixtures, "stream-long-context.sse")) });
    claude = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-cost" }, modelMap: { "house-model": "claude-opus-4-5" } }],
    });
    openai = await harness.seed({ platform: "openai", accounts: [{ type: "apikey", credentials: { apiKey: "sk-cost" } }] });
    gemini = await harness.seed({ platform: "gemini", accounts: [{ type: "apikey", credentials: { apiKey: "AIza-cost" } }] });
  });
  afterAll(async () => harness?.close());

  /** Resolves with the next usage row recorded for `requestModel` (the model the client asked for). */
  function nextRow(): Promise<UsageRow> {
    const recorded = deferred<UsageRow>();
    const usage = harness.gateway.usage;
    const original = usage.record.bind(usage);
    const spy = vi.spyOn(usage, "record").mockImplementation((row) => {
      original(row);
      spy.mockRestore();
      recorded.resolve(row);
    });
    return recorded.promise;
  }

  /** Sends one request and waits for its usage row to be recorded; the client's status and body text. */
  async function relay(path: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; text: string; row: UsageRow }> {
    const row = nextRow();
    const response = await fetch(`${harness.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, text, row: await row };
  }

  const anthropic = (key: string) => ({ "x-api-key": key, "anthropic-version": "2023-06-01" });
  const claudeMessage = (model: string, stream = false) =>
    relay("/v1/messages", anthropic(claude.key), { model, max_tokens: 512, stream, messages: [{ role: "user", content: "hi" }] });

  async function costByModel(): Promise<Map<string, ModelTotals>> {
    await harness.gateway.usage.flush();
    const totals = await harness.admin<{ data: ModelTotals[] }>("GET", "/admin/usage?groupBy=model");
    expect(totals.status).toBe(200);
    return new Map(totals.body.data.map((row) => [row.key, row]));
  }

  it("costs a JSON and a streamed request of each platform at the shipped list prices, in GET /admin/usage", async () => {
    const answers = [
      await claudeMessage("claude-sonnet-4-5"),
      await claudeMessage("claude-haiku-4-5", true),
      await relay("/v1/chat/completions", { authorization: `Bearer ${openai.key}` }, { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
      await relay("/v1/chat/completions", { authorization: `Bearer ${openai.key}` }, { model: "gpt-4.1-mini", stream: true, messages: [{ role: "user", content: "hi" }] }),
      await relay("/v1beta/models/gemini-2.5-flash:generateContent", { "x-goog-api-key": gemini.key }, { contents: [{ parts: [{ text: "hi" }] }] }),
      await relay("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", { "x-goog-api-key": gemini.key }, { contents: [{ parts: [{ text: "hi" }] }] }),
    ];
    for (const answer of answers) expect(answer.status, answer.text).toBe(200);
    const byModel = await costByModel();
    for (const [model, cost] of Object.entries(expected)) {
      expect(byModel.get(model)?.requests, model).toBe(1);
      expect(byModel.get(model)?.costUsd, model).toBeCloseTo(cost, 12);
    }
    // The token classes that made the cost are on the row: the 5-minute / 1-hour split included.
    expect(answers[0]!.row).toMatchObject({ cacheWriteTokens: 6_000, cacheWrite5mTokens: 2_000, cacheWrite1hTokens: 4_000, unpriced: false, upstreamModel: null });
    expect(answers[1]!.row).toMatchObject({ inputTokens: 1_830, outputTokens: 87, cacheReadTokens: 95_000, cacheWrite1hTokens: 12_000, cacheWrite5mTokens: 0 });
  });

  it("reports cost per bucket in GET /admin/usage/series", async () => {
    const series = await harness.admin<{ series: Array<{ key: string; requests: number[]; costUsd: number[] }> }>("GET", "/admin/usage/series?groupBy=model");
    expect(series.status).toBe(200);
    const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
    const sonnet = series.body.series.find((line) => line.key === "claude-sonnet-4-5-20250929");
    expect(sonnet?.costUsd).toHaveLength(sonnet!.requests.length);
    expect(sum(sonnet!.costUsd)).toBeCloseTo(expected["claude-sonnet-4-5-20250929"], 12);
  });

  it("a PUT override prices the next request at once; DELETE returns to the shipped price", async () => {
    const override = { inputUsdPerMTok: 10, outputUsdPerMTok: 100, cacheReadUsdPerMTok: 1, cacheWrite5mUsdPerMTok: 20, cacheWrite1hUsdPerMTok: 40 };
    const put = await harness.admin("PUT", "/admin/pricing/claude-sonnet-4-5", override);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ model: "claude-sonnet-4-5", ...override, source: "override", platform: "claude", shipped: { inputUsdPerMTok: 3 } });
    const before = (await costByModel()).get("claude-sonnet-4-5-20250929")!.costUsd;

    const overridden = await claudeMessage("claude-sonnet-4-5");
    const overriddenCost = usd(21, 10) + usd(48_000, 1) + usd(2_000, 20) + usd(4_000, 40) + usd(393, 100);
    expect(overridden.row.costUsd).toBeCloseTo(overriddenCost, 12);
    const afterOverride = (await costByModel()).get("claude-sonnet-4-5-20250929")!.costUsd;
    expect(afterOverride - before).toBeCloseTo(overriddenCost, 12);

    const listed = await harness.admin<{ data: Array<{ model: string; source: string }> }>("GET", "/admin/pricing");
    expect(listed.body.data.filter((entry) => entry.model === "claude-sonnet-4-5")).toEqual([expect.objectContaining({ source: "override" })]);

    expect((await harness.admin("DELETE", "/admin/pricing/claude-sonnet-4-5")).status).toBe(204);
    expect((await harness.admin("DELETE", "/admin/pricing/claude-sonnet-4-5")).status).toBe(404);
    const restored = await claudeMessage("claude-sonnet-4-5");
    expect(restored.row.costUsd).toBeCloseTo(expected["claude-sonnet-4-5-20250929"], 12);
    const afterDelete = (await costByModel()).get("claude-sonnet-4-5-20250929")!.costUsd;
    expect(afterDelete - afterOverride).toBeCloseTo(expected["claude-sonnet-4-5-20250929"], 12);
  });

  it("prices a mapped request by the model the account was sent when the upstream's name has no price, and records that name", async () => {
    // house-model -> claude-opus-4-5 (the account's model map); the upstream answers as "claude-internal-preview-x".
    const answer = await claudeMessage("house-model");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.row).toMatchObject({ model: "claude-internal-preview-x", upstreamModel: "claude-opus-4-5", unpriced: false });
    expect(answer.row.costUsd).toBeCloseTo(usd(21, 5) + usd(48_000, 0.5) + usd(2_000, 6.25) + usd(4_000, 10) + usd(393, 25), 12);
    expect((await costByModel()).get("claude-internal-preview-x")?.costUsd).toBeCloseTo(answer.row.costUsd!, 15);
  });

  it("an unpriced model costs 0, is flagged on its row, listed by GET /admin/pricing and counted in a metric", async () => {
    const answer = await claudeMessage("mystery-model");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.row).toMatchObject({ model: "mystery-model-1", costUsd: 0, unpriced: true });
    const pricing = await harness.admin<{ data: Array<{ model: string; source: string; platform: string }>; unpriced: string[] }>("GET", "/admin/pricing");
    expect(pricing.body.unpriced).toEqual(["mystery-model-1"]);
    expect(pricing.body.data).toContainEqual(expect.objectContaining({ model: "claude-haiku-4-5", source: "shipped", platform: "claude", inputUsdPerMTok: 1 }));
    expect(pricing.body.data).toContainEqual(
      expect.objectContaining({ model: "gemini-2.5-pro", platform: "gemini", longContext: expect.objectContaining({ aboveInputTokens: 200_000, inputUsdPerMTok: 2.5 }) }),
    );
    expect(pricing.body.data).toContainEqual(expect.objectContaining({ model: "gpt-5", platform: "openai", cacheReadUsdPerMTok: 0.125 }));
    const metrics = await (await fetch(`${harness.adminUrl}/metrics`, { headers: { authorization: `Bearer ${harness.gateway.adminToken}` } })).text();
    expect(metrics).toContain('subrelay_unpriced_requests_total{model="mystery-model-1"} 1');

    // Listed from the usage log too: what another replica served (or this one before a restart).
    await harness.gateway.usage.flush();
    await harness.gateway.database.usage.insertMany([
      { requestId: "elsewhere", apiKeyId: null, accountId: null, groupId: null, platform: "claude", model: "other-replica-model", inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, unpriced: true, status: 200, stream: false, durationMs: 1, ttfbMs: null },
    ]);
    expect((await harness.admin<{ unpriced: string[] }>("GET", "/admin/pricing")).body.unpriced).toEqual(["mystery-model-1", "other-replica-model"]);
    expect((await harness.admin("PUT", "/admin/pricing/other-replica-model", { inputUsdPerMTok: 1, outputUsdPerMTok: 1, cacheReadUsdPerMTok: 1, cacheWrite5mUsdPerMTok: 1, cacheWrite1hUsdPerMTok: 1 })).status).toBe(200);

    // Priced by the operator: no longer listed as unpriced, and the next request costs what the override says.
    const price = { inputUsdPerMTok: 1_000, outputUsdPerMTok: 1_000, cacheReadUsdPerMTok: 0, cacheWrite5mUsdPerMTok: 0, cacheWrite1hUsdPerMTok: 0 };
    const put = await harness.admin("PUT", "/admin/pricing/mystery-model", price);
    expect(put.body).toMatchObject({ source: "override", platform: null });
    expect((await harness.admin<{ unpriced: string[] }>("GET", "/admin/pricing")).body.unpriced).toEqual([]);
    const priced = await claudeMessage("mystery-model");
    expect(priced.row).toMatchObject({ unpriced: false });
    expect(priced.row.costUsd).toBeCloseTo(usd(21 + 393, 1_000), 12);
    expect((await harness.admin("DELETE", "/admin/pricing/mystery-model")).status).toBe(204);
  });

  it("PUT refuses anything but exactly the five prices, each a finite number from 0 to 1,000,000, listing every problem", async () => {
    const good = { inputUsdPerMTok: 1, outputUsdPerMTok: 2, cacheReadUsdPerMTok: 0.1, cacheWrite5mUsdPerMTok: 1.25, cacheWrite1hUsdPerMTok: 2 };
    const bad = await harness.admin<{ error: { message: string } }>("PUT", "/admin/pricing/some-model", {
      inputUsdPerMTok: -1,
      outputUsdPerMTok: "2",
      cacheReadUsdPerMTok: 1_000_001,
      cacheWrite5mUsdPerMTok: 1,
      colour: "blue",
    });
    expect(bad.status).toBe(400);
    for (const field of ["inputUsdPerMTok", "outputUsdPerMTok", "cacheReadUsdPerMTok", "cacheWrite1hUsdPerMTok", "colour"]) {
      expect(bad.body.error.message).toContain(field);
    }
    expect(bad.body.error.message).not.toContain("cacheWrite5mUsdPerMTok");
    const tooLong = await harness.admin("PUT", `/admin/pricing/${"m".repeat(201)}`, good);
    expect(tooLong.status).toBe(400);
    expect((await harness.admin("GET", "/admin/pricing")).body).not.toMatchObject({ data: expect.arrayContaining([expect.objectContaining({ model: "some-model" })]) });
    // A slash in a model name travels encoded; names are stored lower-case (matching ignores case).
    const slashed = await harness.admin("PUT", `/admin/pricing/${encodeURIComponent("Vendor/Model-A")}`, good);
    expect(slashed.status).toBe(200);
    expect(slashed.body).toMatchObject({ model: "vendor/model-a" });
    expect((await harness.admin("DELETE", `/admin/pricing/${encodeURIComponent("VENDOR/model-a")}`)).status).toBe(204);
    // Not without the admin token.
    const anonymous = await fetch(`${harness.adminUrl}/admin/pricing/some-model`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(good) });
    expect(anonymous.status).toBe(401);
  });
});

describe("price overrides across 2 gateways on one database", () => {
  const gateways: TestGateway[] = [];
  let upstream: FakeUpstream;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    upstream = await FakeUpstream.start();
    upstream.on("POST", paths.claudeMessages, { json: JSON.parse(readFixture(claudeFixtures, "message-cache-1h.json")) as unknown });
    const database = await createTestDatabase();
    drop = () => database.drop();
    const env = { DATABASE_URL: database.url, SUBRELAY_SECRET_KEY: randomBytes(32).toString("hex"), REDIS_PREFIX: `test-${randomBytes(6).toString("hex")}:` };
    // Re-reads only when told (refresh()), so the test says when "30 s later" is.
    const overrides = { priceRefreshIntervalMs: 0 };
    for (let index = 0; index < 2; index++) gateways.push(await startTestGateway({ backend: "postgres-redis", upstream, env, overrides }));
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await upstream?.close();
    await drop?.();
  });

  it("a PUT on one replica prices its next request at once, the other's after its next re-read; DELETE likewise", async () => {
    const [first, second] = gateways as [TestGateway, TestGateway];
    const seeded = await first.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-replicas" } }] });
    const send = async (harness: TestGateway): Promise<number> => {
      const recorded = deferred<UsageRow>();
      const usage = harness.gateway.usage;
      const original = usage.record.bind(usage);
      const spy = vi.spyOn(usage, "record").mockImplementation((row) => {
        original(row);
        spy.mockRestore();
        recorded.resolve(row);
      });
      const response = await fetch(`${harness.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": seeded.key, "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
      });
      expect(response.status).toBe(200);
      await response.text();
      return (await recorded.promise).costUsd!;
    };
    const shipped = expected["claude-sonnet-4-5-20250929"];
    const price = { inputUsdPerMTok: 1_000, outputUsdPerMTok: 0, cacheReadUsdPerMTok: 0, cacheWrite5mUsdPerMTok: 0, cacheWrite1hUsdPerMTok: 0 };
    expect((await first.admin("PUT", "/admin/pricing/claude-sonnet-4-5", price)).status).toBe(200);
    expect(await send(first)).toBeCloseTo(usd(21, 1_000), 12);
    expect(await send(second)).toBeCloseTo(shipped, 12);
    await second.gateway.prices.refresh();
    expect(await send(second)).toBeCloseTo(usd(21, 1_000), 12);
    expect((await second.admin("GET", "/admin/pricing")).body).toMatchObject({
      data: expect.arrayContaining([expect.objectContaining({ model: "claude-sonnet-4-5", source: "override" })]),
    });

    expect((await second.admin("DELETE", "/admin/pricing/claude-sonnet-4-5")).status).toBe(204);
    expect(await send(second)).toBeCloseTo(shipped, 12);
    await first.gateway.prices.refresh();
    expect(await send(first)).toBeCloseTo(shipped, 12);
  });
});
