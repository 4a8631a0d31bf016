import { join } from "node:path";
import type { Operation, Usage } from "@subrelay/providers-core";
import { FakeUpstream, readFixture } from "@subrelay/providers-core/testing";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createOpenAIUsageTracker } from "./openai-usage-tracker";

const fixtures = join(import.meta.dirname, "__fixtures__");

const chatStreamUsage: Usage = {
  model: "gpt-4.1-mini-2025-04-14",
  inputTokens: 512,
  outputTokens: 12,
  cacheReadTokens: 1024,
  cacheWriteTokens: 0,
};
const responsesStreamUsage: Usage = {
  model: "gpt-4.1-2025-04-14",
  inputTokens: 178,
  outputTokens: 18,
  cacheReadTokens: 2944,
  cacheWriteTokens: 0,
};
const codexStreamUsage: Usage = {
  model: "gpt-5-codex",
  inputTokens: 1225,
  outputTokens: 431,
  cacheReadTokens: 11648,
  cacheWriteTokens: 0,
};

const codexToolStreamUsage: Usage = {
  model: "gpt-5",
  inputTokens: 230,
  outputTokens: 96,
  cacheReadTokens: 1920,
  cacheWriteTokens: 0,
};

const transcripts: { name: string; operation: Operation; expected: Usage }[] = [
  { name: "chat-stream-with-usage.sse", operation: "chat_completions", expected: chatStreamUsage },
  { name: "responses-stream.sse", operation: "responses", expected: responsesStreamUsage },
  { name: "codex-stream.sse", operation: "responses", expected: codexStreamUsage },
  // A chat completion on a Codex account: the upstream answers it with a Responses stream.
  { name: "codex-stream.sse", operation: "chat_completions", expected: codexStreamUsage },
  { name: "codex-stream-tool-call.sse", operation: "chat_completions", expected: codexToolStreamUsage },
];

function track(operation: Operation, chunks: readonly (Uint8Array | string)[]): Usage {
  const tracker = createOpenAIUsageTracker(operation);
  for (const chunk of chunks) tracker.push(chunk);
  return tracker.result();
}

describe("createOpenAIUsageTracker: JSON bodies", () => {
  it("reads a chat completion, reporting cached prompt tokens apart from the uncached ones", () => {
    const tracker = createOpenAIUsageTracker("chat_completions");
    tracker.json(JSON.parse(readFixture(fixtures, "chat-completion.json")));
    expect(tracker.result()).toEqual({
      model: "gpt-4o-2024-08-06",
      inputTokens: 86,
      outputTokens: 300,
      cacheReadTokens: 1920,
      cacheWriteTokens: 0,
    });
  });

  it("reads a Responses API body", () => {
    const tracker = createOpenAIUsageTracker("responses");
    tracker.json(JSON.parse(readFixture(fixtures, "response.json")));
    expect(tracker.result()).toEqual(responsesStreamUsage);
  });

  it("reads a Responses body given to a chat completion's tracker (a Codex account's answer)", () => {
    const tracker = createOpenAIUsageTracker("chat_completions");
    tracker.json(JSON.parse(readFixture(fixtures, "response.json")));
    expect(tracker.result()).toEqual(responsesStreamUsage);
  });

  it("reports zeros, not failures, for bodies without usage", () => {
    const tracker = createOpenAIUsageTracker("responses");
    tracker.json({ error: { message: "nope" } });
    tracker.json(null);
    expect(tracker.result()).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });
});

describe("createOpenAIUsageTracker: SSE transcripts", () => {
  it.each(transcripts)("reads $name ($operation) in one piece", ({ name, operation, expected }) => {
    expect(track(operation, [readFixture(fixtures, name)])).toEqual(expected);
  });

  it.each(transcripts)(
    "reads $name ($operation) the same split at every byte boundary",
    ({ name, operation, expected }) => {
      const bytes = new TextEncoder().encode(readFixture(fixtures, name));
      for (let split = 0; split <= bytes.length; split += 1) {
        expect(
          track(operation, [bytes.subarray(0, split), bytes.subarray(split)]),
          `split at byte ${split}`,
        ).toEqual(expected);
      }
      expect(
        track(
          operation,
          Array.from(bytes, (byte) => Uint8Array.of(byte)),
        ),
      ).toEqual(expected);
    },
  );

  it("yields what a responses stream showed before it was cut: the model, no counts", () => {
    const text = readFixture(fixtures, "codex-stream.sse");
    const cut = text.slice(0, text.indexOf("event: response.completed") + 40);
    expect(track("responses", [cut])).toEqual({
      model: "gpt-5-codex",
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  it("ignores a chat stream without a usage chunk", () => {
    const text = readFixture(fixtures, "chat-stream-with-usage.sse");
    const withoutUsage = text
      .split("\n\n")
      .filter((event) => !event.includes('"usage":{'))
      .join("\n\n");
    expect(track("chat_completions", [withoutUsage])).toEqual({
      model: "gpt-4.1-mini-2025-04-14",
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });
});

describe("createOpenAIUsageTracker over a real connection", () => {
  let upstream: FakeUpstream | undefined;

  afterEach(async () => {
    await upstream?.close();
  });

  async function streamThrough(operation: Operation, events: string[], dropAfter?: number): Promise<Usage> {
    upstream = await FakeUpstream.start();
    upstream.on("POST", "/v1/responses", { sse: events, dropAfter });
    const tracker = createOpenAIUsageTracker(operation);
    const response = await request(`${upstream.url}/v1/responses`, { method: "POST", body: "{}" });
    try {
      for await (const chunk of response.body) tracker.push(chunk as Uint8Array);
    } catch {
      // The cut connection: what was read so far is the point of the test.
    }
    return tracker.result();
  }

  function events(name: string): string[] {
    return readFixture(fixtures, name)
      .split(/(?<=\n\n)/)
      .filter((event) => event !== "");
  }

  it("keeps the usage chunk of a chat stream cut before [DONE]", async () => {
    const chunks = events("chat-stream-with-usage.sse");
    expect(await streamThrough("chat_completions", chunks, chunks.length - 1)).toEqual(chatStreamUsage);
  });

  it("yields only the model for a Codex stream cut before response.completed", async () => {
    const chunks = events("codex-stream.sse");
    const usage = await streamThrough("responses", chunks, chunks.length - 1);
    expect(usage).toEqual({
      model: "gpt-5-codex",
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  it("reads a complete Codex stream", async () => {
    expect(await streamThrough("responses", events("codex-stream.sse"))).toEqual(codexStreamUsage);
  });

  it("reads the Codex stream that answers a chat completion, and only the model when it is cut", async () => {
    const chunks = events("codex-stream-tool-call.sse");
    expect(await streamThrough("chat_completions", chunks)).toEqual(codexToolStreamUsage);
    await upstream?.close();
    expect(await streamThrough("chat_completions", chunks, chunks.length - 1)).toEqual({
      model: "gpt-5",
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    });
  });
});
