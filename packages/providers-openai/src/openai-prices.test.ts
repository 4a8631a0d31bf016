import { join } from "node:path";
import { costOf, createPriceIndex, type ClientRequest, type Usage } from "@subrelay/providers-core";
import { readFixture } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { createOpenAIProvider } from "./openai-provider";
import { openaiPrices } from "./openai-prices";

const fixture = (name: string) => readFixture(join(import.meta.dirname, "__fixtures__"), name);
const provider = createOpenAIProvider();
const index = createPriceIndex(provider.prices!.prices);
const chat: ClientRequest = { operation: "chat_completions", model: "gpt-4o", stream: false, body: {}, headers: {} };
const responses: ClientRequest = { ...chat, operation: "responses" };

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

describe("OpenAI prices", () => {
  it("are dated, name their source, and price every model the provider lists and its snapshots", () => {
    expect(openaiPrices.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(openaiPrices.source).toMatch(/^https:\/\/platform\.openai\.com\//);
    for (const model of provider.models()) expect(index.match(model.id), model.id).toBeDefined();
    for (const [alias, target] of Object.entries(provider.modelAliases!)) expect(index.match(target), target).toBe(index.match(alias));
  });

  it("match the longest family: gpt-5-mini is not gpt-5, gpt-4o-mini is not gpt-4o", () => {
    expect(index.match("gpt-5-2025-08-07")).toMatchObject({ model: "gpt-5", inputUsdPerMTok: 1.25, cacheReadUsdPerMTok: 0.125, outputUsdPerMTok: 10 });
    expect(index.match("gpt-5-mini-2025-08-07")).toMatchObject({ model: "gpt-5-mini", inputUsdPerMTok: 0.25, cacheReadUsdPerMTok: 0.025, outputUsdPerMTok: 2 });
    expect(index.match("gpt-4o-mini-2024-07-18")).toMatchObject({ model: "gpt-4o-mini", inputUsdPerMTok: 0.15 });
    expect(index.match("o4-mini-2025-04-16")).toMatchObject({ inputUsdPerMTok: 1.1, cacheReadUsdPerMTok: 0.275, outputUsdPerMTok: 4.4 });
  });

  it("bug: cache reads billed twice — chat completions' cached_tokens (inside prompt_tokens) are billed once, at the cached price", () => {
    // prompt_tokens 2,006 of which 1,920 cached; gpt-4o: $2.50 input, $1.25 cached, $10 output.
    const usage = tracked(chat, "chat-completion.json");
    expect(usage).toMatchObject({ model: "gpt-4o-2024-08-06", inputTokens: 86, cacheReadTokens: 1_920, outputTokens: 300 });
    expect(cost(usage)).toBeCloseTo(usd(86, 2.5) + usd(1_920, 1.25) + usd(300, 10), 12);
    expect(cost(usage)).not.toBeCloseTo(usd(2_006, 2.5) + usd(1_920, 1.25) + usd(300, 10), 6);
  });

  it("bug: cache reads not billed — a streamed chat completion's cached tokens cost the cached price", () => {
    const usage = tracked({ ...chat, stream: true }, "chat-stream-with-usage.sse");
    expect(usage).toMatchObject({ model: "gpt-4.1-mini-2025-04-14", inputTokens: 512, cacheReadTokens: 1_024, outputTokens: 12 });
    expect(cost(usage)).toBeCloseTo(usd(512, 0.4) + usd(1_024, 0.1) + usd(12, 1.6), 12);
    expect(cost(usage)).not.toBeCloseTo(usd(512, 0.4) + usd(12, 1.6), 7);
  });

  it("Responses API, JSON and stream: input_tokens_details.cached_tokens inside input_tokens, billed once", () => {
    const body = tracked(responses, "response.json");
    const stream = tracked({ ...responses, stream: true }, "responses-stream.sse");
    expect(stream).toEqual(body);
    expect(body).toMatchObject({ inputTokens: 178, cacheReadTokens: 2_944, outputTokens: 18 });
    expect(cost(body)).toBeCloseTo(usd(178, 2) + usd(2_944, 0.5) + usd(18, 8), 12);
  });

  it("a Codex stream: reasoning tokens billed as output, cached input once, from response.completed only", () => {
    const usage = tracked({ ...responses, stream: true }, "codex-stream.sse");
    expect(usage).toMatchObject({ model: "gpt-5-codex", inputTokens: 1_225, cacheReadTokens: 11_648, outputTokens: 431 });
    expect(cost(usage)).toBeCloseTo(usd(1_225, 1.25) + usd(11_648, 0.125) + usd(431, 10), 12);
  });
});
