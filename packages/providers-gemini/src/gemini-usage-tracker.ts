import {
  createSseUsageTracker,
  parseSseJson,
  type Usage,
  type UsageTracker,
} from "@subrelay/providers-core";
import { unwrapCodeAssistResponse } from "./unwrap-code-assist-response";

/**
 * Usage from Gemini answers, API-key and Code Assist alike (the `{response}` envelope is looked through).
 * Reads `usageMetadata` from a JSON body (an object, or the array `streamGenerateContent` returns without
 * `alt=sse`) and from every SSE event; each report replaces the previous one, because Google sends running
 * totals, so the last one wins and a cut stream yields the last report seen. Mapping:
 * - inputTokens = promptTokenCount - cachedContentTokenCount + toolUsePromptTokenCount (uncached input, so
 *   input + cacheRead is the whole prompt, as with Anthropic);
 * - cacheReadTokens = cachedContentTokenCount;
 * - outputTokens = candidatesTokenCount + thoughtsTokenCount (thinking is billed as output);
 * - cacheWriteTokens = 0 (Gemini has no per-request cache writes);
 * - model = `modelVersion` of the latest answer that named one.
 */
export function createGeminiUsageTracker(): UsageTracker {
  return createSseUsageTracker({
    onEvent(event, usage) {
      applyAnswer(parseSseJson(event.data), usage);
    },
    onJson(body, usage) {
      if (Array.isArray(body)) for (const item of body) applyAnswer(item, usage);
      else applyAnswer(body, usage);
    },
  });
}

function applyAnswer(body: unknown, usage: Usage): void {
  const answer = unwrapCodeAssistResponse(body);
  if (typeof answer !== "object" || answer === null) return;
  const { usageMetadata, modelVersion } = answer as { usageMetadata?: unknown; modelVersion?: unknown };
  if (typeof modelVersion === "string" && modelVersion !== "") usage.model = modelVersion;
  if (typeof usageMetadata !== "object" || usageMetadata === null) return;
  const metadata = usageMetadata as Record<string, unknown>;
  const prompt = count(metadata.promptTokenCount);
  const cached = Math.min(count(metadata.cachedContentTokenCount), prompt);
  usage.inputTokens = prompt - cached + count(metadata.toolUsePromptTokenCount);
  usage.cacheReadTokens = cached;
  usage.outputTokens = count(metadata.candidatesTokenCount) + count(metadata.thoughtsTokenCount);
  usage.cacheWriteTokens = 0;
}

function count(value: unknown): number {
  // Capped so sums of absurd reports stay safe integers.
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.min(Math.floor(value), 2 ** 40) : 0;
}
