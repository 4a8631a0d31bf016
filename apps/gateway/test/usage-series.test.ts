import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, claudeReply, paths, startTestGateway, type Seeded, type TestGateway } from "./harness";

interface Series {
  from: number;
  to: number;
  step: string;
  groupBy: string | null;
  buckets: number[];
  series: Array<{
    key: string | null;
    name: string | null;
    requests: number[];
    errors: number[];
    inputTokens: number[];
    outputTokens: number[];
    cacheReadTokens: number[];
    cacheWriteTokens: number[];
    costUsd: number[];
  }>;
}

const T0 = Date.UTC(2031, 4, 1, 12, 0, 0);
const MINUTE = 60_000;

/** GET /admin/usage/series: usage per minute, hour or day, per account, key or model, with names. */
describe.each(backends)("usage series (%s)", (backend) => {
  let harness: TestGateway;
  let seeded: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    harness.upstream.on("POST", paths.claudeMessages, claudeReply);
    seeded = await harness.seed({ platform: "claude", accounts: [{ name: "series-account", type: "apikey", credentials: { apiKey: "sk-ant-series" } }] });
    const base = { requestId: "r", groupId: seeded.groupId, platform: "claude", stream: false, durationMs: 5, ttfbMs: null, cacheReadTokens: 0, cacheWriteTokens: 0 };
    await harness.gateway.database.usage.insertMany([
      { ...base, apiKeyId: seeded.keyId, accountId: seeded.accountIds[0]!, model: "m1", inputTokens: 10, outputTokens: 2, cacheReadTokens: 3, costUsd: 0.25, status: 200, createdAt: T0 + 1_000 },
      { ...base, apiKeyId: seeded.keyId, accountId: seeded.accountIds[0]!, model: "m2", inputTokens: 20, outputTokens: 4, status: 529, createdAt: T0 + 2 * MINUTE },
      { ...base, apiKeyId: 999_999, accountId: "999999", model: "m2", inputTokens: 1, outputTokens: 1, cacheWriteTokens: 8, costUsd: 0.5, status: 200, createdAt: T0 + 2 * MINUTE + 5 },
    ]);
  });
  afterAll(async () => harness?.close());

  const series = (query: string) => harness.admin<Series>("GET", `/admin/usage/series${query}`);

  it("answers one total series with every bucket present, from ISO 8601 or epoch ms", async () => {
    const iso = await series(`?from=${new Date(T0).toISOString()}&to=${new Date(T0 + 3 * MINUTE).toISOString()}&step=minute`);
    expect(iso.status).toBe(200);
    expect(iso.body).toEqual({
      from: T0,
      to: T0 + 3 * MINUTE,
      step: "minute",
      groupBy: null,
      buckets: [T0, T0 + MINUTE, T0 + 2 * MINUTE],
      series: [
        {
          key: "total",
          name: "total",
          requests: [1, 0, 2],
          errors: [0, 0, 1],
          inputTokens: [10, 0, 21],
          outputTokens: [2, 0, 5],
          cacheReadTokens: [3, 0, 0],
          cacheWriteTokens: [0, 0, 8],
          costUsd: [0.25, 0, 0.5],
        },
      ],
    });
    const epoch = await series(`?from=${T0}&to=${T0 + 3 * MINUTE}&step=minute`);
    expect(epoch.body).toEqual(iso.body);
  });

  it("splits by account, key or model, with names (null for one that no longer exists)", async () => {
    const range = `from=${T0}&to=${T0 + 3 * MINUTE}&step=minute`;
    const byAccount = await series(`?${range}&groupBy=account`);
    expect(byAccount.body.groupBy).toBe("account");
    expect(byAccount.body.series.map((line) => [line.key, line.name, line.requests])).toEqual([
      [seeded.accountIds[0], "series-account", [1, 0, 1]],
      ["999999", null, [0, 0, 1]],
    ]);
    const byKey = await series(`?${range}&groupBy=key`);
    expect(byKey.body.series.map((line) => [line.key, line.name])).toEqual([
      [String(seeded.keyId), "test"],
      ["999999", null],
    ]);
    const byModel = await series(`?${range}&groupBy=model`);
    expect(byModel.body.series.map((line) => [line.key, line.name, line.inputTokens])).toEqual([
      ["m2", "m2", [0, 0, 21]],
      ["m1", "m1", [10, 0, 0]],
    ]);
  });

  it("chooses the step from the range, and refuses more than 2000 buckets or a range that ends before it starts", async () => {
    const hours = (count: number) => `from=${T0}&to=${T0 + count * 60 * MINUTE}`;
    expect((await series(`?${hours(6)}`)).body.step).toBe("minute");
    expect((await series(`?${hours(7)}`)).body.step).toBe("hour");
    expect((await series(`?${hours(7 * 24)}`)).body.step).toBe("hour");
    const days = await series(`?${hours(7 * 24 + 1)}`);
    expect(days.body.step).toBe("day");
    expect(days.body.buckets[0]).toBe(Date.UTC(2031, 4, 1));
    const tooMany = await series(`?${hours(34)}&step=minute`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ error: { message: expect.stringContaining("2000") } });
    expect((await series(`?from=${T0}&to=${T0}`)).status).toBe(400);
    expect((await series(`?from=yesterday`)).status).toBe(400);
    expect((await series(`?step=week`)).status).toBe(400);
    expect((await series(`?groupBy=color`)).status).toBe(400);
  });

  it("defaults to the last 24 hours by hour, and shows a relayed request once its usage is flushed", async () => {
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    await client.messages.create({ model: "claude-opus-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    await harness.gateway.usage.flush();
    const recent = await series("?groupBy=account");
    expect(recent.status).toBe(200);
    expect(recent.body.step).toBe("hour");
    expect(recent.body.to - recent.body.from).toBe(24 * 60 * MINUTE);
    expect(recent.body.buckets.length).toBeGreaterThanOrEqual(24);
    const line = recent.body.series.find((each) => each.key === seeded.accountIds[0]);
    expect(line?.name).toBe("series-account");
    expect(line?.requests.reduce((sum, value) => sum + value, 0)).toBe(1);
    expect(line?.requests.at(-1)).toBe(1);
  });

  it("names accounts and keys in GET /admin/usage too", async () => {
    const totals = await harness.admin<{ data: Array<{ key: string; name: string | null; requests: number }> }>(
      "GET",
      `/admin/usage?from=${T0}&to=${T0 + 3 * MINUTE}&groupBy=account`,
    );
    expect(totals.body.data.map((row) => [row.key, row.name, row.requests])).toEqual([
      [seeded.accountIds[0], "series-account", 2],
      ["999999", null, 1],
    ]);
  });
});
