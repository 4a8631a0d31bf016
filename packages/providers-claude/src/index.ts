export { createClaudeProvider, type ClaudeProviderOptions } from "./claude-provider";
export { ClaudeTokenRefresher, type ClaudeTokenRefresherOptions } from "./claude-token-refresher";
export { buildClaudeRequest, claudeForwardedHeaders } from "./build-claude-request";
export { classifyClaudeResponse, exhaustedWindow, rateLimitEnd, type ClaudeClassifyOptions } from "./classify-claude-response";
export { createClaudeUsageTracker } from "./claude-usage-tracker";
export { defaultClaudeModels, claudeModels, claudeModelAliases } from "./claude-models";
export { claudePrices } from "./claude-prices";
export {
  claudeOAuthBeta,
  defaultAnthropicVersion,
  defaultClaudeBaseUrl,
  defaultClaudeClientId,
  defaultClaudeTokenUrl,
} from "./claude-defaults";
