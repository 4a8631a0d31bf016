import { networkErrorCode, type AccountType, type ModelInfo, type Operation, type PriceTable, type Provider } from "@subrelay/providers-core";
import type { Dispatcher } from "undici";
import { buildClaudeRequest, claudeResponseHeaders } from "./build-claude-request";
import { classifyClaudeResponse } from "./classify-claude-response";
import { defaultClaudeBaseUrl, defaultOverloadedCooldownMs, defaultRateLimitFallbackMs } from "./claude-defaults";
import { claudeModelAliases, defaultClaudeModels } from "./claude-models";
import { claudePrices } from "./claude-prices";
import { ClaudeTokenRefresher } from "./claude-token-refresher";
import { createClaudeUsageTracker } from "./claude-usage-tracker";

export interface ClaudeProviderOptions {
  /** API base URL, without `/v1`. Default `https://api.anthropic.com`; an account's own `baseUrl` wins. */
  baseUrl?: string;
  /** OAuth token endpoint. Default `https://console.anthropic.com/v1/oauth/token`. */
  tokenUrl?: string;
  /** OAuth client id. Default Claude Code's public client id `9d1c250a-e61b-44d9-88ed-5944d1962f5e`. */
  clientId?: string;
  /** undici dispatcher for token refreshes; undici's global dispatcher when absent. */
  dispatcher?: Dispatcher;
  /** Milliseconds a token refresh may take, body included. Default 20 000. */
  timeoutMs?: number;
  /** Clock, epoch ms, for token expiry. Default `Date.now`. */
  now?: () => number;
  /** Cool-down (ms) after a 429 whose headers name no reset time. Default 60 000. */
  rateLimitFallbackMs?: number;
  /** Cool-down (ms) after a 529 or a 503 "overloaded". Default 60 000. */
  overloadedCooldownMs?: number;
  /** The model list `models()` returns. Default: current Claude models (`defaultClaudeModels`). */
  models?: readonly ModelInfo[];
  /** The list prices `prices` gives (cost per request). Default: Anthropic's list prices (`claudePrices`). */
  prices?: PriceTable;
}

/**
 * The Claude platform: Anthropic's Messages API (`messages`, `count_tokens`) for OAuth (Claude Pro / Max)
 * and API-key accounts. Responses pass through unchanged (the client speaks Anthropic's own dialect).
 */
export function createClaudeProvider(options: ClaudeProviderOptions = {}): Provider {
  const baseUrl = options.baseUrl ?? defaultClaudeBaseUrl;
  const classifyOptions = {
    rateLimitFallbackMs: options.rateLimitFallbackMs ?? defaultRateLimitFallbackMs,
    overloadedCooldownMs: options.overloadedCooldownMs ?? defaultOverloadedCooldownMs,
  };
  const models = (options.models ?? defaultClaudeModels).map((model) => ({ ...model }));
  const refresher = new ClaudeTokenRefresher({
    tokenUrl: options.tokenUrl,
    clientId: options.clientId,
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    now: options.now,
  });

  return {
    platform: "claude",
    dialect: "anthropic",
    responseHeaders: claudeResponseHeaders,
    modelAliases: claudeModelAliases,
    prices: options.prices ?? claudePrices,
    refresher,
    supports(operation: Operation, _type: AccountType) {
      return operation === "messages" || operation === "count_tokens";
    },
    buildRequest(input) {
      return buildClaudeRequest(input, baseUrl);
    },
    responseShaper() {
      return null;
    },
    classify(response, now) {
      return classifyClaudeResponse(response, now, classifyOptions);
    },
    classifyNetworkError(error) {
      return { kind: "server", cause: "network", reason: `network: ${networkErrorCode(error) ?? "connection failed"}` };
    },
    usageTracker(request) {
      return createClaudeUsageTracker(request);
    },
    models() {
      return models.map((model) => ({ ...model }));
    },
  };
}
