import { describe, expect, it } from "vitest";
import { UsageRecorder, type UsageRow } from "./usage-recorder";

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function row(index: number): UsageRow {
  return {
    requestId: `r${index}`,
    apiKeyId: 1,
    accountId: "1",
    groupId: 1,
    platform: "claude",
    model: "m",
    inputTokens: 1,
    outputTokens: 1,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    status: 200,
    stream: false,
    durationMs: 1,
    ttfbMs: null,
  };
}

const ids = (rows: UsageRow[]) => rows.map((usage) => usage.requestId);

describe("UsageRecorder", () => {
  it("writes full batches at once, in order, and the rest on flush", async () => {
    const written: string[][] = [];
    const recorder = new UsageRecorder({ logger, batchSize: 3, intervalMs: 3_600_000, write: async (rows) => void written.push(ids(rows)) });
    for (let index = 0; index < 7; index++) recorder.record(row(index));
    await recorder.flush();
    expect(written).toEqual([["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]]);
    expect(recorder.pending).toBe(0);
    await recorder.close();
  });

  it("keeps a batch whose write failed and writes it with the next flush", async () => {
    const written: string[][] = [];
    let failing = true;
    const recorder = new UsageRecorder({
      logger,
      batchSize: 10,
      intervalMs: 3_600_000,
      write: async (rows) => {
        if (failing) throw new Error("database down");
        written.push(ids(rows));
      },
    });
    recorder.record(row(0));
    recorder.record(row(1));
    await recorder.flush();
    expect(recorder.pending).toBe(2);
    failing = false;
    recorder.record(row(2));
    await recorder.close();
    expect(written).toEqual([["r0", "r1", "r2"]]);
  });

  it("drops the oldest rows past its limit and counts them", async () => {
    const dropped: number[] = [];
    const recorder = new UsageRecorder({
      logger,
      limit: 3,
      batchSize: 100,
      intervalMs: 3_600_000,
      write: () => Promise.reject(new Error("database down")),
      onDropped: (count) => dropped.push(count),
    });
    for (let index = 0; index < 5; index++) recorder.record(row(index));
    expect(recorder.pending).toBe(3);
    expect(recorder.dropped).toBe(2);
    expect(dropped).toEqual([1, 1]);
    await recorder.close();
  });

  it("lets other work run between the batches of a backlog", async () => {
    // On PGlite a write holds the event loop; a backlog written in one go would hold it for all of them.
    const events: string[] = [];
    let unblock: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      unblock = resolve;
    });
    let writes = 0;
    const recorder = new UsageRecorder({
      logger,
      batchSize: 2,
      intervalMs: 3_600_000,
      write: async (rows) => {
        writes += 1;
        // The first write stands for a database that is slow once, so that a backlog builds behind it.
        if (writes === 1) await blocked;
        events.push(`write ${ids(rows).join(",")}`);
        // Work that arrives while this batch is written, as a client request would.
        setImmediate(() => events.push("other work"));
      },
    });
    recorder.record(row(0));
    recorder.record(row(1)); // starts the first write
    for (let index = 2; index < 6; index++) recorder.record(row(index));
    unblock();
    await recorder.close();
    await new Promise((resolve) => setImmediate(resolve)); // the last write's "other work" runs before this
    expect(events).toEqual(["write r0,r1", "other work", "write r2,r3", "other work", "write r4,r5", "other work"]);
  });
});
