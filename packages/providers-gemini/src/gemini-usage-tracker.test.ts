import type { ClientRequest, Usage, UsageTracker } from "@subrelay/providers-core";
import { FakeUpstream, readFixture } from "@subrelay/providers-core/testing";
import { request as send } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGeminiProvider } from "./gemini-provider";

const fixtures = new URL("./__fixtures__/", import.meta.url);
const fixture = (name: string) => readFixture(fixtures, name);
const provider = createGeminiProvider();
const clientRequest: ClientRequest = {
  operation: "stream_generate_content",
  model: "gemini-2.5-pro",
  stream: true,
  body: {},
  headers: {},
};
const tracker = (): UsageTracker => provider.usageTracker(clientRequest);

const apiKeyStreamUsage: Usage = {
  model: "gemini-2.5-flash",
  inputTokens: 9,
  outputTokens: 11 + 46,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
};
const codeAssistStreamUsage: Usage = {
  model: "gemini-2.5-pro",
  inputTokens: 8431 - 8192,
  outputTokens: 7 + 188,
  cacheReadTokens: 8192,
  cacheWriteTokens: 0,
};

/** Byte offsets just after each event's blank line. */
function eventEnds(bytes: Uint8Array): number[] {
  const text = Buffer.from(bytes).toString("latin1");
  const ends: number[] = [];
  for (let index = text.indexOf("\r\n\r\n"); index !== -1; index = text.indexOf("\r\n\r\n", index + 4)) ends.push(index + 4);
  return ends;
}

describe("Gemini usage from JSON", () => {
  it("API key: usageMetadata with cache and thoughts", () => {
    const usage = tracker();
    usage.json(JSON.parse(fixture("generate-content.json")));
    expect(usage.result()).toEqual({
      model: "gemini-2.5-flash",
      inputTokens: 1210 - 1024,
      outputTokens: 25 + 50,
      cacheReadTokens: 1024,
      cacheWriteTokens: 0,
    });
  });

  it("Code Assist: looks through the {response} envelope", () => {
    const usage = tracker();
    usage.json(JSON.parse(fixture("code-assist-generate-content.json")));
    expect(usage.result()).toEqual(codeAssistStreamUsage);
  });

  it("an array answer (streamGenerateContent without alt=sse): the last report wins", () => {
    const events: unknown[] = fixture("stream.sse")
      .split("\r\n\r\n")
      .filter((part) => part !== "")
      .map((part): unknown => JSON.parse(part.slice("data: ".length)));
    const usage = tracker();
    usage.json(events);
    expect(usage.result()).toEqual(apiKeyStreamUsage);
  });

  it("counts tool-use prompt tokens as input", () => {
    const usage = tracker();
    usage.json({ usageMetadata: { promptTokenCount: 100, toolUsePromptTokenCount: 40, candidatesTokenCount: 5 } });
    expect(usage.result()).toMatchObject({ inputTokens: 140, outputTokens: 5, cacheReadTokens: 0 });
  });

  it("an error body or garbage yields zero usage", () => {
    const usage = tracker();
    usage.json(JSON.parse(fixture("error-429-retry-info.json")));
    usage.json(null);
    usage.json("text");
    expect(usage.result()).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });
});

describe.each([
  ["API key", "stream.sse", apiKeyStreamUsage],
  ["Code Assist", "code-assist-stream.sse", codeAssistStreamUsage],
])("Gemini usage from an SSE stream (%s)", (_name, file, expected) => {
  const bytes = new Uint8Array(Buffer.from(fixture(file), "utf8"));

  it("is the same whatever byte boundary the stream is split at", () => {
    for (let split = 0; split <= bytes.length; split++) {
      const usage = tracker();
      usage.push(bytes.subarray(0, split));
      usage.push(bytes.subarray(split));
      expect(usage.result(), `split at byte ${split}`).toEqual(expected);
    }
  });

  it("is the same fed one byte at a time", () => {
    const usage = tracker();
    for (let index = 0; index < bytes.length; index++) usage.push(bytes.subarray(index, index + 1));
    expect(usage.result()).toEqual(expected);
  });

  it("a stream cut mid-way yields the last complete report seen", () => {
    const ends = eventEnds(bytes);
    expect(ends).toHaveLength(3);
    const full = tracker();
    full.push(bytes);
    const afterTwo = tracker();
    afterTwo.push(bytes.subarray(0, ends[1]));
    const secondReport = afterTwo.result();
    expect(secondReport.outputTokens).toBeLessThan(expected.outputTokens);
    expect(secondReport.outputTokens).toBeGreaterThan(0);
    for (let cut = ends[1]!; cut < ends[2]!; cut++) {
      const usage = tracker();
      usage.push(bytes.subarray(0, cut));
      expect(usage.result(), `cut at byte ${cut}`).toEqual(secondReport);
    }
    const nothing = tracker();
    nothing.push(bytes.subarray(0, ends[0]! - 3));
    expect(nothing.result()).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });
});

describe("Gemini usage over HTTP", () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await FakeUpstream.start();
  });
  afterAll(async () => {
    await upstream.close();
  });

  it("tracks a Code Assist stream whose connection is cut after two events", async () => {
    const transcript = fixture("code-assist-stream.sse");
    const parts = transcript.split("\r\n\r\n").filter((part) => part !== "");
    upstream.on("POST", "/v1internal:streamGenerateContent", {
      sse: parts.map((part) => `${part}\r\n\r\n`),
      dropAfter: 2,
    });
    const account = { id: "2", platform: "gemini", type: "oauth" as const, credentials: { accessToken: "a", projectId: "p" } };
    const built = createGeminiProvider({ codeAssistBaseUrl: upstream.url }).buildRequest({
      account,
      accessToken: "a",
      request: clientRequest,
    });
    const response = await send(built.url, { method: built.method, headers: built.headers, body: built.body });
    const usage = tracker();
    const failure = await (async () => {
      for await (const chunk of response.body) usage.push(chunk as Uint8Array);
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(usage.result()).toEqual({ ...codeAssistStreamUsage, outputTokens: 3 + 188 });
  });
});
