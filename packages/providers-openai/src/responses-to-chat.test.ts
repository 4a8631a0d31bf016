import { join } from "node:path";
import {
  formatSseEvent,
  type ResponseShaper,
  type SseEvent,
} from "@subrelay/providers-core";
import { readFixture, sseEvents } from "@subrelay/providers-core/testing";
import { describe, expect, it } from "vitest";
import { createResponsesToChatShaper, responseToChatCompletion } from "./responses-to-chat";

const fixtures = join(import.meta.dirname, "__fixtures__");

const textEvents = sseEvents(readFixture(fixtures, "codex-stream.sse"));
const toolEvents = sseEvents(readFixture(fixtures, "codex-stream-tool-call.sse"));

/** What the gateway writes to a streaming client: each event shaped and serialised, then `end()`'s events. */
function wire(events: readonly SseEvent[], shaper: ResponseShaper = createResponsesToChatShaper()): string {
  let text = "";
  for (const event of events) {
    const shaped = shaper.event(event);
    if (shaped === null) continue;
    for (const one of Array.isArray(shaped) ? (shaped as readonly SseEvent[]) : [shaped as SseEvent]) {
      text += formatSseEvent(one);
    }
  }
  for (const one of shaper.end?.() ?? []) text += formatSseEvent(one);
  return text;
}

/** The `data:` payloads a client reads off the wire, JSON parsed (`[DONE]` kept as the string). */
function payloads(text: string): unknown[] {
  return sseEvents(text).map((event) =>
    event.data === "[DONE]" ? event.data : (JSON.parse(event.data) as unknown),
  );
}

function sse(data: Record<string, unknown>): SseEvent {
  return { event: String(data.type), data: JSON.stringify(data) };
}

function terminal(events: readonly SseEvent[]): Record<string, unknown> {
  const last = events.find((event) => event.event === "response.completed")!;
  return (JSON.parse(last.data) as { response: Record<string, unknown> }).response;
}

const textMeta = {
  id: "chatcmpl-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
  object: "chat.completion.chunk",
  created: 1763731300,
  model: "gpt-5-codex",
};
const toolMeta = {
  id: "chatcmpl-68f2a1c4e0b88191b7d2c3e4f5a6b7c8",
  object: "chat.completion.chunk",
  created: 1763732400,
  model: "gpt-5",
};

function chunk(meta: object, delta: object, finishReason: string | null = null) {
  return { ...meta, choices: [{ index: 0, delta, finish_reason: finishReason }] };
}

/** Rebuilds the tool calls from the chunks as the OpenAI SDK's stream helpers do (by `index`). */
function accumulateToolCalls(chunks: unknown[]): { id: string; name: string; arguments: string }[] {
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const payload of chunks) {
    const choices = (payload as { choices?: { delta: { tool_calls?: unknown[] } }[] }).choices ?? [];
    for (const call of choices[0]?.delta.tool_calls ?? []) {
      const {
        index,
        id,
        function: fn,
      } = call as { index: number; id?: string; function: { name?: string; arguments?: string } };
      calls[index] ??= { id: "", name: "", arguments: "" };
      if (id !== undefined) calls[index].id = id;
      if (fn.name !== undefined) calls[index].name = fn.name;
      calls[index].arguments += fn.arguments ?? "";
    }
  }
  return calls;
}

describe("createResponsesToChatShaper: streams", () => {
  it("translates a Codex text stream into chat.completion.chunk events, usage and [DONE]", () => {
    const text = wire(textEvents);
    expect(text).not.toMatch(/^event:/m);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(payloads(text)).toEqual([
      chunk(textMeta, { role: "assistant", content: "" }),
      chunk(textMeta, { content: "I'll run" }),
      chunk(textMeta, { content: " the tests" }),
      chunk(textMeta, { content: " — all green." }),
      chunk(textMeta, {}, "stop"),
      {
        ...textMeta,
        choices: [],
        usage: {
          prompt_tokens: 12873,
          completion_tokens: 431,
          total_tokens: 13304,
          prompt_tokens_details: { cached_tokens: 11648 },
          completion_tokens_details: { reasoning_tokens: 384 },
        },
      },
      "[DONE]",
    ]);
  });

  it("translates a Codex stream of function calls into indexed tool_calls deltas", () => {
    const open = (index: number, id: string) => ({
      tool_calls: [{ index, id, type: "function", function: { name: "get_weather", arguments: "" } }],
    });
    const args = (index: number, text: string) => ({
      tool_calls: [{ index, function: { arguments: text } }],
    });
    expect(payloads(wire(toolEvents))).toEqual([
      chunk(toolMeta, { role: "assistant", content: "" }),
      chunk(toolMeta, open(0, "call_Vx3kPq8RmT2nLw5Yz7Ab1Cd4")),
      chunk(toolMeta, args(0, '{"city":')),
      chunk(toolMeta, args(0, '"Paris","unit"')),
      chunk(toolMeta, args(0, ':"c"}')),
      chunk(toolMeta, open(1, "call_Hj6sDf9GkL1qWe4Rt8Yu2Io5")),
      chunk(toolMeta, args(1, '{"city":"Tokyo",')),
      chunk(toolMeta, args(1, '"unit":"c"}')),
      chunk(toolMeta, {}, "tool_calls"),
      {
        ...toolMeta,
        choices: [],
        usage: {
          prompt_tokens: 2150,
          completion_tokens: 96,
          total_tokens: 2246,
          prompt_tokens_details: { cached_tokens: 1920 },
          completion_tokens_details: { reasoning_tokens: 64 },
        },
      },
      "[DONE]",
    ]);
  });

  it("gives chunks from which a client rebuilds the exact calls of the response", () => {
    const calls = accumulateToolCalls(payloads(wire(toolEvents)));
    const output = (terminal(toolEvents).output as Record<string, unknown>[]).filter(
      (item) => item.type === "function_call",
    );
    expect(calls).toEqual(
      output.map((item) => ({ id: item.call_id, name: item.name, arguments: item.arguments })),
    );
    expect(JSON.parse(calls[1]!.arguments)).toEqual({ city: "Tokyo", unit: "c" });
  });

  it("sends the arguments of a call whose deltas never came, once, from its done events", () => {
    const item = { id: "fc_1", type: "function_call", call_id: "call_1", name: "f", arguments: "" };
    const events = [
      sse({ type: "response.created", response: { id: "resp_x", created_at: 5, model: "gpt-5" } }),
      sse({ type: "response.output_item.added", output_index: 0, item }),
      sse({
        type: "response.function_call_arguments.done",
        item_id: "fc_1",
        output_index: 0,
        arguments: '{"a":1}',
      }),
      sse({ type: "response.output_item.done", output_index: 0, item: { ...item, arguments: '{"a":1}' } }),
      // An item the stream never announced still reaches the client, arguments included.
      sse({
        type: "response.output_item.done",
        output_index: 1,
        item: { ...item, id: "fc_2", call_id: "call_2", arguments: "{}" },
      }),
    ];
    expect(accumulateToolCalls(payloads(wire(events)))).toEqual([
      { id: "call_1", name: "f", arguments: '{"a":1}' },
      { id: "call_2", name: "f", arguments: "{}" },
    ]);
  });

  it.each([
    { reason: "max_output_tokens", finish: "length" },
    { reason: "content_filter", finish: "content_filter" },
  ])("ends an incomplete response ($reason) with finish_reason $finish", ({ reason, finish }) => {
    const response = { ...terminal(textEvents), status: "incomplete", incomplete_details: { reason } };
    const events = [
      ...textEvents.filter((event) => event.event !== "response.completed"),
      sse({ type: "response.incomplete", response }),
    ];
    const out = payloads(wire(events));
    expect(out.at(-3)).toEqual(chunk(textMeta, {}, finish));
    expect(out.at(-2)).toMatchObject({ choices: [], usage: { prompt_tokens: 12873 } });
    expect(out.at(-1)).toBe("[DONE]");
  });

  it("turns a failed response into an OpenAI error event, then only [DONE]", () => {
    const failed = sse({
      type: "response.failed",
      response: {
        ...terminal(textEvents),
        status: "failed",
        error: { code: "context_length_exceeded", message: "Too long." },
      },
    });
    const events = [textEvents[0]!, failed, ...textEvents.slice(1)];
    expect(payloads(wire(events))).toEqual([
      chunk(textMeta, { role: "assistant", content: "" }),
      {
        error: {
          message: "Too long.",
          type: "invalid_request_error",
          param: null,
          code: "context_length_exceeded",
        },
      },
      "[DONE]",
    ]);
  });

  it("turns an error event into an OpenAI error event", () => {
    const error = sse({
      type: "error",
      error: { type: "server_error", code: "server_error", message: "stream broke" },
    });
    expect(payloads(wire([error]))).toEqual([
      { error: { message: "stream broke", type: "server_error", param: null, code: "server_error" } },
      "[DONE]",
    ]);
  });

  it("still ends a stream cut before its terminal event with [DONE], and no finish chunk", () => {
    const cut = textEvents.filter((event) => event.event !== "response.completed");
    const out = payloads(wire(cut));
    expect(out).toHaveLength(5);
    expect(out.at(-2)).toEqual(chunk(textMeta, { content: " — all green." }));
    expect(out.at(-1)).toBe("[DONE]");
    expect(createResponsesToChatShaper().end?.()).toEqual([{ data: "[DONE]" }]);
  });

  it("drops what a chat client has no use for, and data that is not JSON", () => {
    const shaper = createResponsesToChatShaper();
    for (const event of [
      { event: "ping", data: "not json" },
      sse({ type: "response.output_item.added", output_index: 0, item: { type: "reasoning", id: "rs_1" } }),
      sse({ type: "response.reasoning_summary_text.delta", delta: "thinking" }),
      sse({
        type: "response.content_part.added",
        item_id: "m",
        output_index: 1,
        part: { type: "output_text", text: "" },
      }),
      sse({ type: "response.output_text.done", text: "all" }),
      sse({ type: "response.function_call_arguments.delta", item_id: "unknown", delta: "{}" }),
    ]) {
      expect(shaper.event(event), event.data).toBeNull();
    }
  });

  it("starts with a role chunk even when the stream does not begin with response.created", () => {
    const delta = sse({ type: "response.output_text.delta", item_id: "m", output_index: 0, delta: "Hi" });
    const out = payloads(wire([delta])) as { id: string; choices: { delta: unknown }[] }[];
    expect(out.slice(0, 2).map((payload) => payload.choices[0]!.delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "Hi" },
    ]);
    expect(out[0]!.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(out[1]!.id).toBe(out[0]!.id);
  });

  it("keeps each shaper's state to itself", () => {
    const first = createResponsesToChatShaper();
    for (const event of toolEvents.slice(0, 10)) first.event(event);
    // A second request's first call is index 0 again, under its own id.
    const out = payloads(wire(toolEvents));
    expect(accumulateToolCalls(out).map((call) => call.id)).toEqual([
      "call_Vx3kPq8RmT2nLw5Yz7Ab1Cd4",
      "call_Hj6sDf9GkL1qWe4Rt8Yu2Io5",
    ]);
    expect(toolEvents[10]!.event).toBe("response.output_item.added");
    const later = first.event(toolEvents[10]!) as SseEvent[];
    expect(JSON.parse(later[0]!.data)).toMatchObject({
      choices: [{ delta: { tool_calls: [{ index: 1 }] } }],
    });
  });
});

describe("createResponsesToChatShaper: non-streaming clients", () => {
  function collect(events: readonly SseEvent[]) {
    const collector = createResponsesToChatShaper().collector!();
    for (const event of events) collector.event(event);
    return collector.finish();
  }

  it("collects a text stream into a chat.completion", () => {
    expect(collect(textEvents)).toEqual({
      status: 200,
      body: {
        id: "chatcmpl-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        object: "chat.completion",
        created: 1763731300,
        model: "gpt-5-codex",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: "I'll run the tests — all green.", refusal: null },
            finish_reason: "stop",
            logprobs: null,
          },
        ],
        usage: {
          prompt_tokens: 12873,
          completion_tokens: 431,
          total_tokens: 13304,
          prompt_tokens_details: { cached_tokens: 11648 },
          completion_tokens_details: { reasoning_tokens: 384 },
        },
      },
    });
  });

  it("collects function calls into tool_calls with no content", () => {
    const result = collect(toolEvents);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      id: "chatcmpl-68f2a1c4e0b88191b7d2c3e4f5a6b7c8",
      object: "chat.completion",
      model: "gpt-5",
      choices: [
        {
          index: 0,
          finish_reason: "tool_calls",
          message: {
            role: "assistant",
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: "call_Vx3kPq8RmT2nLw5Yz7Ab1Cd4",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' },
              },
              {
                id: "call_Hj6sDf9GkL1qWe4Rt8Yu2Io5",
                type: "function",
                function: { name: "get_weather", arguments: '{"city":"Tokyo","unit":"c"}' },
              },
            ],
          },
        },
      ],
      usage: { prompt_tokens: 2150, completion_tokens: 96, total_tokens: 2246 },
    });
  });

  it("answers an incomplete response with finish_reason length", () => {
    const response = {
      ...terminal(textEvents),
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
    };
    const result = collect([textEvents[0]!, sse({ type: "response.incomplete", response })]);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      choices: [{ finish_reason: "length", message: { content: "I'll run the tests — all green." } }],
    });
  });

  it("passes a failed or cut stream's error answer through unchanged", () => {
    const failed = sse({
      type: "response.failed",
      response: {
        status: "failed",
        output: [],
        error: { code: "usage_limit_reached", message: "The usage limit has been reached." },
      },
    });
    expect(collect([textEvents[0]!, failed])).toEqual({
      status: 429,
      body: {
        error: {
          message: "The usage limit has been reached.",
          type: "rate_limit_exceeded",
          param: null,
          code: "usage_limit_reached",
        },
      },
    });
    const cut = collect(textEvents.slice(0, 5));
    expect(cut.status).toBe(502);
    expect(cut.body).toMatchObject({ error: { type: "server_error" } });
  });

  it("gives a fresh collector each time", () => {
    const shaper = createResponsesToChatShaper();
    const first = shaper.collector!();
    for (const event of textEvents) first.event(event);
    expect(shaper.collector!().finish().status).toBe(502);
    expect(first.finish().status).toBe(200);
  });
});

describe("responseToChatCompletion and json()", () => {
  it("converts a Responses body, and leaves any other body alone", () => {
    const response = JSON.parse(readFixture(fixtures, "response.json")) as Record<string, unknown>;
    const expected = {
      id: "chatcmpl-68f1c2a9e0b48190a3c1d4e5f6a7b8c9",
      object: "chat.completion",
      created: 1763731300,
      model: "gpt-4.1-2025-04-14",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Voilà : 2 + 2 = 4 ✅", refusal: null },
          finish_reason: "stop",
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: 3122,
        completion_tokens: 18,
        total_tokens: 3140,
        prompt_tokens_details: { cached_tokens: 2944 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    };
    expect(responseToChatCompletion(response)).toEqual(expected);
    const shaper = createResponsesToChatShaper();
    expect(shaper.json(response)).toEqual(expected);
    const error = { error: { message: "nope", type: "invalid_request_error", param: null, code: null } };
    expect(shaper.json(error)).toBe(error);
  });

  it("reports a refusal and joins the text of several messages", () => {
    const completion = responseToChatCompletion({
      id: "resp_r",
      created_at: 1,
      model: "gpt-5",
      status: "completed",
      output: [
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "A" }] },
        {
          type: "message",
          role: "assistant",
          content: [
            { type: "output_text", text: "B" },
            { type: "refusal", refusal: "No." },
          ],
        },
      ],
    });
    expect(completion.choices).toEqual([
      {
        index: 0,
        message: { role: "assistant", content: "AB", refusal: "No." },
        finish_reason: "stop",
        logprobs: null,
      },
    ]);
    expect(completion.usage).toBeUndefined();
  });
});
