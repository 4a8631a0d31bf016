import { type ClientRequest, createSseUsageTracker, parseSseJson, type Usage, type UsageTracker } from "@subrelay/providers-core";

interface AnthropicUsage {
  input_tokens?: unknown;
  output_tokens?: unknown;
  cache_read_input_tokens?: unknown;
  cache_creation_input_tokens?: unknown;
  /** The split of the cache writes by lifetime (absent on older API versions and in some message_delta events). */
  cache_creation?: { ephemeral_5m_input_tokens?: unknown; ephemeral_1h_input_tokens?: unknown };
}

/**
 * Usage of one Messages API response. Streams: `message_start` gives the model and the input-side counts,
 * each `message_delta` the cumulative `output_tokens` (and cumulative input-side counts when present):
 * every figure is a running total, so the last one seen replaces the earlier ones — a `message_delta` is
 * neither a second request nor added to `message_start`'s counts. JSON bodies: `model` and `usage`.
 * count_tokens responses are free and report nothing.
 *
 * Cache writes: `cacheWriteTokens` is `cache_creation_input_tokens` (or the sum of the split, if larger),
 * `cacheWrite1hTokens` the split's `ephemeral_1h_input_tokens`; the rest are 5-minute writes. Without a
 * split (older API versions) every write is a 5-minute one; a later event without one keeps the earlier
 * split.
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
  const split = typeof source.cache_creation === "object" && source.cache_creation !== null ? source.cache_creation : undefined;
  const fiveMinutes = split && isCount(split.ephemeral_5m_input_tokens) ? split.ephemeral_5m_input_tokens : undefined;
  const oneHour = split && isCount(split.ephemeral_1h_input_tokens) ? split.ephemeral_1h_input_tokens : undefined;
  const total = isCount(source.cache_creation_input_tokens) ? source.cache_creation_input_tokens : undefined;
  if (total === undefined && fiveMinutes === undefined && oneHour === undefined) return;
  const writes = Math.max(total ?? 0, (fiveMinutes ?? 0) + (oneHour ?? 0));
  usage.cacheWriteTokens = writes;
  // A report without the split (a message_delta) keeps the one given before, within the new total.
  const hour = oneHour ?? (split === undefined ? usage.cacheWrite1hTokens : 0);
  if (hour !== undefined) usage.cacheWrite1hTokens = Math.min(hour, writes);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
