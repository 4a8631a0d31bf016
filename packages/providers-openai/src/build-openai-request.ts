import { ProviderError, forwardableHeaders, headerValue, mergeCommaList } from "@subrelay/providers-core";
import type { BuildRequestInput, UpstreamRequest } from "@subrelay/providers-core";
import { chatToResponsesBody } from "./chat-to-responses";

export interface OpenAIEndpoints {
  /** The OpenAI API, for API-key accounts. */
  baseUrl: string;
  /** The ChatGPT Codex backend, for OAuth accounts. */
  codexBaseUrl: string;
}

/**
 * Client headers an API-key request forwards. `openai-organization` / `openai-project` are deliberately
 * absent: they name the client's organisation, not the pooled key's, and OpenAI refuses a key with a
 * foreign organisation (401 `mismatched_organization`).
 */
const apiKeyForwardedHeaders = ["idempotency-key", "x-client-request-id"] as const;
/**
 * Codex uses these to keep its prompt cache warm across a conversation's turns: `session-id` and `thread-id`
 * from Codex CLI 0.1xx on, `session_id` and `conversation_id` from older ones. `x-codex-*` are its per-turn
 * headers for the backend it was built for (0.171: `x-codex-window-id`, `x-codex-beta-features`,
 * `x-codex-turn-metadata`), sent as they would be without the gateway.
 */
const codexForwardedHeaders = ["session-id", "thread-id", "session_id", "conversation_id", "x-client-request-id", "x-codex-*"] as const;
/** The `originator` the Codex backend is sent when the client names none (Codex CLI sends its own). */
const defaultOriginator = "codex_cli_rs";

/**
 * OpenAI response headers a client gets back: the request id (the SDKs' `_request_id`), processing time, and
 * the serving account's limits (`x-ratelimit-*` from the API, `x-codex-*` usage windows from the Codex
 * backend, which Codex shows its user). `openai-organization` is not: it names the pooled account's organisation.
 */
export const openaiResponseHeaders: readonly string[] = ["x-request-id", "openai-processing-ms", "x-ratelimit-*", "x-codex-*"];

/**
 * Shapes the upstream request.
 * - API key: POST `{account.baseUrl ?? baseUrl}/v1/chat/completions` or `/v1/responses`, `authorization:
 *   Bearer <key>`, the client's `openai-beta` merged in. Streaming chat completions always get
 *   `stream_options.include_usage: true` (the gateway must count every request's usage; the client then sees
 *   one extra final chunk with empty `choices` and the `usage`, a shape OpenAI clients already handle).
 * - OAuth (Codex): POST `{account.baseUrl ?? codexBaseUrl}/responses`, `authorization: Bearer <access token>`,
 *   `chatgpt-account-id: <credentials.accountId>` (omitted when unknown), `openai-beta: responses=experimental`
 *   merged with the client's, `originator: codex_cli_rs`; body with `stream: true, store: false`. The backend
 *   speaks only the Responses API: a chat completion is translated (`chatToResponsesBody`), and the provider's
 *   response shaper translates the answer back. The backend only streams: for a non-streaming client the
 *   shaper collects the stream into one body (`createCodexResponseCollector`).
 * - API key only: POST `/v1/responses/compact` (the body as is) and GET `/v1/responses/{resourceId}` (no body).
 * Throws ProviderError `unsupported` (a non-OpenAI operation, or compact / retrieve on an OAuth account) and `misconfigured` (no access token / API
 * key), `invalid_request` (a chat completion that cannot be translated). Never mutates the client's body.
 */
export function buildOpenAIRequest(input: BuildRequestInput, endpoints: OpenAIEndpoints): UpstreamRequest {
  const { account, request } = input;
  const apiKeyOnly = request.operation === "responses_compact" || request.operation === "responses_retrieve";
  if (request.operation !== "chat_completions" && request.operation !== "responses" && !apiKeyOnly) {
    throw new ProviderError(`OpenAI accounts cannot serve ${request.operation}`, { code: "unsupported" });
  }
  if (apiKeyOnly && account.type === "oauth") {
    throw new ProviderError(`ChatGPT (Codex) accounts cannot serve ${request.operation}`, { code: "unsupported" });
  }
  const accept = request.stream ? "text/event-stream" : "application/json";

  if (account.type === "oauth") {
    const accessToken = input.accessToken;
    if (accessToken === undefined || accessToken === "") {
      throw new ProviderError("OpenAI OAuth account needs an access token", { code: "misconfigured" });
    }
    const accountId = "accountId" in account.credentials ? account.credentials.accountId : undefined;
    const headers: Record<string, string> = {
      ...forwardableHeaders(request.headers, codexForwardedHeaders),
      authorization: `Bearer ${accessToken}`,
      "content-type": "application/json",
      accept: "text/event-stream",
      "openai-beta":
        mergeCommaList("responses=experimental", request.headers["openai-beta"]) ?? "responses=experimental",
      originator: headerValue(request.headers, "originator") || defaultOriginator,
    };
    if (typeof accountId === "string" && accountId !== "") headers["chatgpt-account-id"] = accountId;
    return {
      url: `${trimSlash(account.baseUrl ?? endpoints.codexBaseUrl)}/responses`,
      method: "POST",
      headers,
      body: JSON.stringify({
        ...(request.operation === "chat_completions" ? chatToResponsesBody(request.body) : request.body),
        stream: true,
        store: false,
      }),
    };
  }

  const apiKey = "apiKey" in account.credentials ? account.credentials.apiKey : undefined;
  if (typeof apiKey !== "string" || apiKey === "") {
    throw new ProviderError("OpenAI API-key account has no API key", { code: "misconfigured" });
  }
  const headers: Record<string, string> = {
    ...forwardableHeaders(request.headers, apiKeyForwardedHeaders),
    authorization: `Bearer ${apiKey}`,
    "content-type": "application/json",
    accept,
  };
  const beta = mergeCommaList(request.headers["openai-beta"]);
  if (beta !== undefined) headers["openai-beta"] = beta;
  const base = trimSlash(account.baseUrl ?? endpoints.baseUrl);
  if (request.operation === "responses_retrieve") {
    const id = request.resourceId;
    if (id === undefined || id === "") throw new ProviderError("A response retrieval names no response id", { code: "invalid_request" });
    const { "content-type": _noBody, ...getHeaders } = headers;
    return { url: `${base}/v1/responses/${encodeURIComponent(id)}`, method: "GET", headers: { ...getHeaders, accept: "application/json" } };
  }
  if (request.operation === "responses_compact") {
    return { url: `${base}/v1/responses/compact`, method: "POST", headers, body: JSON.stringify(request.body) };
  }
  const path = request.operation === "chat_completions" ? "/v1/chat/completions" : "/v1/responses";
  return {
    url: `${trimSlash(account.baseUrl ?? endpoints.baseUrl)}${path}`,
    method: "POST",
    headers,
    body: JSON.stringify(
      request.operation === "chat_completions"
        ? withUsageReporting(request.body, request.stream)
        : request.body,
    ),
  };
}

function withUsageReporting(body: Record<string, unknown>, stream: boolean): Record<string, unknown> {
  if (!stream) return body;
  const streamOptions =
    typeof body.stream_options === "object" && body.stream_options !== null
      ? (body.stream_options as Record<string, unknown>)
      : {};
  return { ...body, stream_options: { ...streamOptions, include_usage: true } };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
