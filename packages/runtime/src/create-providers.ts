import type { Dispatcher } from "undici";
import { createProviderRegistry, type ProviderRegistry } from "@subrelay/providers-core";
import { createClaudeProvider } from "@subrelay/providers-claude";
import { createGeminiProvider } from "@subrelay/providers-gemini";
import { createOpenAIProvider } from "@subrelay/providers-openai";
import type { GatewayConfig } from "./config";

/** The platform adapters, with upstream URLs from the configuration, keyed by platform. */
export function createProviders(
  config: Pick<GatewayConfig, "claude" | "openai" | "gemini">,
  options: { dispatcher?: Dispatcher; now?: () => number } = {},
): ProviderRegistry {
  const { dispatcher, now } = options;
  const claude = createClaudeProvider({ baseUrl: config.claude.baseUrl, tokenUrl: config.claude.tokenUrl, dispatcher, now });
  const openai = createOpenAIProvider({
    baseUrl: config.openai.baseUrl,
    // A base URL override (a proxy, a test upstream) serves the Codex routes too.
    codexBaseUrl: config.openai.baseUrl ? `${config.openai.baseUrl}/backend-api/codex` : undefined,
    tokenUrl: config.openai.tokenUrl,
    dispatcher,
    now,
  });
  const gemini = createGeminiProvider({
    baseUrl: config.gemini.baseUrl,
    codeAssistBaseUrl: config.gemini.baseUrl,
    tokenUrl: config.gemini.tokenUrl,
    dispatcher,
    now,
  });
  return createProviderRegistry([claude, openai, gemini]);
}
