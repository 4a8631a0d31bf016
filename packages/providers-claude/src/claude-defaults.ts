/** Anthropic's API. */
export const defaultClaudeBaseUrl = "https://api.anthropic.com";
/** The token endpoint Claude Code refreshes against. */
export const defaultClaudeTokenUrl = "https://console.anthropic.com/v1/oauth/token";
/** Claude Code's public OAuth client id. */
export const defaultClaudeClientId = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
/** The beta flag Anthropic requires on every request authenticated with an OAuth bearer token. */
export const claudeOAuthBeta = "oauth-2025-04-20";
/** Sent when the client did not pick an `anthropic-version`. */
export const defaultAnthropicVersion = "2023-06-01";
/** Milliseconds a token refresh may take, body included. */
export const defaultClaudeTokenTimeoutMs = 20_000;
/** Cool-down (ms) after a 429 that names no reset time. */
export const defaultRateLimitFallbackMs = 60_000;
/** Cool-down (ms) after a 529 / 503 "overloaded". */
export const defaultOverloadedCooldownMs = 60_000;
