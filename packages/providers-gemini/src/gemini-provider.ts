import {
  networkErrorCode,
  type AccountType,
  type ModelInfo,
  type Operation,
  type PrepareCredentialsInput,
  type PriceTable,
  type Provider,
} from "@subrelay/providers-core";
import type { OAuthCredentials } from "@subrelay/token-cache";
import type { Dispatcher } from "undici";
import { buildGeminiRequest, geminiResponseHeaders } from "./build-gemini-request";
import { classifyGeminiResponse } from "./classify-gemini-response";
import { setupCodeAssistProject } from "./code-assist-setup";
import { codeAssistResponseShaper } from "./code-assist-response-shaper";
import { streamArrayShaper } from "./stream-array-shaper";
import { defaultGeminiModels, geminiModelAliases } from "./gemini-models";
import { geminiPrices } from "./gemini-prices";
import { createGeminiUsageTracker } from "./gemini-usage-tracker";
import { GeminiTokenRefresher } from "./gemini-token-refresher";

export interface GeminiProviderOptions {
  /** Public Gemini API, for `apikey` accounts. Default `https://generativelanguage.googleapis.com`. */
  baseUrl?: string;
  /** Code Assist API, for `oauth` accounts. Default `https://cloudcode-pa.googleapis.com`. */
  codeAssistBaseUrl?: string;
  /** Google's token endpoint. Default `https://oauth2.googleapis.com/token`. */
  tokenUrl?: string;
  /** OAuth client id for refreshes. Default: gemini-cli's public installed-app client. */
  clientId?: string;
  /** OAuth client secret for refreshes. Default: gemini-cli's (public by design). */
  clientSecret?: string;
  /** undici dispatcher for token refreshes and Code Assist setup calls (`prepareCredentials`). */
  dispatcher?: Dispatcher;
  /** Milliseconds for one token refresh, and for each Code Assist setup call. Default 15_000. */
  timeoutMs?: number;
  /** `prepareCredentials`: milliseconds between two polls of an unfinished Code Assist onboarding. Default 5_000. */
  onboardPollIntervalMs?: number;
  /** `prepareCredentials`: polls of an unfinished onboarding before it fails with `upstream`. Default 24. */
  onboardMaxPolls?: number;
  /** Clock, epoch ms, for refreshes. Default `Date.now`. */
  now?: () => number;
  /** Milliseconds a 429 lasts when Google does not say. Default 60_000. */
  rateLimitFallbackMs?: number;
  /** Milliseconds an overloaded answer (503) cools an account down when Google does not say. Default 30_000. */
  overloadedCooldownMs?: number;
  /** The models `models()` lists. Default `defaultGeminiModels`. */
  models?: readonly ModelInfo[];
  /** The list prices `prices` gives (cost per request). Default: Google's list prices (`geminiPrices`). */
  prices?: PriceTable;
}

/** The Gemini provider: a Provider whose `prepareCredentials` is always present. */
export interface GeminiProvider extends Provider {
  /** Finds or provisions the Code Assist `projectId` when the credentials lack one; see `setupCodeAssistProject`. */
  prepareCredentials(input: PrepareCredentialsInput): Promise<OAuthCredentials>;
}

const geminiOperations: ReadonlySet<Operation> = new Set([
  "generate_content",
  "stream_generate_content",
  "gemini_count_tokens",
  "embed_content",
  "batch_embed_contents",
]);
/** The embedding endpoints: the Gemini API has them, Code Assist has none. */
const embeddingOperations: ReadonlySet<Operation> = new Set(["embed_content", "batch_embed_contents"]);

/**
 * The Gemini provider: API-key accounts on the public Gemini API, OAuth accounts on Code Assist (the API
 * gemini-cli uses). Both account types serve generate_content, stream_generate_content and gemini_count_tokens;
 * embed_content and batch_embed_contents only API-key accounts (Code Assist has no embeddings).
 * `prepareCredentials` completes an OAuth account's `projectId` through Code Assist's setup flow
 * (`setupCodeAssistProject`, against `codeAssistBaseUrl`).
 * Stateless apart from the refresher's configuration: safe to share across requests.
 */
export function createGeminiProvider(options: GeminiProviderOptions = {}): GeminiProvider {
  const endpoints = {
    baseUrl: options.baseUrl ?? "https://generativelanguage.googleapis.com",
    codeAssistBaseUrl: options.codeAssistBaseUrl ?? "https://cloudcode-pa.googleapis.com",
  };
  const verdictOptions = {
    rateLimitFallbackMs: options.rateLimitFallbackMs ?? 60_000,
    overloadedCooldownMs: options.overloadedCooldownMs ?? 30_000,
  };
  const models = (options.models ?? defaultGeminiModels).map((model) => ({ ...model }));
  const refresher = new GeminiTokenRefresher({
    tokenUrl: options.tokenUrl,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    now: options.now,
  });

  return {
    platform: "gemini",
    dialect: "gemini",
    responseHeaders: geminiResponseHeaders,
    modelAliases: geminiModelAliases,
    prices: options.prices ?? geminiPrices,
    refresher,
    supports(operation: Operation, type: AccountType) {
      return geminiOperations.has(operation) && (!embeddingOperations.has(operation) || type === "apikey");
    },
    buildRequest(input) {
      return buildGeminiRequest(input, endpoints);
    },
    responseShaper(input) {
      const shaper = input.account.type === "oauth" ? codeAssistResponseShaper : null;
      if (input.request.operation === "stream_generate_content" && !input.request.stream) return streamArrayShaper(shaper);
      return shaper;
    },
    classify(response, now) {
      return classifyGeminiResponse(response, now, verdictOptions);
    },
    classifyNetworkError(error) {
      return { kind: "server", cause: "network", reason: `network error: ${networkErrorCode(error) ?? "unknown"}` };
    },
    usageTracker() {
      return createGeminiUsageTracker();
    },
    models() {
      return models.map((model) => ({ ...model }));
    },
    prepareCredentials(input) {
      return setupCodeAssistProject({
        accountId: input.accountId,
        credentials: input.credentials,
        accessToken: () => input.accessToken(),
        signal: input.signal,
        codeAssistBaseUrl: endpoints.codeAssistBaseUrl,
        dispatcher: options.dispatcher,
        timeoutMs: options.timeoutMs,
        onboardPollIntervalMs: options.onboardPollIntervalMs,
        onboardMaxPolls: options.onboardMaxPolls,
      });
    },
  };
}
