import { join } from "node:path";
import type { ClientRequest, Usage } from "@subrelay/providers-core";
import { FakeUpstream, readFixture } from "@subrelay/providers-core/testing";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { createClaudeProvider } from "./claude-provider";

const fixture = (name: string) => readFixture(join(import.meta.dirname, "__fixtures__"), name);
const provider = createClaudeProvider();
const transcript = new TextEncoder().encode(fixture("messages-stream.sse"));

const messages: ClientRequest = { operation: "messages", model: "claude-sonnet-4-5", stream: true, body: {}, headers: {} };
const streamUsage: Usage = {
  model: "claude-sonnet-4-5-20250929",
  inputTokens: 472,
  outputTokens: 31,
  cacheReadTokens: 20480,
  cacheWriteTokens: 1024,
  cacheWrite1hTokens: 0,
};

function track(chunks: Uint8Array[]): Usage {
  const tracker = provider.usageTracker(messages);
  for (const chunk of chunks) tracker.push(chunk);
  return tracker.result();
}

describe("Claude usage", () => {
  it("reads a JSON message", () => {
    const tracker = provider.usageTracker({ ...messages, stream: false });
    tracker.json(JSON.parse(fixture("message.json")));
    expect(tracker.result()).toEqual({ model: "claude-opus-4-1-20250805", inputTokens: 12, outputTokens: 11, cacheReadTokens: 4096, cacheWriteTokens: 300, cacheWrite1hTokens: 0 });
  });

  it("reports nothing for count_tokens, which is free", () => {
    const tracker = provider.usageTracker({ ...messages, operation: "count_tokens", stream: false });
    tracker.json(JSON.parse(fixture("count-tokens.json")));
    expect(tracker.result()).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it("reads an SSE transcript: message_start, then the last cumulative message_delta", () => {
    expect(track([transcript])).toEqual(streamUsage);
  });

  it("gives the same usage for a split at every byte boundary", () => {
    for (let split = 1; split < transcript.length; split++) {
      expect(track([transcript.subarray(0, split), transcript.subarray(split)]), `split at ${split}`).toEqual(streamUsage);
    }
  });

  it("gives the same usage fed one byte at a time", () => {
    expect(track(Array.from(transcript, (_, index) => transcript.subarray(index, index + 1)))).toEqual(streamUsage);
  });

  it("yields what was seen when the stream is cut anywhere", () => {
    const text = new TextDecoder().decode(transcript);
    /** Byte length of the transcript up to and including the blank line that ends the event holding `marker`. */
    const eventEnd = (marker: string) => new TextEncoder().encode(text.slice(0, text.indexOf("\n\n", text.indexOf(marker)) + 2)).length;
    const startEnd = eventEnd('"type":"message_start"');
    const firstDeltaEnd = eventEnd('"output_tokens":15');
    let previous: Usage | undefined;
    for (let cut = 0; cut <= transcript.length; cut++) {
      const usage = track([transcript.subarray(0, cut)]);
      if (cut < startEnd) expect(usage.inputTokens, `cut at ${cut}`).toBe(0);
      else expect(usage).toMatchObject({ model: streamUsage.model, inputTokens: 472, cacheReadTokens: 20480, cacheWriteTokens: 1024 });
      if (cut >= startEnd && cut < firstDeltaEnd) expect(usage.outputTokens, `cut at ${cut}`).toBe(1);
      if (previous) expect(usage.outputTokens).toBeGreaterThanOrEqual(previous.outputTokens);
      previous = usage;
    }
    expect(previous).toEqual(streamUsage);
  });

  it("tracks a stream the upstream cuts mid-way, as received over HTTP", async () => {
    const upstream = await FakeUpstream.start();
    try {
      const text = fixture("messages-stream.sse");
      const events = text.split(/(?<=\n\n)/);
      // Cut after the first message_delta: a further delta never arrives.
      const cutAfter = events.findIndex((event) => event.includes('"output_tokens":15')) + 1;
      upstream.on("POST", "/v1/messages", { sse: events, dropAfter: cutAfter });
      const response = await request(`${upstream.url}/v1/messages`, { method: "POST", body: "{}" });
      const tracker = provider.usageTracker(messages);
      await expect(
        (async () => {
          for await (const chunk of response.body) tracker.push(chunk as Buffer);
        })(),
      ).rejects.toThrow();
      expect(tracker.result()).toEqual({ ...streamUsage, outputTokens: 15 });
    } finally {
      await upstream.close();
    }
  });

  it("ignores pings, malformed data and unknown events", () => {
    const tracker = provider.usageTracker(messages);
    tracker.push('event: ping\ndata: {"type": "ping"}\n\ndata: not json\n\nevent: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
    tracker.push('data: {"type":"message_delta","usage":{"output_tokens":"many"}}\n\n');
    expect(tracker.result()).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });
});
