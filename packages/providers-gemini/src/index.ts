export { createGeminiProvider, type GeminiProvider, type GeminiProviderOptions } from "./gemini-provider";
export { setupCodeAssistProject, codeAssistClientMetadata, type CodeAssistSetupOptions } from "./code-assist-setup";
export { GeminiTokenRefresher, type GeminiTokenRefresherOptions } from "./gemini-token-refresher";
export { defaultGeminiModels, geminiModelAliases } from "./gemini-models";
export { geminiPrices } from "./gemini-prices";
export { geminiCliOAuthClient } from "./gemini-cli-oauth-client";
