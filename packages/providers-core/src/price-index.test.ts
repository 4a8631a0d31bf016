import { describe, expect, it } from "vitest";
import type { ModelPrice } from "./model-price";
import { createPriceIndex } from "./price-index";

const price = (model: string, input = 1): ModelPrice => ({
  model,
  inputUsdPerMTok: input,
  outputUsdPerMTok: input * 5,
  cacheReadUsdPerMTok: input / 10,
  cacheWrite5mUsdPerMTok: input * 1.25,
  cacheWrite1hUsdPerMTok: input * 2,
});

describe("createPriceIndex", () => {
  const index = createPriceIndex([
    price("claude-sonnet-4", 3),
    price("claude-sonnet-4-5", 3.5),
    price("claude-sonnet-4-5-20250929", 4),
    price("gpt-4", 30),
    price("gpt-4.1", 2),
    price("gpt-4o", 2.5),
    price("gemini-2.5-flash", 0.3),
    price("gemini-2.5-flash-lite", 0.1),
  ]);

  it("matches the exact id first", () => {
    expect(index.match("claude-sonnet-4-5-20250929")?.inputUsdPerMTok).toBe(4);
    expect(index.match("gpt-4.1")?.inputUsdPerMTok).toBe(2);
  });

  it("then the longest family prefix ending at a boundary", () => {
    expect(index.match("claude-sonnet-4-5-20251111")?.model).toBe("claude-sonnet-4-5");
    expect(index.match("claude-sonnet-4-20250514")?.model).toBe("claude-sonnet-4");
    expect(index.match("claude-sonnet-4-5@20250929")?.model).toBe("claude-sonnet-4-5");
    expect(index.match("gpt-4.1-2025-04-14")?.model).toBe("gpt-4.1");
    expect(index.match("gemini-2.5-flash-lite-preview-06-17")?.model).toBe("gemini-2.5-flash-lite");
    expect(index.match("gemini-2.5-flash-preview-05-20")?.model).toBe("gemini-2.5-flash");
  });

  it("never matches a prefix that does not end at a boundary", () => {
    expect(index.match("gpt-4o-mini")?.model).toBe("gpt-4o");
    expect(index.match("gpt-4.5-preview")).toBeUndefined();
    expect(index.match("gpt-40")).toBeUndefined();
    expect(index.match("claude-sonnet-45")).toBeUndefined();
  });

  it("is case-insensitive and looks through Gemini's models/ prefix", () => {
    expect(index.match("models/gemini-2.5-flash")?.model).toBe("gemini-2.5-flash");
    expect(index.match("Claude-Sonnet-4-5")?.model).toBe("claude-sonnet-4-5");
  });

  it("gives nothing for an unknown or empty model", () => {
    expect(index.match("")).toBeUndefined();
    expect(index.match("-")).toBeUndefined();
    expect(index.match("llama-3")).toBeUndefined();
  });

  it("lets a later entry of the same model replace an earlier one", () => {
    expect(createPriceIndex([price("m", 1), price("m", 9)]).match("m")?.inputUsdPerMTok).toBe(9);
  });
});
