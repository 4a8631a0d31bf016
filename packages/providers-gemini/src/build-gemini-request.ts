import {
  type ApiKeyCredentials,
  type BuildRequestInput,
  forwardableHeaders,
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
 * - `apikey`: POST {baseUrl}/v1beta/models/{model}:generateContent, or :streamGenerateContent?alt=sse;
 *   `x-goog-api-key`; the client body as-is.
 * - `oauth` (Code Assist): POST {codeAssistBaseUrl}/v1internal:generateContent, or
 *   :streamGenerateContent?alt=sse; `authorization: Bearer`; body `{model, project, request: <client body>}`,
 *   `project` from the credentials' `projectId`.
 * The model loses any `models/` prefix. Throws ProviderError `unsupported` for operations other than
 * generate_content / stream_generate_content, `invalid_request` for an empty model, and `misconfigured` for an `oauth` account
 * without `projectId` or access token, or an `apikey` account without a key. Messages never hold secrets.
 */
export function buildGeminiRequest(input: BuildRequestInput, endpoints: GeminiEndpoints): UpstreamRequest {
  const { account, request } = input;
  if (request.operation !== "generate_content" && request.operation !== "stream_generate_content") {
    throw new ProviderError(`Gemini does not serve ${request.operation}`, { code: "unsupported" });
  }
  const model = normalizeModelName(request.model);
  if (model === "") throw new ProviderError("Gemini request without a model", { code: "invalid_request" });
  const stream = request.operation === "stream_generate_content";
  const method = stream ? "streamGenerateContent" : "generateContent";
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
    body: JSON.stringify({ model, project: projectId, request: request.body }),
  };
}

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, "");
}
