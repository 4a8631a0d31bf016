import { describe, expect, it } from "vitest";
import { LastUsedTracker } from "./last-used-tracker";

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("LastUsedTracker", () => {
  it("notes uses in memory and writes each id's latest use in one write per flush, not one per use", async () => {
    const writes: Array<Map<string, number>> = [];
    const tracker = new LastUsedTracker({ logger: silent, intervalMs: 60_000, write: async (updates) => void writes.push(updates) });
    for (let request = 0; request < 300; request++) tracker.touch(String(request % 3), 1_000 + request);
    tracker.touch("0", 5);
    expect(writes).toEqual([]);
    await tracker.flush();
    expect(writes).toEqual([new Map([["0", 1_297], ["1", 1_298], ["2", 1_299]])]);
    await tracker.flush();
    expect(writes).toHaveLength(1);
    await tracker.close();
  });
});
