import { join } from "node:path";
import { costOf, createPriceIndex, type ClientRequest, type ModelPrice, type Usage } from "@subrelay/providers-core";
import { readFixture } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { createClaudeProvider } from "./claude-provider";
import { claudePrices } from "./claude-prices";

const fixture = (name: string) => readFixture(join(import.meta.dirname, "__fixtures__"), name);
const provider = createClaudeProvider();
const index = createPriceIndex(provider.prices!.prices);
const messages: ClientRequest = { operation: "messages", model: "claude-sonnet-4-5", stream: false, body: {}, headers: {} };

function json(name: string): Usage {
  const tracker = provider.usageTracker(messages);
  tracker.json(JSON.parse(fixture(name)));
  return tracker.result();
}

function streamed(name: string): Usage {
  const tracker = provider.usageTracker({ ...messages, stream: true });
  tracker.push(fixture(name));
  return tracker.result();
}

function priced(usage: Usage): { price: ModelPrice; cost: number } {
  const price = index.match(usage.model!);
  if (price === undefined) throw new Error(`no price for ${usage.model}`);
  return { price, cost: costOf(usage, price) };
}

/** USD of `tokens` at `usdPerMTok`. */
const usd = (tokens: number, usdPerMTok: number) => (tokens * usdPerMTok) / 1e6;

describe("Claude prices", () => {
  it("are dated, name their source, and price every model the provider lists, by its dated id and its alias", () => {
    expect(claudePrices.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(claudePrices.source).toMatch(/^https:\/\/www\.anthropic\.com\//);
    for (const model of provider.models()) expect(index.match(model.id), model.id).toBeDefined();
    for (const [alias, target] of Object.entries(provider.modelAliases!)) expect(index.match(alias)).toBe(index.match(target));
  });

  it("are Anthropic's list prices: cache reads 0.1x input, 5-minute writes 1.25x, 1-hour writes 2x", () => {
    expect(index.match("claude-opus-4-5-20251101")).toMatchObject({ inputUsdPerMTok: 5, outputUsdPerMTok: 25, cacheReadUsdPerMTok: 0.5, cacheWrite5mUsdPerMTok: 6.25, cacheWrite1hUsdPerMTok: 10 });
    expect(index.match("claude-opus-4-1-20250805")).toMatchObject({ inputUsdPerMTok: 15, outputUsdPerMTok: 75, cacheReadUsdPerMTok: 1.5, cacheWrite5mUsdPerMTok: 18.75, cacheWrite1hUsdPerMTok: 30 });
    expect(index.match("claude-opus-4-20250514")?.model).toBe("claude-opus-4");
    expect(index.match("claude-sonnet-4-20250514")).toMatchObject({ model: "claude-sonnet-4", inputUsdPerMTok: 3, longContext: { aboveInputTokens: 200_000, inputUsdPerMTok: 6, outputUsdPerMTok: 22.5 } });
    expect(index.match("claude-haiku-4-5-20251001")).toMatchObject({ inputUsdPerMTok: 1, outputUsdPerMTok: 5, cacheReadUsdPerMTok: 0.1 });
    expect(index.match("claude-3-5-haiku-20241022")).toMatchObject({ inputUsdPerMTok: 0.8, outputUsdPerMTok: 4, cacheReadUsdPerMTok: 0.08, cacheWrite5mUsdPerMTok: 1, cacheWrite1hUsdPerMTok: 1.6 });
  });

  it("bug: cache reads not billed — a JSON message's cache reads cost the cache-read price", () => {
    const usage = json("message.json");
    expect(usage.cacheReadTokens).toBe(4096);
    // claude-opus-4-1: 12 input at $15, 4,096 cache reads at $1.50, 300 5-minute writes at $18.75, 11 output at $75.
    expect(priced(usage).cost).toBeCloseTo(usd(12, 15) + usd(4096, 1.5) + usd(300, 18.75) + usd(11, 75), 12);
  });

  it("bug: cache reads billed twice — they are not in inputTokens, so they are not billed as input too", () => {
    const usage = json("message-cache-1h.json");
    expect(usage.inputTokens).toBe(21);
    const { cost } = priced(usage);
    expect(cost).toBeCloseTo(usd(21, 3) + usd(48_000, 0.3) + usd(2_000, 3.75) + usd(4_000, 6) + usd(393, 15), 12);
    expect(cost).not.toBeCloseTo(usd(21 + 48_000, 3) + usd(48_000, 0.3) + usd(2_000, 3.75) + usd(4_000, 6) + usd(393, 15), 6);
  });

  it("bug: 5-minute and 1-hour cache writes both billed — each write is billed once, at its lifetime's price", () => {
    const usage = json("message-cache-1h.json");
    expect(usage).toMatchObject({ cacheWriteTokens: 6_000, cacheWrite1hTokens: 4_000 });
    const { cost } = priced(usage);
    const doubled = usd(21, 3) + usd(48_000, 0.3) + usd(6_000, 3.75) + usd(4_000, 6) + usd(393, 15);
    expect(cost).toBeCloseTo(doubled - usd(4_000, 3.75), 12);
    expect(cost).not.toBeCloseTo(doubled, 6);
  });

  it("bills writes reported without a split (older API versions) at the 5-minute price", () => {
    const body = JSON.parse(fixture("message-cache-1h.json")) as { usage: Record<string, unknown> };
    delete body.usage.cache_creation;
    const tracker = provider.usageTracker(messages);
    tracker.json(body);
    const usage = tracker.result();
    expect(usage.cacheWrite1hTokens ?? 0).toBe(0);
    expect(priced(usage).cost).toBeCloseTo(usd(21, 3) + usd(48_000, 0.3) + usd(6_000, 3.75) + usd(393, 15), 12);
  });

  it("bug: message_delta billed as a second request / summed with message_start — a stream is billed once, from its final figures", () => {
    // message_delta repeats the input-side counts (cumulative) and carries the final output count.
    const usage = streamed("messages-stream-cumulative.sse");
    expect(usage).toEqual({
      model: "claude-haiku-4-5-20251001",
      inputTokens: 1_830,
      outputTokens: 87,
      cacheReadTokens: 95_000,
      cacheWriteTokens: 12_000,
      cacheWrite1hTokens: 12_000,
    });
    const once = usd(1_830, 1) + usd(95_000, 0.1) + usd(12_000, 2) + usd(87, 5);
    expect(priced(usage).cost).toBeCloseTo(once, 12);
    // Summing message_start with message_delta would have billed the prompt twice and 4 output tokens more.
    expect(priced(usage).cost).not.toBeCloseTo(2 * (once - usd(87, 5)) + usd(91, 5), 6);
  });

  it("bills an older stream whose message_delta gives the output count only, keeping message_start's prompt counts", () => {
    const usage = streamed("messages-stream.sse");
    expect(usage).toMatchObject({ inputTokens: 472, outputTokens: 31, cacheReadTokens: 20_480, cacheWriteTokens: 1_024 });
    expect(priced(usage).cost).toBeCloseTo(usd(472, 3) + usd(20_480, 0.3) + usd(1_024, 3.75) + usd(31, 15), 12);
  });

  it("long-context tier: Sonnet 4.5 above 200k prompt tokens bills every token at $6 / $22.50", () => {
    const usage = json("message-long-context.json");
    expect(usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens).toBe(240_000);
    expect(priced(usage).cost).toBeCloseTo(usd(180_000, 6) + usd(60_000, 0.6) + usd(2_000, 22.5), 12);
    // Haiku 4.5 has no such tier.
    expect(costOf(usage, index.match("claude-haiku-4-5")!)).toBeCloseTo(usd(180_000, 1) + usd(60_000, 0.1) + usd(2_000, 5), 12);
  });
});
