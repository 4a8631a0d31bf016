import type { ModelInfo } from "@subrelay/providers-core";

/**
 * The models `GET /v1/models` lists for OpenAI by default. A curated list, not fetched: it is what the
 * pool can serve, which depends on the accounts, not on what one key's organisation may see. Replace it
 * with `createOpenAIProvider({ models })`. Codex (OAuth) accounts serve the GPT-5 family only.
 */
export const defaultOpenAIModels: readonly ModelInfo[] = Object.freeze([
  { id: "gpt-5", displayName: "GPT-5" },
  { id: "gpt-5-codex", displayName: "GPT-5 Codex" },
  { id: "gpt-5-mini", displayName: "GPT-5 mini" },
  { id: "gpt-5-nano", displayName: "GPT-5 nano" },
  { id: "gpt-4.1", displayName: "GPT-4.1" },
  { id: "gpt-4.1-mini", displayName: "GPT-4.1 mini" },
  { id: "gpt-4.1-nano", displayName: "GPT-4.1 nano" },
  { id: "gpt-4o", displayName: "GPT-4o" },
  { id: "gpt-4o-mini", displayName: "GPT-4o mini" },
  { id: "o3", displayName: "o3" },
  { id: "o3-mini", displayName: "o3-mini" },
  { id: "o4-mini", displayName: "o4-mini" },
]);

/**
 * OpenAI's model aliases: alias -> the dated snapshot it points to (as of this release). An account whose
 * `models` list names either accepts both; the API resolves the aliases itself.
 */
export const openaiModelAliases: Readonly<Record<string, string>> = Object.freeze({
  "gpt-5": "gpt-5-2025-08-07",
  "gpt-5-mini": "gpt-5-mini-2025-08-07",
  "gpt-5-nano": "gpt-5-nano-2025-08-07",
  "gpt-4.1": "gpt-4.1-2025-04-14",
  "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
  "gpt-4o": "gpt-4o-2024-08-06",
  "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
  o3: "o3-2025-04-16",
  "o3-mini": "o3-mini-2025-01-31",
  "o4-mini": "o4-mini-2025-04-16",
});
