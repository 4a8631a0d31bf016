import { GatewayError, type GatewayErrorCode } from "../gateway-error";
import { bearerOf, conversationDigest, headerOf, isObject, sessionHeaderOf, type ClientDialect } from "./client-dialect";

const errorStatus: Record<GatewayErrorCode, string> = {
  invalid_request: "INVALID_ARGUMENT",
  authentication: "UNAUTHENTICATED",
  permission: "PERMISSION_DENIED",
  forbidden: "PERMISSION_DENIED",
  not_found: "NOT_FOUND",
  conflict: "ABORTED",
  too_large: "INVALID_ARGUMENT",
  rate_limited: "RESOURCE_EXHAUSTED",
  upstream: "UNAVAILABLE",
  overloaded: "UNAVAILABLE",
  unavailable: "UNAVAILABLE",
  timeout: "DEADLINE_EXCEEDED",
  internal: "INTERNAL",
};

/** What a Gemini model id is made of (`gemini-2.5-flash`, `gemini-2.0-flash-001`, `gemma-3-27b-it`). */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._@/-]*$/;

/**
 * `{model}` of a `{model}:{method}` path rest. Fastify has decoded the path once already: no second decode
 * (`%25` is a `%`, which no model id holds: 400).
 */
function modelOfPath(rest: string): string {
  const colon = rest.lastIndexOf(":");
  const model = colon === -1 ? rest : rest.slice(0, colon);
  if (model !== "" && !MODEL_ID.test(model)) throw new GatewayError("invalid_request", "The model in the path is not a valid model id.");
  return model;
}

const routes: ClientDialect["routes"] = [
  { method: "POST", url: "/v1beta/models/*", action: "generateContent", operation: "generate_content" },
  { method: "POST", url: "/v1beta/models/*", action: "streamGenerateContent", operation: "stream_generate_content" },
  { method: "POST", url: "/v1beta/models/*", action: "countTokens", operation: "gemini_count_tokens" },
  { method: "POST", url: "/v1beta/models/*", action: "embedContent", operation: "embed_content" },
  // The Gen AI SDKs' models.embedContent calls this one (the Gemini API), with one request per content.
  { method: "POST", url: "/v1beta/models/*", action: "batchEmbedContents", operation: "batch_embed_contents" },
];
const generationMethods = routes.map((route) => route.action);

/** The Gemini API (`v1beta`), as the Google Gen AI SDKs and gemini-cli speak it. */
export const gemini: ClientDialect = {
  name: "gemini",
  routes,
  // Never `key` (the client's subrelay key); `alt` is the gateway's to set from the operation.
  forwardedQuery: [],
  modelsUrl: "/v1beta/models",
  claims: ({ url }) => url.startsWith("/v1beta"),
  apiKey: ({ headers, query }) => {
    const key = query.key;
    return headerOf(headers, "x-goog-api-key") ?? (typeof key === "string" ? key : undefined) ?? bearerOf(headers);
  },
  model: ({ pathRest }) => modelOfPath(pathRest),
  // Without `alt=sse` the API answers one JSON array of the chunks (which the provider collects).
  stream: ({ query }, operation) => operation === "stream_generate_content" && query.alt === "sse",
  sessionId: ({ headers }) => sessionHeaderOf(headers),
  contentSessionId: ({ body }, operation) => {
    if ((operation !== "generate_content" && operation !== "stream_generate_content") || !Array.isArray(body.contents)) return undefined;
    // A content without a role is the user's (a single-turn request's).
    const first = (body.contents as unknown[]).find((content) => isObject(content) && (content.role === undefined || content.role === "user"));
    if (!isObject(first)) return undefined;
    // The REST API takes the proto field names in either case.
    const system = body.systemInstruction ?? body.system_instruction;
    return conversationDigest(isObject(system) ? system.parts : system, first.parts);
  },
  errorBody: (error) => ({ error: { code: error.status, message: error.message, status: errorStatus[error.code] } }),
  keepAliveEvent: ": ping\n\n",
  streamErrorEvent(error) {
    return `data: ${JSON.stringify(this.errorBody(error))}\n\n`;
  },
  renderModel: (model) => ({
    name: `models/${model.id}`,
    displayName: model.displayName ?? model.id,
    supportedGenerationMethods: generationMethods,
  }),
  renderModels(models) {
    return { models: models.map((model) => this.renderModel(model)) };
  },
};
