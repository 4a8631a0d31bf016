import type { ModelPriceRecord } from "@subrelay/db";
import type { ModelPrice, Provider } from "@subrelay/providers-core";
import { describe, expect, it, vi } from "vitest";
import { MAX_UNPRICED_MODELS, PriceBook } from "./price-book";

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sonnet: ModelPrice = {
  model: "claude-sonnet-4-5",
  inputUsdPerMTok: 3,
  outputUsdPerMTok: 15,
  cacheReadUsdPerMTok: 0.3,
  cacheWrite5mUsdPerMTok: 3.75,
  cacheWrite1hUsdPerMTok: 6,
  longContext: { aboveInputTokens: 200_000, inputUsdPerMTok: 6, outputUsdPerMTok: 22.5, cacheReadUsdPerMTok: 0.6, cacheWrite5mUsdPerMTok: 7.5, cacheWrite1hUsdPerMTok: 12 },
};
const providers = {
  all: () => [{ platform: "claude", prices: { asOf: "2025-12-01", source: "https://example.test/", prices: [sonnet] } } as unknown as Provider],
};
const override = (model: string, input: number): ModelPriceRecord => ({
  model,
  inputUsdPerMTok: input,
  outputUsdPerMTok: input,
  cacheReadUsdPerMTok: input,
  cacheWrite5mUsdPerMTok: input,
  cacheWrite1hUsdPerMTok: input,
  updatedAt: 0,
});

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

describe("PriceBook", () => {
  it("prices by the shipped list until overrides are read, then by the overrides, whole (no long-context tier)", async () => {
    let stored: ModelPriceRecord[] = [];
    const book = new PriceBook({ providers, load: () => Promise.resolve(stored), refreshIntervalMs: 0, logger });
    expect(book.price("claude-sonnet-4-5-20250929")).toBe(sonnet);
    stored = [override("claude-sonnet-4-5", 1)];
    // Another replica's change: seen on the next read.
    expect(book.price("claude-sonnet-4-5-20250929")?.inputUsdPerMTok).toBe(3);
    await book.refresh();
    const { updatedAt: _at, ...overridden } = override("claude-sonnet-4-5", 1);
    expect(book.price("claude-sonnet-4-5-20250929")).toEqual(overridden);
    expect(book.price("claude-sonnet-4-5-20250929")?.longContext).toBeUndefined();
    expect(book.entries()).toEqual([
      expect.objectContaining({ model: "claude-sonnet-4-5", source: "override", platform: "claude", shipped: expect.objectContaining({ inputUsdPerMTok: 3 }) }),
    ]);
    stored = [];
    await book.refresh();
    expect(book.price("claude-sonnet-4-5")).toBe(sonnet);
    expect(book.entries()).toEqual([expect.objectContaining({ model: "claude-sonnet-4-5", source: "shipped", longContext: sonnet.longContext })]);
  });

  it("applies this replica's own changes at once, and a read begun before one does not undo it", async () => {
    const read = deferred<ModelPriceRecord[]>();
    const book = new PriceBook({ providers, load: () => read.promise, refreshIntervalMs: 0, logger });
    const refreshing = book.refresh();
    book.override(override("claude-sonnet-4-5", 9));
    expect(book.price("claude-sonnet-4-5")?.inputUsdPerMTok).toBe(9);
    read.resolve([]); // what the database held before the PUT
    await refreshing;
    expect(book.price("claude-sonnet-4-5")?.inputUsdPerMTok).toBe(9);
    book.removeOverride("claude-sonnet-4-5");
    expect(book.price("claude-sonnet-4-5")).toBe(sonnet);
  });

  it("re-reads every 30 s by default, and keeps the last overrides when a read fails", async () => {
    vi.useFakeTimers();
    const warnings: string[] = [];
    let reads = 0;
    let answer = (): Promise<ModelPriceRecord[]> => Promise.resolve([override("gpt-x", 2)]);
    const book = new PriceBook({
      providers,
      load: () => {
        reads += 1;
        return answer();
      },
      logger: { ...logger, warn: (_fields: object, message: string) => void warnings.push(message) },
    });
    try {
      await vi.advanceTimersByTimeAsync(29_999);
      expect(reads).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(reads).toBe(1);
      expect(book.price("gpt-x")?.inputUsdPerMTok).toBe(2);
      answer = () => Promise.reject(new Error("database away"));
      await vi.advanceTimersByTimeAsync(30_000);
      expect(reads).toBe(2);
      expect(warnings).toEqual(["could not read the price overrides; keeping the last ones"]);
      expect(book.price("gpt-x")?.inputUsdPerMTok).toBe(2);
    } finally {
      book.close();
      vi.useRealTimers();
    }
  });

  it("remembers at most 50 unpriced names (cut to 100 characters) and labels the rest \"other\"; a priced one is no longer listed", () => {
    const labels: string[] = [];
    const book = new PriceBook({ providers, load: () => Promise.resolve([]), refreshIntervalMs: 0, logger, onUnpriced: (model) => labels.push(model) });
    for (let index = 0; index < MAX_UNPRICED_MODELS + 10; index++) book.noteUnpriced(`client-model-${index}`);
    book.noteUnpriced("client-model-0");
    book.noteUnpriced("x".repeat(500));
    expect(new Set(labels).size).toBe(MAX_UNPRICED_MODELS + 1);
    expect(labels.filter((label) => label === "other")).toHaveLength(11);
    expect(labels.at(-2)).toBe("client-model-0");
    expect(book.unpriced()).toHaveLength(MAX_UNPRICED_MODELS);
    book.override(override("client-model-1", 1));
    expect(book.unpriced()).toHaveLength(MAX_UNPRICED_MODELS - 1);
    expect(book.unpriced()).not.toContain("client-model-1");
  });
});
