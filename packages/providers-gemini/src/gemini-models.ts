import type { ModelInfo } from "@subrelay/providers-core";

/**
 * The models listed by default. Ids are bare (no `models/` prefix); the Gemini model list adds the prefix
 * where its dialect wants it. Override with the provider's `models` option when Google changes its line-up.
 */
export const defaultGeminiModels: readonly ModelInfo[] = Object.freeze([
  { id: "gemini-3-pro-preview", displayName: "Gemini 3 Pro Preview" },
  { id: "gemini-2.5-pro", displayName: "Gemini 2.5 Pro" },
  { id: "gemini-2.5-flash", displayName: "Gemini 2.5 Flash" },
  { id: "gemini-2.5-flash-lite", displayName: "Gemini 2.5 Flash-Lite" },
  { id: "gemini-2.0-flash", displayName: "Gemini 2.0 Flash" },
  { id: "gemini-2.0-flash-lite", displayName: "Gemini 2.0 Flash-Lite" },
]);

/**
 * Google's model aliases: the stable alias -> the version it points to (as of this release). An account
 * whose `models` list names either accepts both; the API resolves the aliases itself.
 */
export const geminiModelAliases: Readonly<Record<string, string>> = Object.freeze({
  "gemini-2.0-flash": "gemini-2.0-flash-001",
  "gemini-2.0-flash-lite": "gemini-2.0-flash-lite-001",
});
