import {
  type BuildRequestInput,
  forwardableHeaders,
  headerValue,
  mergeCommaList,
  ProviderError,
  type UpstreamRequest,
  withQuery,
} from "@subrelay/providers-core";
import { claudeOAuthBeta, defaultAnthropicVersion } from "./claude-defaults";

/**
 * Client headers passed on to Anthropic (besides the auth the adapter sets itself): the API's own
 * `anthropic-*` headers (version, beta, ...), the SDKs' `x-stainless-*` telemetry, `user-agent` and `x-app`,
 * which Anthropic uses to recognise Claude Code traffic. `accept-encoding` is not forwarded so the gateway
 * reads usage from an uncompressed stream.
 */
export const claudeForwardedHeaders: readonly string[] = [
  "anthropic-*",
  "x-stainless-*",
  "user-agent",
  "x-app",
  // Claude Code's conversation id, which Anthropic uses to keep a session's prompt cache together.
  "x-claude-code-session-id",
  "x-client-request-id",
];

/**
 * Anthropic response headers a client gets back: the request id (the SDKs' `_request_id`), the account's
 * rate-limit state (`anthropic-ratelimit-unified-*`, which Claude Code shows its user) and the retry hint.
 */
export const claudeResponseHeaders: readonly string[] = ["request-id", "x-request-id", "anthropic-ratelimit-*", "x-should-retry"];

const paths = { messages: "/v1/messages", count_tokens: "/v1/messages/count_tokens" } as const;

/**
 * Shapes a Messages API request for one account. OAuth: `Authorization: Bearer`, and `anthropic-beta` merged
 * with `oauth-2025-04-20`; API key: `x-api-key`. Either way `anthropic-version` is the client's or 2023-06-01,
 * and the body is the client's with `model` set to the routed model (`stream` dropped for count_tokens, which
 * rejects it). Throws ProviderError: `unsupported` for a non-Claude operation, `misconfigured` when the
 * account lacks its secret.
 */
export function buildClaudeRequest(input: BuildRequestInput, defaultBaseUrl: string): UpstreamRequest {
  const { account, request } = input;
  if (request.operation !== "messages" && request.operation !== "count_tokens") {
    throw new ProviderError(`Claude accounts do not serve ${request.operation}`, { code: "unsupported" });
  }
  const baseUrl = (account.baseUrl ?? defaultBaseUrl).replace(/\/+$/, "");

  const forwarded = forwardableHeaders(request.headers, claudeForwardedHeaders);
  const clientBeta = request.headers["anthropic-beta"];
  delete forwarded["anthropic-beta"];
  const headers: Record<string, string> = {
    ...forwarded,
    "content-type": "application/json",
    "anthropic-version": headerValue(request.headers, "anthropic-version") || defaultAnthropicVersion,
  };

  let beta: string | undefined;
  if (account.type === "oauth") {
    if (!input.accessToken) {
      throw new ProviderError("Claude OAuth account has no access token", { code: "misconfigured" });
    }
    headers.authorization = `Bearer ${input.accessToken}`;
    beta = clientBeta === undefined ? claudeOAuthBeta : mergeCommaList(claudeOAuthBeta, clientBeta);
  } else {
    const apiKey = "apiKey" in account.credentials ? account.credentials.apiKey : undefined;
    if (typeof apiKey !== "string" || apiKey === "") {
      throw new ProviderError("Claude API-key account has no API key", { code: "misconfigured" });
    }
    headers["x-api-key"] = apiKey;
    beta = mergeCommaList(clientBeta);
  }
  if (beta !== undefined) headers["anthropic-beta"] = beta;

  // The client's body unchanged when it already says what the routed request needs (the usual case);
  // a copy otherwise. Either way it is serialised from the parsed value, never passed through as sent.
  let body = request.body;
  const streamField = request.operation === "count_tokens" ? undefined : request.stream ? true : body.stream;
  if ((request.model && body.model !== request.model) || body.stream !== streamField) {
    body = { ...body };
    if (request.model) body.model = request.model;
    if (streamField === undefined) delete body.stream;
    else body.stream = streamField;
  }

  // The client's query (Claude Code's `beta=true`) is the Messages API's own: it passes through.
  return { url: withQuery(`${baseUrl}${paths[request.operation]}`, request.query), method: "POST", headers, body: JSON.stringify(body) };
}
