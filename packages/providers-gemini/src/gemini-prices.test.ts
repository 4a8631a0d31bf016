import { join } from "node:path";
import { costOf, createPriceIndex, type ClientRequest, type Usage } from "@subrelay/providers-core";
import { readFixture } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { createGeminiProvider } from "./gemini-provider";
import { geminiPrices } from "./gemini-prices";

const fixture = (name: string) => readFixture(join(import.meta.dirname, "__fixtures__"), name);
const provider = createGeminiProvider();
const index = createPriceIndex(provider.prices!.prices);
const generate: ClientRequest = { operation: "generate_content", model: "gemini-2.5-flash", stream: false, body: {}, headers: {} };
const stream: ClientRequest = { ...generate, operation: "stream_generate_content", stream: true };

function tracked(request: ClientRequest, name: string): Usage {
  const tracker = provider.usageTracker(request);
  if (name.endsWith(".sse")) tracker.push(fixture(name));
  else tracker.json(JSON.parse(fixture(name)));
  return tracker.result();
}

function cost(usage: Usage): number {
  const price = index.match(usage.model!);
  if (price === undefined) throw new Error(`no price for ${usage.model}`);
  return costOf(usage, price);
}

const usd = (tokens: number, usdPerMTok: number) => (tokens * usdPerMTok) / 1e6;

describe("Gemini prices", () => {
  it("are dated, name their source, and price every model the provider lists", () => {
    expect(geminiPrices.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(geminiPrices.source).toBe("https://ai.google.dev/gemini-api/docs/pricing");
    for (const model of provider.models()) expect(index.match(model.id), model.id).toBeDefined();
    for (const target of Object.values(provider.modelAliases!)) expect(index.match(target), target).toBeDefined();
    expect(index.match("models/gemini-2.5-flash-lite-preview-09-2025")?.model).toBe("gemini-2.5-flash-lite");
  });

  it("bug: cache reads billed twice — cachedContentTokenCount (inside promptTokenCount) is billed once, at the cached price", () => {
    // 1,210 prompt tokens of which 1,024 cached; 25 candidates + 50 thoughts. Flash: $0.30, $0.03 cached, $2.50.
    const usage = tracked(generate, "generate-content.json");
    expect(usage).toMatchObject({ model: "gemini-2.5-flash", inputTokens: 186, cacheReadTokens: 1_024, outputTokens: 75 });
    expect(cost(usage)).toBeCloseTo(usd(186, 0.3) + usd(1_024, 0.03) + usd(75, 2.5), 12);
    expect(cost(usage)).not.toBeCloseTo(usd(1_210, 0.3) + usd(1_024, 0.03) + usd(75, 2.5), 7);
  });

  it("bug: cache reads not billed — a Code Assist stream's cached content costs the cached price, from the last report only", () => {
    const usage = tracked(stream, "code-assist-stream.sse");
    expect(usage).toMatchObject({ model: "gemini-2.5-pro", inputTokens: 239, cacheReadTokens: 8_192, outputTokens: 195 });
    expect(cost(usage)).toBeCloseTo(usd(239, 1.25) + usd(8_192, 0.125) + usd(195, 10), 12);
    expect(cost(usage)).not.toBeCloseTo(usd(239, 1.25) + usd(195, 10), 6);
  });

  it("a stream's running totals are not summed: the last usageMetadata is the bill", () => {
    const usage = tracked(stream, "stream.sse");
    expect(usage).toMatchObject({ model: "gemini-2.5-flash", inputTokens: 9, cacheReadTokens: 0 });
    expect(cost(usage)).toBeCloseTo(usd(9, 0.3) + usd(usage.outputTokens, 2.5), 12);
  });

  it("long-context tier: Gemini 2.5 Pro above 200k prompt tokens bills every token at $2.50 / $0.25 / $15", () => {
    const usage = tracked(stream, "stream-long-context.sse");
    expect(usage).toMatchObject({ model: "gemini-2.5-pro", inputTokens: 57_344, cacheReadTokens: 204_800, outputTokens: 889 });
    expect(cost(usage)).toBeCloseTo(usd(57_344, 2.5) + usd(204_800, 0.25) + usd(889, 15), 12);
    // Flash has one price whatever the prompt's size.
    expect(costOf(usage, index.match("gemini-2.5-flash")!)).toBeCloseTo(usd(57_344, 0.3) + usd(204_800, 0.03) + usd(889, 2.5), 12);
  });
});
