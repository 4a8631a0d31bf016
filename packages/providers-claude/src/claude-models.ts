import type { ModelInfo } from "@subrelay/providers-core";

/** Claude models served by the Messages API (ids as Anthropic's `GET /v1/models` lists them). */
export const defaultClaudeModels: readonly ModelInfo[] = Object.freeze([
  { id: "claude-opus-4-1-20250805", displayName: "Claude Opus 4.1", created: Date.UTC(2025, 7, 5) / 1000 },
  { id: "claude-opus-4-20250514", displayName: "Claude Opus 4", created: Date.UTC(2025, 4, 14) / 1000 },
  { id: "claude-sonnet-4-5-20250929", displayName: "Claude Sonnet 4.5", created: Date.UTC(2025, 8, 29) / 1000 },
  { id: "claude-sonnet-4-20250514", displayName: "Claude Sonnet 4", created: Date.UTC(2025, 4, 14) / 1000 },
  { id: "claude-haiku-4-5-20251001", displayName: "Claude Haiku 4.5", created: Date.UTC(2025, 9, 1) / 1000 },
  { id: "claude-3-7-sonnet-20250219", displayName: "Claude Sonnet 3.7", created: Date.UTC(2025, 1, 19) / 1000 },
  { id: "claude-3-5-haiku-20241022", displayName: "Claude Haiku 3.5", created: Date.UTC(2024, 9, 22) / 1000 },
]);

/** @deprecated Renamed `defaultClaudeModels`, as the OpenAI and Gemini adapters name theirs. */
export const claudeModels: readonly ModelInfo[] = defaultClaudeModels;

/**
 * Anthropic's documented model aliases: alias -> the dated id it points to (as of this release). An account
 * whose `models` list names either accepts both; the Messages API resolves the aliases itself.
 */
export const claudeModelAliases: Readonly<Record<string, string>> = Object.freeze({
  "claude-opus-4-1": "claude-opus-4-1-20250805",
  "claude-opus-4-0": "claude-opus-4-20250514",
  "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
  "claude-sonnet-4-0": "claude-sonnet-4-20250514",
  "claude-haiku-4-5": "claude-haiku-4-5-20251001",
  "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
  "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
});
