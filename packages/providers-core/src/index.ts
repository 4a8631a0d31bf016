export type * from "./provider";
export type { SseEvent } from "./sse";
export { emptyUsage, type Usage } from "./usage";
export { ProviderError, type ProviderErrorCode, type ProviderErrorOptions } from "./provider-error";
export { createSseParser, type SseParser } from "./sse-parser";
export { formatSseEvent } from "./format-sse-event";
export { createSseUsageTracker, parseSseJson, type SseUsageTrackerOptions } from "./sse-usage-tracker";
export { requestToken, credentialsFromTokenResponse, type TokenRequestOptions } from "./token-request";
export { forwardableHeaders, mergeCommaList, parseRetryAfter, isBlockedHeader, headerValue } from "./headers";
