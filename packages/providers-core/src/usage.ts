/**
 * Tokens one request used, as the platform reported them, in classes that are priced apart. Counts are 0
 * when not reported. The classes never overlap: the whole prompt is `inputTokens + cacheReadTokens +
 * cacheWriteTokens`, whatever the platform's own fields (OpenAI's `prompt_tokens` and Gemini's
 * `promptTokenCount` include the cached tokens; the trackers take them out of `inputTokens`), so each token
 * is billed once, at its class's price.
 */
export interface Usage {
  /** The model that served the request, as the upstream named it. */
  model?: string;
  /** Prompt tokens neither read from nor written to a prompt cache. */
  inputTokens: number;
  /** Generated tokens, reasoning ("thinking") tokens included: every platform bills them as output. */
  outputTokens: number;
  /** Prompt tokens read from a prompt cache (Anthropic cache reads, OpenAI cached input, Gemini cached content). */
  cacheReadTokens: number;
  /** Prompt tokens written to a prompt cache (Anthropic only), for 5 minutes and 1 hour together. */
  cacheWriteTokens: number;
  /**
   * Of `cacheWriteTokens`, those written for 1 hour (Anthropic's `ephemeral_1h_input_tokens`); the rest
   * were written for 5 minutes. Absent: 0, every write a 5-minute one (a platform that reports no split).
   */
  cacheWrite1hTokens?: number;
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
}
