import {
  type ApiKeyCredentials,
  type BuildRequestInput,
  forwardableHeaders,
  type Operation,
  ProviderError,
  type UpstreamRequest,
} from "@subrelay/providers-core";
import type { OAuthCredentials } from "@subrelay/token-cache";
import { normalizeModelName } from "./normalize-model-name";

/** Where requests go; an account's own `baseUrl` replaces the one its type uses. No trailing slash needed. */
export interface GeminiEndpoints {
  /** Public Gemini API, for `apikey` accounts. */
  baseUrl: string;
  /** Code Assist API, for `oauth` accounts. */
  codeAssistBaseUrl: string;
}

/**
 * Client headers forwarded upstream (SDK telemetry only). Client credentials (`x-goog-api-key`,
 * `authorization`) and hop-by-hop headers are never forwarded.
 */
export const geminiForwardedHeaders: readonly string[] = ["x-goog-api-client"];

/** Google response headers a client gets back: request ids and the server's processing time. */
export const geminiResponseHeaders: readonly string[] = ["x-request-id", "request-id", "server-timing"];

/**
 * Shapes a Gemini request.
 * - `apikey`: POST {baseUrl}/v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse,
 *   :countTokens, :embedContent or :batchEmbedContents; `x-goog-api-key`; the client body as-is.
 * - `oauth` (Code Assist): POST {codeAssistBaseUrl}/v1internal:generateContent, or
 *   :streamGenerateContent?alt=sse; `authorization: Bearer`; body `{model, project, request: <client body>}`,
 *   `project` from the credentials' `projectId`; :countTokens with body `{request: {model: "models/{model}", ...}}`.
 *   No embedContent or batchEmbedContents (Code Assist has no embeddings).
 * The model loses any `models/` prefix. Throws ProviderError `unsupported` for operations other than
 * generate_content / stream_generate_content, `invalid_request` for an empty model, and `misconfigured` for an `oauth` account
 * without `projectId` or access token, or an `apikey` account without a key. Messages never hold secrets.
 */
export function buildGeminiRequest(input: BuildRequestInput, endpoints: GeminiEndpoints): UpstreamRequest {
  const { account, request } = input;
  const method = methods[request.operation];
  if (method === undefined) {
    throw new ProviderError(`Gemini does not serve ${request.operation}`, { code: "unsupported" });
  }
  const model = normalizeModelName(request.model);
  if (model === "") throw new ProviderError("Gemini request without a model", { code: "invalid_request" });
  // The upstream always streams SSE; a client that asked for the JSON array gets it collected (see the shaper).
  const stream = request.operation === "stream_generate_content";
  const query = stream ? "?alt=sse" : "";
  const headers: Record<string, string> = {
    ...forwardableHeaders(request.headers, geminiForwardedHeaders),
    "content-type": "application/json",
  };

  if (account.type === "apikey") {
    const apiKey = (account.credentials as Partial<ApiKeyCredentials>).apiKey;
    if (typeof apiKey !== "string" || apiKey === "") {
      throw new ProviderError("Gemini API-key account has no API key", { code: "misconfigured" });
    }
    const base = trimSlashes(account.baseUrl ?? endpoints.baseUrl);
    return {
      url: `${base}/v1beta/models/${encodeURIComponent(model)}:${method}${query}`,
      method: "POST",
      headers: { ...headers, "x-goog-api-key": apiKey },
      body: JSON.stringify(request.body),
    };
  }

  if (request.operation === "embed_content" || request.operation === "batch_embed_contents") {
    throw new ProviderError(`Code Assist (Gemini OAuth) accounts do not serve ${method}`, { code: "unsupported" });
  }
  const credentials = account.credentials as Partial<OAuthCredentials>;
  const projectId = credentials.projectId;
  if (typeof projectId !== "string" || projectId === "") {
    throw new ProviderError("Gemini OAuth account has no Code Assist projectId", {
      code: "misconfigured",
    });
  }
  const accessToken = input.accessToken;
  if (accessToken === undefined || accessToken === "") {
    throw new ProviderError("Gemini OAuth account was given no access token", {
      code: "misconfigured",
    });
  }
  const base = trimSlashes(account.baseUrl ?? endpoints.codeAssistBaseUrl);
  return {
    url: `${base}/v1internal:${method}${query}`,
    method: "POST",
    headers: { ...headers, authorization: `Bearer ${accessToken}` },
    // Code Assist's countTokens names the model inside the request, and takes no project (as gemini-cli sends it).
    body: JSON.stringify(
      request.operation === "gemini_count_tokens"
        ? { request: { model: `models/${model}`, ...request.body } }
        : { model, project: projectId, request: request.body },
    ),
  };
}

/** The Gemini method of each operation this provider serves. */
const methods: Partial<Record<Operation, string>> = {
  generate_content: "generateContent",
  stream_generate_content: "streamGenerateContent",
  gemini_count_tokens: "countTokens",
  embed_content: "embedContent",
  batch_embed_contents: "batchEmbedContents",
};

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, "");
}
