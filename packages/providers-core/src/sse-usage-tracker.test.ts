import { describe, expect, it } from "vitest";
import { createSseUsageTracker, parseSseJson } from "./sse-usage-tracker";
import type { Usage } from "./usage";

interface Counted {
  type?: string;
  tokens?: number;
  model?: string;
}

function countingTracker() {
  return createSseUsageTracker({
    onEvent(event, usage: Usage) {
      const body = JSON.parse(event.data) as Counted;
      if (body.model) usage.model = body.model;
      usage.outputTokens += body.tokens ?? 0;
    },
    onJson(body, usage) {
      const counted = body as Counted;
      usage.inputTokens = counted.tokens!;
      if (counted.model === "throw") throw new Error("bad body");
    },
  });
}

describe("createSseUsageTracker", () => {
  it("starts empty", () => {
    expect(countingTracker().result()).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it("accumulates across events split anywhere and ignores unparseable ones quietly", () => {
    const tracker = countingTracker();
    tracker.push('data: {"model":"m1","tokens":2}\n\ndata: [DONE');
    tracker.push(new TextEncoder().encode(']\n\n: ping\n\nevent: x\ndata: {"tokens":'));
    expect(tracker.result()).toMatchObject({ model: "m1", outputTokens: 2 });
    tracker.push("3}\n\n");
    expect(tracker.result()).toMatchObject({ model: "m1", outputTokens: 5 });
  });

  it("keeps what was seen when the stream is cut mid-event", () => {
    const tracker = countingTracker();
    tracker.push('data: {"tokens":4}\n\ndata: {"tokens":10');
    expect(tracker.result().outputTokens).toBe(4);
  });

  it("reads JSON bodies, ignoring a reader that throws", () => {
    const tracker = countingTracker();
    tracker.json({ tokens: 7 });
    expect(tracker.result().inputTokens).toBe(7);
    expect(() => tracker.json({ tokens: 9, model: "throw" })).not.toThrow();
    expect(() => tracker.json(null)).not.toThrow();
  });

  it("returns a copy from result()", () => {
    const tracker = countingTracker();
    const first = tracker.result();
    first.outputTokens = 99;
    expect(tracker.result().outputTokens).toBe(0);
  });
});

describe("parseSseJson", () => {
  it("parses JSON and gives undefined for anything else", () => {
    expect(parseSseJson('{"a":1}')).toEqual({ a: 1 });
    expect(parseSseJson("[DONE]")).toBeUndefined();
    expect(parseSseJson('{"a":')).toBeUndefined();
  });
});
