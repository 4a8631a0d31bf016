import type { AccountType, ModelInfo, Operation, Provider, ResponseShaper } from "@subrelay/providers-core";
import type { Dispatcher } from "undici";
import { buildOpenAIRequest } from "./build-openai-request";
import { createCodexResponseCollector } from "./codex-response-collector";
import { classifyOpenAIResponse } from "./classify-openai-response";
import { classifyOpenAINetworkError } from "./classify-openai-network-error";
import { createOpenAIUsageTracker } from "./create-openai-usage-tracker";
import { defaultOpenAIModels } from "./default-openai-models";
import { OpenAITokenRefresher } from "./openai-token-refresher";

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
  models?: ModelInfo[];
}

/**
 * The OpenAI platform: API-key accounts on the OpenAI API (chat completions and responses) and ChatGPT OAuth
 * accounts on the Codex backend (responses only; the backend streams, and a non-streaming client gets the stream
 * collected into one Responses object). Stateless apart from its options: safe to share.
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
  const models = options.models ?? defaultOpenAIModels;
  const refresher = new OpenAITokenRefresher({
    tokenUrl: options.tokenUrl,
    clientId: options.clientId,
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    now: options.now,
  });

  return {
    platform: "openai",
    dialect: "openai",
    refresher,
    supports(operation: Operation, type: AccountType): boolean {
      if (type === "oauth") return operation === "responses";
      return operation === "chat_completions" || operation === "responses";
    },
    buildRequest: (input) => buildOpenAIRequest(input, endpoints),
    // Codex only streams; a client that asked for one JSON body gets the stream collected into it.
    responseShaper: ({ account, request }) =>
      account.type === "oauth" && request.operation === "responses" && !request.stream ? codexCollecting : null,
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
