import type { OAuthCredentials, TokenRefresher } from "@subrelay/token-cache";
import type { PriceTable } from "./model-price";
import type { SseEvent } from "./sse";
import type { Usage } from "./usage";

/** How an account authenticates upstream. */
export type AccountType = "oauth" | "apikey";

/** Credentials of an API-key account. */
export interface ApiKeyCredentials {
  apiKey: string;
}

/** An upstream account as a provider needs it to shape a request. */
export interface UpstreamAccount {
  id: string;
  platform: string;
  type: AccountType;
  /** Overrides the provider's base URL for this account (a proxy or a regional endpoint). */
  baseUrl?: string;
  /** OAuthCredentials for `oauth` accounts (platform extras such as `projectId` included), ApiKeyCredentials for `apikey`. */
  credentials: OAuthCredentials | ApiKeyCredentials;
}

/** The API dialect a client speaks, which decides the shape of every error it gets. */
export type Dialect = "anthropic" | "openai" | "gemini";

/** What a client asked for, independent of which account serves it. */
export type Operation =
  | "messages" // Anthropic POST /v1/messages
  | "count_tokens" // Anthropic POST /v1/messages/count_tokens
  | "chat_completions" // OpenAI POST /v1/chat/completions
  | "responses" // OpenAI POST /v1/responses
  | "responses_compact" // OpenAI POST /v1/responses/compact
  | "responses_retrieve" // OpenAI GET /v1/responses/{id} (`ClientRequest.resourceId`)
  | "generate_content" // Gemini POST /v1beta/models/{model}:generateContent
  | "stream_generate_content" // Gemini POST /v1beta/models/{model}:streamGenerateContent
  | "gemini_count_tokens" // Gemini POST /v1beta/models/{model}:countTokens
  | "embed_content" // Gemini POST /v1beta/models/{model}:embedContent
  | "batch_embed_contents"; // Gemini POST /v1beta/models/{model}:batchEmbedContents (the Gen AI SDKs' models.embedContent)

/** Headers as Node gives them: lower-case names. */
export type IncomingHeaders = Record<string, string | string[] | undefined>;

/** A client's request, parsed enough to route it. */
export interface ClientRequest {
  operation: Operation;
  /** The model the client asked for (from the body, or the Gemini path). */
  model: string;
  /**
   * Whether the client expects an SSE stream. A Gemini `stream_generate_content` without `alt=sse` is false:
   * the client wants the JSON array of the chunks, which the provider's shaper collects from the upstream's stream.
   */
  stream: boolean;
  /** The client's JSON body. Adapters must not mutate it (copy before changing). */
  body: Record<string, unknown>;
  /** The client's headers. Adapters forward only what the platform understands, never auth or hop-by-hop headers. */
  headers: IncomingHeaders;
  /**
   * Query parameters of the client's URL that its dialect passes on (Claude Code's `beta=true`), already
   * filtered by the dialect's allow list: never a credential (Gemini's `key`). An adapter whose upstream
   * speaks the client's API appends them to the upstream URL; absent or empty: none.
   */
  query?: Readonly<Record<string, string>>;
  /** The id a retrieval names in its path (`GET /v1/responses/{id}`), already validated; absent otherwise. */
  resourceId?: string;
}

/** The request to send upstream. */
export interface UpstreamRequest {
  /** Absolute URL, query string included. */
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  /** Serialised body; absent for GET. */
  body?: string;
}

export interface BuildRequestInput {
  account: UpstreamAccount;
  /** The bearer token of an `oauth` account (from TokenManager); absent for `apikey` accounts. */
  accessToken?: string;
  request: ClientRequest;
}

/** An upstream answer, as far as it is needed to judge it. */
export interface UpstreamResponseInfo {
  status: number;
  headers: IncomingHeaders;
  /** The start of the body (at most 64 KiB), for error bodies; absent when it was not read. */
  bodyText?: string;
}

/**
 * What an upstream answer means for the request and the account.
 * - ok: relay it.
 * - auth: the token was refused (401): invalidate it, refresh, retry once on the same account.
 * - forbidden: a refusal that names the account itself (disabled or banned account / organisation, billing or
 *   payment required, revoked or invalid credentials), whatever its status: mark it `error`, fail over. A 403
 *   about the request (a resource or model it may not use) is `client`: such 403s must not take a shared
 *   account offline.
 * - rate_limited: the account is out of quota until `until` (epoch ms): record it, fail over. `scope` narrows it to
 *   a model family or a model (absent: the whole account), `window` names the upstream window.
 * - overloaded: the platform is overloaded (529, 503 "overloaded"): cool the account down until `until`, fail over.
 * - server: another 5xx (`cause: "status"`) or a network failure or timeout (`cause: "network"`): fail over; the
 *   gateway's cool-down policy decides whether the account rests (by default it is left alone).
 * - client: another 4xx: the client's own fault; return it (credentials masked), no failover.
 *
 * `untilFrom` says where `until` came from: `"upstream"` when the answer named the moment (a reset header, a
 * retry-after, a retry delay in the body), `"fallback"` when it did not and `until` is the provider's default
 * cool-down (which the gateway may replace with a configured one). Absent: `"upstream"`. Either way the gateway
 * caps `until` (COOLDOWN_MAX), so no header benches an account for days.
 */
export type Verdict =
  | { kind: "ok" }
  | { kind: "auth"; reason: string }
  | { kind: "forbidden"; reason: string }
  | {
      kind: "rate_limited";
      until: number;
      untilFrom?: UntilSource;
      reason: string;
      /**
       * What the exhausted limit applies to (RateLimitScope): `"account"` (the default when absent),
       * `"family:opus|sonnet|haiku"`, `"model:<id>"`. The gateway skips the account only for requests the
       * scope covers (`scopeCovers`).
       */
      scope?: string;
      /** The upstream window that ran out, when the answer names it: `5h`, `7d`, `7d_opus`, `7d_sonnet`, `1d`, ... */
      window?: string;
    }
  | { kind: "overloaded"; until: number; untilFrom?: UntilSource; reason: string }
  | { kind: "server"; cause?: ServerFailureCause; reason: string }
  | { kind: "client"; reason: string };

/** Where a verdict's `until` came from: named by the upstream's answer, or the provider's default cool-down. */
export type UntilSource = "upstream" | "fallback";

/** What a `server` verdict judged: an HTTP 5xx answer (`"status"`, the default) or no answer at all (`"network"`: refused, reset, timed out). */
export type ServerFailureCause = "status" | "network";

export type VerdictKind = Verdict["kind"];

/** Rewrites an upstream response before the client sees it (e.g. Gemini Code Assist's `{response}` envelope). */
export interface ResponseShaper {
  /** Rewrites a complete JSON body. */
  json(body: unknown): unknown;
  /** Rewrites one SSE event: null drops it, an array stands for several (a translation may need them). */
  event(event: SseEvent): SseEvent | readonly SseEvent[] | null;
  /** Events to send after the last one, once the upstream stream has ended (e.g. a `[DONE]`). */
  end?(): readonly SseEvent[];
  /**
   * Present when the upstream answers this request with a stream although the client asked for one JSON body
   * (the Codex backend only streams): a fresh collector for the response. The gateway feeds it the whole
   * stream, then sends what `finish()` returns instead of the stream.
   */
  collector?(): ResponseCollector;
}

/** Assembles the one JSON answer a client asked for from an upstream stream. */
export interface ResponseCollector {
  /** The stream's next event, in order. */
  event(event: SseEvent): void;
  /**
   * The answer, once the stream has ended. A stream that ended without a result (cut, failed, or an error
   * event) gives an error status and an error body in the platform's dialect.
   */
  finish(): CollectedResponse;
}

/** What a ResponseCollector assembled: the HTTP status and JSON body to send. */
export interface CollectedResponse {
  status: number;
  body: unknown;
}

/** Follows usage through a response, incrementally for streams. */
export interface UsageTracker {
  /** Feeds the next piece of an SSE stream, split anywhere (mid-line, mid-UTF-8 sequence). */
  push(chunk: Uint8Array | string): void;
  /** Feeds a complete JSON response body instead of a stream. */
  json(body: unknown): void;
  /** Usage seen so far; for a stream cut mid-way, what was seen. */
  result(): Usage;
}

/** What `Provider.prepareCredentials` is given. */
export interface PrepareCredentialsInput {
  /** The account's id, for cache keys and log fields. */
  accountId: string;
  /** The OAuth credentials as the operator gave them. Not mutated. */
  credentials: OAuthCredentials;
  /** A valid access token for these credentials, fetched (refreshed if need be) only when called. */
  accessToken(): Promise<string>;
  signal?: AbortSignal;
}

/** A model a platform serves, as the model lists report it. */
export interface ModelInfo {
  id: string;
  displayName?: string;
  /** Epoch seconds, for the OpenAI list's `created`. */
  created?: number;
}

/**
 * Everything platform-specific about one platform. The gateway and refresh worker stay platform-blind:
 * they call only this.
 */
export interface Provider {
  /** `"claude"`, `"openai"` or `"gemini"`: the platform of the accounts this provider serves. */
  readonly platform: string;
  /**
   * The dialect of this platform's own API: the shape of the error bodies its upstream sends. The gateway
   * relays an upstream error body unchanged only to a client of this dialect; a client of another dialect
   * (an operation this provider translates) gets the gateway's own error in its dialect instead.
   */
  readonly dialect: Dialect;
  /** OAuth refresh against this platform's token endpoint. */
  readonly refresher: TokenRefresher;
  /**
   * Whether an account of this platform and `type` can serve `operation`. This is the routing declaration:
   * the gateway sends a request only to accounts whose own platform's provider supports its operation, so a
   * provider that translates another dialect's operation (say `chat_completions` onto Claude messages)
   * declares it here and nothing else changes.
   */
  supports(operation: Operation, type: AccountType): boolean;
  /** Shapes the upstream request. Throws ProviderError (`code: "unsupported"`) for an unsupported combination. */
  buildRequest(input: BuildRequestInput): UpstreamRequest;
  /** Shapes the response for the client, or null when it passes through unchanged. */
  responseShaper(input: BuildRequestInput): ResponseShaper | null;
  /** Judges an upstream answer; `now` is epoch ms, for rate-limit reset times given as durations. */
  classify(response: UpstreamResponseInfo, now: number): Verdict;
  /** Judges a failure to get an answer at all (connection refused, reset, timeout): a `server` verdict with `cause: "network"`. */
  classifyNetworkError(error: unknown): Verdict;
  /** A usage tracker for one response, streaming or not. */
  usageTracker(request: ClientRequest): UsageTracker;
  /** The models this platform serves, for `GET /v1/models` and Gemini's `models`. */
  models(): ModelInfo[];
  /**
   * Optional. The platform's documented model aliases: alias -> the id it stands for (`claude-sonnet-4-5` ->
   * `claude-sonnet-4-5-20250929`). An account's model allow-list that names either accepts both; requests
   * are sent upstream with the name the client gave (the platform resolves its own aliases). Absent: none.
   */
  readonly modelAliases?: Readonly<Record<string, string>>;
  /**
   * The upstream response headers a client gets back (lower-case names; a trailing `*` is a prefix): request
   * ids, the serving account's rate-limit and quota headers, processing time. Applied with
   * `returnableHeaders`, which drops cookies and hop-by-hop headers whatever this says. Absent: none.
   */
  readonly responseHeaders?: readonly string[];
  /**
   * Optional. The platform's list prices of the models it serves (USD per million tokens by token class),
   * for the gateway's cost per request: matched against the model that served a request with
   * `createPriceIndex` (exact id, then the longest family prefix) and priced with `costOf`. The gateway's
   * operator overrides them per model. Absent: the platform's requests are unpriced (cost 0, counted).
   */
  readonly prices?: PriceTable;
  /**
   * Optional. Completes an OAuth account's credentials with what the platform needs beyond its tokens,
   * asking the platform when they lack it (Gemini Code Assist: `projectId`, found or provisioned through
   * `loadCodeAssist` / `onboardUser`). Called when an account is added or its credentials replaced.
   * Resolves to the credentials to store: the same object when nothing was missing (no call made).
   * Rejects with ProviderError: `invalid_request` when the platform says the account cannot be set up as
   * it is (the message says what an operator can do), `upstream` when the platform could not be asked.
   */
  prepareCredentials?(input: PrepareCredentialsInput): Promise<OAuthCredentials>;
}

/**
 * The providers a process serves, keyed by platform. The gateway picks the provider of each attempt by
 * the account's platform (never by the route), and lists models by what a dialect's operations can reach.
 */
export interface ProviderRegistry {
  /** The provider of `platform`, or undefined when this process does not serve it. */
  get(platform: string): Provider | undefined;
  /** Every provider, in registration order. */
  all(): readonly Provider[];
  /** Whether an account of `platform` and `type` can serve `operation` (false for an unserved platform). */
  supports(platform: string, operation: Operation, type: AccountType): boolean;
}
