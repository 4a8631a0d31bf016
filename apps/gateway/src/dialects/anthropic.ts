import type { GatewayErrorCode } from "../gateway-error";
import { bearerOf, conversationDigest, headerOf, isObject, partsOf, sessionHeaderOf, type ClientDialect } from "./client-dialect";

const errorType: Record<GatewayErrorCode, string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  forbidden: "permission_error",
  not_found: "not_found_error",
  conflict: "invalid_request_error",
  too_large: "request_too_large",
  rate_limited: "rate_limit_error",
  upstream: "api_error",
  overloaded: "overloaded_error",
  unavailable: "api_error",
  timeout: "api_error",
  internal: "api_error",
};

/** The Anthropic Messages API, as the Anthropic SDKs and Claude Code speak it. */
export const anthropic: ClientDialect = {
  name: "anthropic",
  routes: [
    { method: "POST", url: "/v1/messages", operation: "messages" },
    { method: "POST", url: "/v1/messages/count_tokens", operation: "count_tokens" },
  ],
  // Claude Code's `beta=true` (on messages and count_tokens).
  forwardedQuery: ["beta"],
  modelsUrl: "/v1/models",
  claims: ({ headers }) => headers["anthropic-version"] !== undefined || headers["x-api-key"] !== undefined,
  apiKey: ({ headers }) => headerOf(headers, "x-api-key") ?? bearerOf(headers),
  model: ({ body }) => body.model,
  stream: ({ body }) => body.stream === true,
  sessionId: ({ headers, body }) => {
    const metadata = body.metadata as Record<string, unknown> | undefined;
    return sessionHeaderOf(headers) ?? (typeof metadata?.user_id === "string" ? metadata.user_id : undefined);
  },
  contentSessionId: ({ body }, operation) => {
    if (operation !== "messages" || !Array.isArray(body.messages)) return undefined;
    const first = (body.messages as unknown[]).find((message) => isObject(message) && message.role === "user");
    if (!isObject(first)) return undefined;
    return conversationDigest(partsOf(body.system, "text"), partsOf(first.content, "text"));
  },
  errorBody: (error) => ({ type: "error", error: { type: errorType[error.code], message: error.message } }),
  keepAliveEvent: `event: ping\ndata: {"type":"ping"}\n\n`,
  streamErrorEvent(error) {
    return `event: error\ndata: ${JSON.stringify(this.errorBody(error))}\n\n`;
  },
  renderModel: (model) => ({
    type: "model",
    id: model.id,
    display_name: model.displayName ?? model.id,
    created_at: new Date((model.created ?? 0) * 1000).toISOString(),
  }),
  renderModels(models) {
    const data = models.map((model) => this.renderModel(model) as { id: string });
    return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  },
};
