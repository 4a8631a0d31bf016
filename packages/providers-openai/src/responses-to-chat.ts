import { randomUUID } from "node:crypto";
import { isRecord, parseSseJson } from "@subrelay/providers-core";
import type {
  CollectedResponse,
  ResponseCollector,
  ResponseShaper,
  SseEvent,
} from "@subrelay/providers-core";
import { codexErrorResponse, createCodexResponseCollector } from "./codex-response-collector";
import { tokenCount } from "./token-count";

/**
 * The response shaper of a Chat Completions request served by the Codex backend (which answers with a
 * Responses stream). One per client request: it keeps the stream's state (chunk id, tool-call indexes).
 *
 * - Streaming client, `event()`: `response.created` → the first `chat.completion.chunk` (`role: "assistant"`);
 *   `response.output_text.delta` → `delta.content`; `response.refusal.delta` → `delta.refusal`; a
 *   `function_call` item → a `delta.tool_calls` entry (`index` 0, 1, ... in call order, with `id` and `name`),
 *   its `response.function_call_arguments.delta` events → `delta.tool_calls[].function.arguments`;
 *   `response.completed` / `response.incomplete` → a chunk with `finish_reason`, then a usage chunk (empty
 *   `choices`); `response.failed` / `error` → `data: {"error": {...}}` (an OpenAI error). Everything else is
 *   dropped; events are unnamed (`data:` only). `end()` → `data: [DONE]`, whatever came before.
 * - Non-streaming client, `collector()`: the Codex collector's Responses object turned into a
 *   `chat.completion` (`responseToChatCompletion`); its error answers pass through unchanged.
 * - `json()`: a Responses object becomes a `chat.completion`; any other body (an error) is left as it is.
 */
export function createResponsesToChatShaper(): ResponseShaper {
  let meta: ChunkMeta | undefined;
  let started = false;
  let finished = false;
  let callCount = 0;
  const callsByItem = new Map<string, ToolCallState>();
  const callsByOutput = new Map<number, ToolCallState>();

  function learn(response: unknown): void {
    if (meta === undefined && isRecord(response)) meta = chunkMeta(response);
  }

  function chunk(delta: Record<string, unknown>, finishReason: string | null = null): SseEvent {
    meta ??= chunkMeta({});
    return data({
      ...meta,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });
  }

  /** The first chunk, once: what every later one follows. */
  function start(): SseEvent[] {
    if (started) return [];
    started = true;
    return [chunk({ role: "assistant", content: "" })];
  }

  function findCall(event: Record<string, unknown>): ToolCallState | undefined {
    if (typeof event.item_id === "string") {
      const call = callsByItem.get(event.item_id);
      if (call !== undefined) return call;
    }
    return typeof event.output_index === "number" ? callsByOutput.get(event.output_index) : undefined;
  }

  /** Registers a function call item (once) and gives its opening chunk. */
  function openCall(event: Record<string, unknown>, item: Record<string, unknown>): SseEvent[] {
    const known = findCall({ item_id: item.id, output_index: event.output_index });
    if (known !== undefined) return [];
    const call: ToolCallState = { index: callCount, argumentsSent: false };
    callCount += 1;
    if (typeof item.id === "string") callsByItem.set(item.id, call);
    if (typeof event.output_index === "number") callsByOutput.set(event.output_index, call);
    const args = typeof item.arguments === "string" ? item.arguments : "";
    call.argumentsSent = args !== "";
    const opening = {
      index: call.index,
      id: typeof item.call_id === "string" ? item.call_id : item.id,
      type: "function",
      function: { name: item.name, arguments: args },
    };
    return [...start(), chunk({ tool_calls: [opening] })];
  }

  /** The whole arguments of a call whose deltas never came (a backend that sends them only when done). */
  function lateArguments(call: ToolCallState | undefined, args: unknown): SseEvent[] {
    if (call === undefined || call.argumentsSent || typeof args !== "string" || args === "") return [];
    call.argumentsSent = true;
    return [chunk({ tool_calls: [{ index: call.index, function: { arguments: args } }] })];
  }

  return {
    json: (body) => (isResponse(body) ? responseToChatCompletion(body) : body),
    event(event) {
      if (finished) return null;
      const body = parseSseJson(event.data);
      if (!isRecord(body)) return null;
      const type = typeof body.type === "string" ? body.type : event.event;
      let out: SseEvent[] = [];
      switch (type) {
        case "response.created":
        case "response.in_progress":
          learn(body.response);
          out = start();
          break;
        case "response.output_text.delta":
          if (typeof body.delta === "string" && body.delta !== "")
            out = [...start(), chunk({ content: body.delta })];
          break;
        case "response.refusal.delta":
          if (typeof body.delta === "string" && body.delta !== "")
            out = [...start(), chunk({ refusal: body.delta })];
          break;
        case "response.output_item.added":
          if (isRecord(body.item) && body.item.type === "function_call") out = openCall(body, body.item);
          break;
        case "response.function_call_arguments.delta": {
          const call = findCall(body);
          if (call !== undefined && typeof body.delta === "string" && body.delta !== "") {
            call.argumentsSent = true;
            out = [chunk({ tool_calls: [{ index: call.index, function: { arguments: body.delta } }] })];
          }
          break;
        }
        case "response.function_call_arguments.done":
          out = lateArguments(findCall(body), body.arguments);
          break;
        case "response.output_item.done":
          if (isRecord(body.item) && body.item.type === "function_call") {
            out = openCall(body, body.item);
            out.push(
              ...lateArguments(
                findCall({ item_id: body.item.id, output_index: body.output_index }),
                body.item.arguments,
              ),
            );
          }
          break;
        case "response.completed":
        case "response.incomplete": {
          finished = true;
          const response = isRecord(body.response) ? body.response : {};
          learn(response);
          out = [...start(), chunk({}, finishReason(response, callCount > 0))];
          const usage = chatUsage(response.usage);
          if (usage !== undefined)
            out.push(data({ ...meta, object: "chat.completion.chunk", choices: [], usage }));
          break;
        }
        case "response.failed": {
          finished = true;
          const response = isRecord(body.response) ? body.response : {};
          const error = isRecord(response.error)
            ? response.error
            : { message: "The upstream response failed." };
          out = [data(codexErrorResponse(error).body)];
          break;
        }
        case "error":
          finished = true;
          out = [data(codexErrorResponse(isRecord(body.error) ? body.error : body).body)];
          break;
        default:
          break;
      }
      return out.length === 0 ? null : out;
    },
    end: () => [{ data: "[DONE]" }],
    collector(): ResponseCollector {
      const responses = createCodexResponseCollector();
      return {
        event: (event) => responses.event(event),
        finish(): CollectedResponse {
          const result = responses.finish();
          if (result.status !== 200 || !isResponse(result.body)) return result;
          return { status: 200, body: responseToChatCompletion(result.body) };
        },
      };
    },
  };
}

/**
 * A Responses object as the `chat.completion` the Chat Completions API would have answered: one choice whose
 * `content` is the output text (joined; null when there is none), `tool_calls` from the `function_call`
 * items, `finish_reason` from the status, and the usage in chat terms.
 */
export function responseToChatCompletion(
  response: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const texts: string[] = [];
  const refusals: string[] = [];
  const toolCalls: Record<string, unknown>[] = [];
  for (const item of Array.isArray(response.output) ? (response.output as unknown[]) : []) {
    if (!isRecord(item)) continue;
    if (item.type === "message" && Array.isArray(item.content)) {
      for (const part of item.content as unknown[]) {
        if (!isRecord(part)) continue;
        if (part.type === "output_text" && typeof part.text === "string") texts.push(part.text);
        if (part.type === "refusal" && typeof part.refusal === "string") refusals.push(part.refusal);
      }
    } else if (item.type === "function_call") {
      toolCalls.push({
        id: typeof item.call_id === "string" ? item.call_id : item.id,
        type: "function",
        function: { name: item.name, arguments: typeof item.arguments === "string" ? item.arguments : "" },
      });
    }
  }
  const message: Record<string, unknown> = {
    role: "assistant",
    content: texts.length > 0 ? texts.join("") : null,
    refusal: refusals.length > 0 ? refusals.join("") : null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const completion: Record<string, unknown> = {
    ...chunkMeta(response),
    object: "chat.completion",
    choices: [
      { index: 0, message, finish_reason: finishReason(response, toolCalls.length > 0), logprobs: null },
    ],
  };
  const usage = chatUsage(response.usage);
  if (usage !== undefined) completion.usage = usage;
  return completion;
}

interface ToolCallState {
  /** The call's `index` in `delta.tool_calls`: 0, 1, ... in the order the calls started. */
  index: number;
  /** Whether some of its arguments reached the client already. */
  argumentsSent: boolean;
}

interface ChunkMeta {
  id: string;
  created: number;
  model?: string;
}

/** `chatcmpl-<the response id without resp_>`, the response's `created_at` and `model`. */
function chunkMeta(response: Readonly<Record<string, unknown>>): ChunkMeta {
  const responseId = typeof response.id === "string" && response.id !== "" ? response.id : undefined;
  const id = `chatcmpl-${responseId?.replace(/^resp_/, "") ?? randomUUID().replaceAll("-", "")}`;
  const created =
    typeof response.created_at === "number" ? Math.floor(response.created_at) : Math.floor(Date.now() / 1000);
  const meta: ChunkMeta = { id, created };
  if (typeof response.model === "string") meta.model = response.model;
  return meta;
}

/**
 * `length` / `content_filter` for a response cut short for that reason, else `tool_calls` when the model
 * called a function, else `stop`.
 */
function finishReason(response: Readonly<Record<string, unknown>>, calledTools: boolean): string {
  const reason =
    response.status === "incomplete" && isRecord(response.incomplete_details)
      ? response.incomplete_details.reason
      : undefined;
  if (reason === "max_output_tokens") return "length";
  if (reason === "content_filter") return "content_filter";
  const outputCalls =
    Array.isArray(response.output) &&
    (response.output as unknown[]).some((item) => isRecord(item) && item.type === "function_call");
  return calledTools || outputCalls ? "tool_calls" : "stop";
}

/** Responses usage in Chat Completions terms; undefined when the response reports none. */
function chatUsage(usage: unknown): Record<string, unknown> | undefined {
  if (!isRecord(usage)) return undefined;
  const input = tokenCount(usage.input_tokens);
  const output = tokenCount(usage.output_tokens);
  const inputDetails = isRecord(usage.input_tokens_details) ? usage.input_tokens_details : {};
  const outputDetails = isRecord(usage.output_tokens_details) ? usage.output_tokens_details : {};
  return {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: typeof usage.total_tokens === "number" ? usage.total_tokens : input + output,
    prompt_tokens_details: { cached_tokens: tokenCount(inputDetails.cached_tokens) },
    completion_tokens_details: { reasoning_tokens: tokenCount(outputDetails.reasoning_tokens) },
  };
}

function data(value: unknown): SseEvent {
  return { data: JSON.stringify(value) };
}

function isResponse(body: unknown): body is Record<string, unknown> {
  return isRecord(body) && body.object === "response";
}
