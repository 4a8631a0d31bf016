import { createSseUsageTracker, isRecord, parseSseJson } from "@subrelay/providers-core";
import type { Operation, SseEvent, Usage, UsageTracker } from "@subrelay/providers-core";
import { tokenCount } from "./token-count";

/**
 * Follows token usage through an OpenAI answer.
 *
 * Counting rule (same as Anthropic's): `inputTokens` are the input tokens NOT served from the prompt
 * cache, `cacheReadTokens` the cached ones, so `inputTokens + cacheReadTokens` is OpenAI's
 * `prompt_tokens` / `input_tokens`. OpenAI reports no cache writes: `cacheWriteTokens` stays 0.
 * `outputTokens` includes reasoning tokens (OpenAI bills them as output).
 *
 * - `chat_completions`: JSON `usage.{prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens}`;
 *   in a stream, the chunk carrying `usage` (sent when `stream_options.include_usage` is set, which the
 *   request builder does). The model is each body's / chunk's `model`. A Codex account answers a chat
 *   completion with a Responses stream (translated for the client after the tracker saw it): events whose
 *   `type` starts with `response.`, and a JSON body with `object: "response"`, are read as below.
 * - `responses` (API and Codex): JSON `usage.{input_tokens, output_tokens, input_tokens_details.cached_tokens}`;
 *   in a stream, `response.usage` of `response.completed` (or `response.incomplete` / `response.failed`),
 *   and the model from `response.model` of any event (`response.created` comes first).
 * Unknown events and unparsable data are ignored; a stream cut mid-way yields what was seen.
 */
export function createOpenAIUsageTracker(operation: Operation): UsageTracker {
  const chat = operation === "chat_completions";
  return createSseUsageTracker({
    onEvent(event: SseEvent, usage: Usage) {
      const data = parseSseJson(event.data);
      if (!isRecord(data)) return;
      // A chat completion on a Codex account is answered upstream with a Responses stream.
      if (chat && !isResponsesEvent(data)) readChatCompletion(data, usage);
      else readResponse(data.response, usage);
    },
    onJson(body: unknown, usage: Usage) {
      if (chat && !(isRecord(body) && body.object === "response")) readChatCompletion(body, usage);
      else readResponse(body, usage);
    },
  });
}

/** A Responses stream event (`response.created`, `response.completed`, ...), not a chat completion chunk. */
function isResponsesEvent(data: Record<string, unknown>): boolean {
  return typeof data.type === "string" && data.type.startsWith("response.");
}

function readChatCompletion(body: unknown, usage: Usage): void {
  if (!isRecord(body)) return;
  if (typeof body.model === "string" && body.model !== "") usage.model = body.model;
  if (!isRecord(body.usage)) return;
  const details = isRecord(body.usage.prompt_tokens_details) ? body.usage.prompt_tokens_details : {};
  setCounts(
    usage,
    tokenCount(body.usage.prompt_tokens),
    tokenCount(details.cached_tokens),
    tokenCount(body.usage.completion_tokens),
  );
}

function readResponse(body: unknown, usage: Usage): void {
  if (!isRecord(body)) return;
  if (typeof body.model === "string" && body.model !== "") usage.model = body.model;
  if (!isRecord(body.usage)) return;
  const details = isRecord(body.usage.input_tokens_details) ? body.usage.input_tokens_details : {};
  setCounts(
    usage,
    tokenCount(body.usage.input_tokens),
    tokenCount(details.cached_tokens),
    tokenCount(body.usage.output_tokens),
  );
}

/** OpenAI reports cumulative totals, so the last report replaces earlier ones rather than adding to them. */
function setCounts(usage: Usage, input: number, cached: number, output: number): void {
  const cacheRead = Math.min(cached, input);
  usage.inputTokens = input - cacheRead;
  usage.cacheReadTokens = cacheRead;
  usage.outputTokens = output;
}
