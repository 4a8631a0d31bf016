export { createGeminiProvider, type GeminiProviderOptions } from "./gemini-provider";
export { GeminiTokenRefresher, type GeminiTokenRefresherOptions } from "./gemini-token-refresher";
export { defaultGeminiModels } from "./default-gemini-models";
export { geminiCliOAuthClient } from "./gemini-cli-oauth-client";
