import { type ClientRequest, createSseUsageTracker, parseSseJson, type Usage, type UsageTracker } from "@subrelay/providers-core";

interface AnthropicUsage {
  input_tokens?: unknown;
  output_tokens?: unknown;
  cache_read_input_tokens?: unknown;
  cache_creation_input_tokens?: unknown;
}

/**
 * Usage of one Messages API response. Streams: `message_start` gives the model and the input-side counts,
 * each `message_delta` the cumulative `output_tokens` (and cumulative input-side counts when present).
 * JSON bodies: `model` and `usage`. count_tokens responses are free and report nothing.
 */
export function createClaudeUsageTracker(request: ClientRequest): UsageTracker {
  const counted = request.operation === "messages";
  return createSseUsageTracker({
    onEvent(event, usage) {
      if (!counted) return;
      // Usage rides only on these two; the content deltas between them (most of a stream) are not parsed.
      if (event.event !== undefined && event.event !== "message_start" && event.event !== "message_delta") return;
      const data = parseSseJson(event.data) as { type?: unknown; message?: { model?: unknown; usage?: AnthropicUsage }; usage?: AnthropicUsage } | undefined;
      if (data?.type === "message_start") {
        if (typeof data.message?.model === "string") usage.model = data.message.model;
        applyUsage(data.message?.usage, usage);
      } else if (data?.type === "message_delta") {
        applyUsage(data.usage, usage);
      }
    },
    onJson(body, usage) {
      if (!counted || typeof body !== "object" || body === null) return;
      const message = body as { model?: unknown; usage?: AnthropicUsage };
      if (typeof message.model === "string") usage.model = message.model;
      applyUsage(message.usage, usage);
    },
  });
}

/** Counts are cumulative in every Anthropic usage object, so each present one replaces the last. */
function applyUsage(source: AnthropicUsage | undefined, usage: Usage): void {
  if (typeof source !== "object" || source === null) return;
  if (isCount(source.input_tokens)) usage.inputTokens = source.input_tokens;
  if (isCount(source.output_tokens)) usage.outputTokens = source.output_tokens;
  if (isCount(source.cache_read_input_tokens)) usage.cacheReadTokens = source.cache_read_input_tokens;
  if (isCount(source.cache_creation_input_tokens)) usage.cacheWriteTokens = source.cache_creation_input_tokens;
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
