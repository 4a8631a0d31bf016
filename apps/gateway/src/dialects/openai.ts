import type { GatewayErrorCode } from "../gateway-error";
import type { Operation } from "@subrelay/providers-core";
import { bearerOf, conversationDigest, isObject, partsOf, sessionHeaderOf, type ClientDialect, type DialectRequest } from "./client-dialect";

const errorType: Record<GatewayErrorCode, string> = {
  invalid_request: "invalid_request_error",
  authentication: "invalid_request_error",
  permission: "invalid_request_error",
  forbidden: "forbidden",
  not_found: "invalid_request_error",
  conflict: "conflict",
  too_large: "invalid_request_error",
  rate_limited: "rate_limit_exceeded",
  upstream: "server_error",
  overloaded: "server_error",
  unavailable: "server_error",
  timeout: "server_error",
  internal: "server_error",
};

const errorCode: Partial<Record<GatewayErrorCode, string>> = {
  authentication: "invalid_api_key",
  not_found: "not_found",
  forbidden: "forbidden",
  conflict: "conflict",
  rate_limited: "rate_limit_exceeded",
};

const INSTRUCTION_ROLES = new Set(["system", "developer"]);

/**
 * The system/developer messages before the first user message, and that message's content; undefined without
 * one. Later system messages are left out: a client may add them as the conversation goes on.
 */
function openingOf(items: unknown, isMessage: (item: Record<string, unknown>) => boolean, textType: string) {
  if (!Array.isArray(items)) return undefined;
  const instructions: unknown[] = [];
  for (const item of items as unknown[]) {
    if (!isObject(item) || !isMessage(item)) continue;
    if (item.role === "user") return { instructions, user: partsOf(item.content, textType) };
    if (INSTRUCTION_ROLES.has(item.role as string)) instructions.push(partsOf(item.content, textType));
  }
  return undefined;
}

function contentSessionIdOf({ body }: DialectRequest, operation: Operation): string | undefined {
  if (operation === "chat_completions") {
    const opening = openingOf(body.messages, () => true, "text");
    return opening && conversationDigest(opening.instructions, opening.user);
  }
  if (operation !== "responses" && operation !== "responses_compact") return undefined;
  // A follow-up by `previous_response_id` carries only its new turn; the conversation's opening is not in it.
  if (body.previous_response_id !== undefined) return undefined;
  const input = typeof body.input === "string" ? [{ role: "user", content: body.input }] : body.input;
  const opening = openingOf(input, (item) => item.type === undefined || item.type === "message", "input_text");
  return opening && conversationDigest([partsOf(body.instructions, "input_text"), ...opening.instructions], opening.user);
}

/** The OpenAI API (chat completions and responses), as the OpenAI SDKs and Codex speak it. */
export const openai: ClientDialect = {
  name: "openai",
  routes: [
    { method: "POST", url: "/v1/chat/completions", operation: "chat_completions" },
    { method: "POST", url: "/v1/responses", operation: "responses" },
    { method: "POST", url: "/v1/responses/compact", operation: "responses_compact" },
    { method: "GET", url: "/v1/responses/:id", operation: "responses_retrieve", modelless: true },
  ],
  forwardedQuery: [],
  modelsUrl: "/v1/models",
  // The fallback: a request no other dialect claims gets OpenAI-shaped errors.
  claims: () => true,
  apiKey: ({ headers }) => bearerOf(headers),
  model: ({ body }) => body.model,
  stream: ({ body }) => body.stream === true,
  sessionId: ({ headers, body }) => {
    const conversation = body.conversation;
    return (
      sessionHeaderOf(headers) ??
      (typeof conversation === "string" ? conversation : undefined) ??
      (typeof conversation === "object" && conversation !== null && typeof (conversation as { id?: unknown }).id === "string"
        ? (conversation as { id: string }).id
        : undefined) ??
      (typeof body.prompt_cache_key === "string" ? body.prompt_cache_key : undefined)
    );
  },
  contentSessionId: contentSessionIdOf,
  errorBody: (error) => ({
    error: { message: error.message, type: errorType[error.code], param: null, code: error.reason ?? errorCode[error.code] ?? null },
  }),
  keepAliveEvent: ": ping\n\n",
  streamErrorEvent(error) {
    return `data: ${JSON.stringify(this.errorBody(error))}\n\n`;
  },
  renderModel: (model) => ({ id: model.id, object: "model", created: model.created ?? 0, owned_by: model.platform }),
  renderModels(models) {
    return { object: "list", data: models.map((model) => this.renderModel(model)) };
  },
};
