import type { AccountType, ModelInfo, Operation, PriceTable, Provider, ResponseShaper } from "@subrelay/providers-core";
import type { Dispatcher } from "undici";
import { buildOpenAIRequest, openaiResponseHeaders } from "./build-openai-request";
import { createCodexResponseCollector } from "./codex-response-collector";
import { classifyOpenAIResponse } from "./classify-openai-response";
import { classifyOpenAINetworkError } from "./classify-openai-network-error";
import { createOpenAIUsageTracker } from "./openai-usage-tracker";
import { defaultOpenAIModels, openaiModelAliases } from "./openai-models";
import { openaiPrices } from "./openai-prices";
import { OpenAITokenRefresher } from "./openai-token-refresher";
import { createResponsesToChatShaper } from "./responses-to-chat";

export interface OpenAIProviderOptions {
  /** The OpenAI API for API-key accounts (an account's own `baseUrl` wins). Default `https://api.openai.com`. */
  baseUrl?: string;
  /** The Codex backend for OAuth accounts (an account's own `baseUrl` wins). Default `https://chatgpt.com/backend-api/codex`. */
  codexBaseUrl?: string;
  /** OpenAI's OAuth token endpoint. Default `https://auth.openai.com/oauth/token`. */
  tokenUrl?: string;
  /** The OAuth client id refresh tokens were issued to. Default the Codex CLI's public `app_EMoamEEZ73f0CkXaXp7hrann`. */
  clientId?: string;
  /** undici dispatcher for token requests. Upstream API calls are made by the gateway, not here. */
  dispatcher?: Dispatcher;
  /** Token request timeout in ms. Default 15 000. */
  timeoutMs?: number;
  /** Clock for token requests, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Bench time after a 429 that says nothing about when it ends, in ms. Default 60 000. */
  rateLimitFallbackMs?: number;
  /** Cool-down after an "overloaded" answer without `retry-after`, in ms. Default 30 000. */
  overloadedCooldownMs?: number;
  /** The models list (`GET /v1/models`). Default `defaultOpenAIModels`. */
  models?: readonly ModelInfo[];
  /** The list prices `prices` gives (cost per request). Default: OpenAI's list prices (`openaiPrices`). */
  prices?: PriceTable;
}

/**
 * The OpenAI platform: API-key accounts on the OpenAI API (chat completions and responses) and ChatGPT OAuth
 * accounts on the Codex backend (responses; chat completions translated to and from the Responses API; the
 * backend streams, and a non-streaming client gets the stream collected into one body). Stateless apart from
 * its options: safe to share (response shapers are made per request).
 */
export function createOpenAIProvider(options: OpenAIProviderOptions = {}): Provider {
  const endpoints = {
    baseUrl: options.baseUrl ?? "https://api.openai.com",
    codexBaseUrl: options.codexBaseUrl ?? "https://chatgpt.com/backend-api/codex",
  };
  const classifyOptions = {
    rateLimitFallbackMs: options.rateLimitFallbackMs ?? 60_000,
    overloadedCooldownMs: options.overloadedCooldownMs ?? 30_000,
  };
  const models = (options.models ?? defaultOpenAIModels).map((model) => ({ ...model }));
  const refresher = new OpenAITokenRefresher({
    tokenUrl: options.tokenUrl,
    clientId: options.clientId,
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    now: options.now,
  });

  return {
    platform: "openai",
    modelAliases: openaiModelAliases,
    prices: options.prices ?? openaiPrices,
    dialect: "openai",
    responseHeaders: openaiResponseHeaders,
    refresher,
    // Both account types serve both: Codex (OAuth) gets chat completions translated to the Responses API.
    supports(operation: Operation, type: AccountType): boolean {
      if (operation === "responses_compact" || operation === "responses_retrieve") return type === "apikey";
      return operation === "chat_completions" || operation === "responses";
    },
    buildRequest: (input) => buildOpenAIRequest(input, endpoints),
    responseShaper: ({ account, request }) => {
      if (account.type !== "oauth") return null;
      // Chat completions are translated from the Responses stream: a fresh shaper, it keeps the stream's state.
      if (request.operation === "chat_completions") return createResponsesToChatShaper();
      // Codex only streams; a client that asked for one JSON body gets the stream collected into it.
      return request.operation === "responses" && !request.stream ? codexCollecting : null;
    },
    classify: (response, now) => classifyOpenAIResponse(response, now, classifyOptions),
    classifyNetworkError: classifyOpenAINetworkError,
    usageTracker: (request) => createOpenAIUsageTracker(request.operation),
    models: () => models.map((model) => ({ ...model })),
  };
}

/** Passes a Codex stream's parts through unchanged; its collector is what a non-streaming client needs. */
const codexCollecting: ResponseShaper = {
  json: (body) => body,
  event: (event) => event,
  collector: createCodexResponseCollector,
};
