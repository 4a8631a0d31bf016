import { join } from "node:path";
import type { CollectedResponse, SseEvent } from "@subrelay/providers-core";
import { readFixture, sseEvents } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { createCodexResponseCollector } from "./codex-response-collector";

const fixtures = join(import.meta.dirname, "__fixtures__");
const transcript = readFixture(fixtures, "codex-stream.sse");

function collect(events: readonly SseEvent[]): CollectedResponse {
  const collector = createCodexResponseCollector();
  for (const event of events) collector.event(event);
  return collector.finish();
}

function sse(data: Record<string, unknown>): SseEvent {
  return { event: String(data.type), data: JSON.stringify(data) };
}

const fixtureEvents = sseEvents(transcript);
const completed = JSON.parse(fixtureEvents.find((event) => event.event === "response.completed")!.data) as {
  response: Record<string, unknown>;
};

describe("createCodexResponseCollector", () => {
  it("answers with the completed response, exactly as the stream's terminal event carries it", () => {
    const result = collect(fixtureEvents);
    expect(result.status).toBe(200);
    expect(result.body).toEqual(completed.response);
    expect(result.body).toMatchObject({
      object: "response",
      status: "completed",
      usage: { input_tokens: 12873, output_tokens: 431 },
    });
  });

  it("fills an empty output from the finished items, in output order", () => {
    const items = fixtureEvents.filter((event) => event.event === "response.output_item.done");
    expect(items).toHaveLength(2);
    const emptied = sse({ type: "response.completed", response: { ...completed.response, output: [] } });
    const result = collect([...items].reverse().concat(emptied));
    expect(result.status).toBe(200);
    const output = (result.body as { output: { type: string }[] }).output;
    expect(output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(JSON.stringify(output)).toContain("all green");
  });

  it("answers an incomplete response as the API does: 200, status incomplete", () => {
    const incomplete = { ...completed.response, status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
    const result = collect([sse({ type: "response.created", response: { status: "in_progress" } }), sse({ type: "response.incomplete", response: incomplete })]);
    expect(result).toEqual({ status: 200, body: incomplete });
  });

  it.each([
    { code: "context_length_exceeded", status: 400, type: "invalid_request_error" },
    { code: "rate_limit_exceeded", status: 429, type: "rate_limit_exceeded" },
    { code: "usage_limit_reached", status: 429, type: "rate_limit_exceeded" },
    { code: "server_error", status: 502, type: "server_error" },
  ])("turns a failed response ($code) into a $status error", ({ code, status, type }) => {
    const failed = sse({
      type: "response.failed",
      response: { ...completed.response, status: "failed", output: [], error: { code, message: `it failed: ${code}` } },
    });
    expect(collect([fixtureEvents[0]!, failed])).toEqual({
      status,
      body: { error: { message: `it failed: ${code}`, type, param: null, code } },
    });
  });

  it("turns an error event into an error, even after a completed-looking response", () => {
    const error = sse({ type: "error", error: { type: "server_error", message: "stream broke" } });
    expect(collect([...fixtureEvents, error])).toEqual({
      status: 502,
      body: { error: { message: "stream broke", type: "server_error", param: null, code: "server_error" } },
    });
  });

  it("answers 502 for a stream that stopped before its terminal event", () => {
    const cut = fixtureEvents.filter((event) => event.event !== "response.completed");
    const result = collect(cut);
    expect(result.status).toBe(502);
    expect(result.body).toMatchObject({ error: { type: "server_error", message: expect.stringContaining("ended before") } });
  });

  it("ignores data that is not JSON and events it does not know", () => {
    const noise: SseEvent[] = [
      { event: "message", data: "not json" },
      { event: "ping", data: "{}" },
      sse({ type: "response.output_text.delta", delta: "x" }),
    ];
    expect(collect([...noise, ...fixtureEvents])).toEqual({ status: 200, body: completed.response });
  });

  it("gives each collector its own state", () => {
    const first = createCodexResponseCollector();
    for (const event of fixtureEvents) first.event(event);
    expect(createCodexResponseCollector().finish().status).toBe(502);
    expect(first.finish().status).toBe(200);
  });
});
