import { createSseParser, formatSseEvent, type SseEvent, type UpstreamAccount } from "@subrelay/providers-core";
import { FakeUpstream, readFixture } from "@subrelay/providers-core/testing";
import { request as send } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGeminiProvider } from "./gemini-provider";

const fixtures = new URL("./__fixtures__/", import.meta.url);
const fixture = (name: string) => readFixture(fixtures, name);
const oauthAccount: UpstreamAccount = {
  id: "2",
  platform: "gemini",
  type: "oauth",
  credentials: { accessToken: "a", projectId: "spry-tide-q4k9m" },
};
const apiKeyAccount: UpstreamAccount = { id: "1", platform: "gemini", type: "apikey", credentials: { apiKey: "k" } };
const request = {
  operation: "stream_generate_content" as const,
  model: "gemini-2.5-pro",
  stream: true,
  body: { contents: [] },
  headers: {},
};

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await FakeUpstream.start();
});
afterAll(async () => {
  await upstream.close();
});

function shaper() {
  const result = createGeminiProvider().responseShaper({ account: oauthAccount, accessToken: "a", request });
  if (result === null) throw new Error("expected a shaper for OAuth accounts");
  return result;
}

describe("Code Assist response shaping", () => {
  it("API-key answers pass through unchanged", () => {
    expect(createGeminiProvider().responseShaper({ account: apiKeyAccount, request })).toBeNull();
  });

  it("unwraps a JSON answer to the public API shape", () => {
    const wrapped = JSON.parse(fixture("code-assist-generate-content.json")) as { response: unknown };
    expect(shaper().json(wrapped)).toEqual(wrapped.response);
  });

  it("leaves error bodies and unwrapped answers alone", () => {
    const error = JSON.parse(fixture("error-429-no-details.json")) as unknown;
    expect(shaper().json(error)).toEqual(error);
    const plain = JSON.parse(fixture("generate-content.json")) as unknown;
    expect(shaper().json(plain)).toEqual(plain);
  });

  it("unwraps every element of an array answer", () => {
    const wrapped = JSON.parse(fixture("code-assist-generate-content.json")) as { response: unknown };
    expect(shaper().json([wrapped, wrapped])).toEqual([wrapped.response, wrapped.response]);
  });

  it("unwraps every SSE event of a streamed answer served over HTTP", async () => {
    const transcript = fixture("code-assist-stream.sse");
    upstream.on("POST", "/v1internal:streamGenerateContent", {
      sse: [transcript.slice(0, 101), transcript.slice(101, 777), transcript.slice(777)],
    });
    const built = createGeminiProvider({ codeAssistBaseUrl: upstream.url }).buildRequest({
      account: oauthAccount,
      accessToken: "a",
      request,
    });
    const response = await send(built.url, { method: built.method, headers: built.headers, body: built.body });
    const relayed: string[] = [];
    const shape = shaper();
    const parser = createSseParser((event) => {
      const shaped = shape.event(event);
      for (const one of shaped === null ? [] : [shaped].flat()) relayed.push(formatSseEvent(one));
    });
    for await (const chunk of response.body) parser.push(chunk as Uint8Array);
    parser.end();

    const expected: unknown[] = [];
    createSseParser((event) => expected.push((JSON.parse(event.data) as { response: unknown }).response)).push(transcript);
    expect(expected).toHaveLength(3);
    const seen: unknown[] = [];
    const reparse = createSseParser((event) => seen.push(JSON.parse(event.data)));
    reparse.push(relayed.join(""));
    reparse.end();
    expect(seen).toEqual(expected);
    expect(relayed.join("")).not.toContain("traceId");
  });

  it("passes events that are not JSON through unchanged", () => {
    const event: SseEvent = { data: "keep-alive" };
    expect(shaper().event(event)).toBe(event);
    const error: SseEvent = { data: fixture("error-503-overloaded.json") };
    expect(shaper().event(error)).toBe(error);
  });

  it("keeps the event's name and id", () => {
    const shaped = shaper().event({ event: "message", id: "9", data: JSON.stringify({ response: { candidates: [] } }) });
    expect(shaped).toEqual({ event: "message", id: "9", data: JSON.stringify({ candidates: [] }) });
  });
});
