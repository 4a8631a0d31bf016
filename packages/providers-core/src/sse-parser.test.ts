import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatSseEvent } from "./format-sse-event";
import type { SseEvent } from "./sse";
import { createSseParser } from "./sse-parser";
import { readFixture } from "./read-fixture";

const transcript = readFixture(join(import.meta.dirname, "__fixtures__"), "mixed.sse");
const bytes = new TextEncoder().encode(transcript);

const expected: SseEvent[] = [
  { event: "message_start", data: '{"type":"message_start","text":"héllo € 😀 你好"}' },
  { id: "7", event: "multi", data: "line one\nline two 🦀" },
  { data: "no-space" },
  { event: "ping", data: '{"type": "ping"}' },
  { data: "[DONE]" },
];

function parseChunks(chunks: Array<Uint8Array | string>): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = createSseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return events;
}

describe("createSseParser", () => {
  it("parses a whole transcript: CRLF and LF, comments, retry, ids, multi-line data, UTF-8", () => {
    expect(parseChunks([bytes])).toEqual(expected);
    expect(parseChunks([transcript])).toEqual(expected);
  });

  it("gives the same events for a split at every byte boundary", () => {
    for (let split = 1; split < bytes.length; split++) {
      const events = parseChunks([bytes.subarray(0, split), bytes.subarray(split)]);
      expect(events, `split at byte ${split}`).toEqual(expected);
    }
  });

  it("gives the same events fed one byte at a time", () => {
    const chunks = Array.from(bytes, (_, index) => bytes.subarray(index, index + 1));
    expect(parseChunks(chunks)).toEqual(expected);
  });

  it("gives the same events for every pair of split points", () => {
    for (let first = 1; first < bytes.length; first += 3) {
      for (let second = first + 1; second < bytes.length; second += 2) {
        const chunks = [bytes.subarray(0, first), bytes.subarray(first, second), bytes.subarray(second)];
        expect(parseChunks(chunks)).toEqual(expected);
      }
    }
  });

  it("delivers events as soon as their blank line arrives, not at end()", () => {
    const events: SseEvent[] = [];
    const parser = createSseParser((event) => events.push(event));
    parser.push("data: a\n");
    expect(events).toEqual([]);
    parser.push("\n");
    expect(events).toEqual([{ data: "a" }]);
  });

  it("discards an event not terminated by a blank line at end(), and starts afresh after it", () => {
    const events: SseEvent[] = [];
    const parser = createSseParser((event) => events.push(event));
    parser.push('data: {"cut": tr');
    parser.end();
    expect(events).toEqual([]);
    parser.push("data: next\n\n");
    expect(events).toEqual([{ data: "next" }]);
  });

  it("drops a leading BOM even when split across chunks", () => {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("data: x\n\n")]);
    expect(parseChunks([withBom.subarray(0, 1), withBom.subarray(1, 2), withBom.subarray(2)])).toEqual([{ data: "x" }]);
  });
});

describe("formatSseEvent", () => {
  it("round-trips through the parser, multi-line data included", () => {
    const text = expected.map(formatSseEvent).join("");
    expect(parseChunks([text])).toEqual(expected);
  });

  it("writes event, id and data lines ending with a blank line", () => {
    expect(formatSseEvent({ event: "e", id: "1", data: "a\nb" })).toBe("event: e\nid: 1\ndata: a\ndata: b\n\n");
    expect(formatSseEvent({ data: "" })).toBe("data: \n\n");
  });
});
