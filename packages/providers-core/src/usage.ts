/** Tokens one request used, as the platform reported them. Counts are 0 when not reported. */
export interface Usage {
  /** The model that served the request, as the upstream named it. */
  model?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
}
