import { hash } from "node:crypto";
import type { Dialect, IncomingHeaders, ModelInfo, Operation } from "@subrelay/providers-core";
import type { GatewayError } from "../gateway-error";

/** One client endpoint: the operation a request to it asks for. */
export interface DialectRoute {
  /** POST routes take a JSON body; GET routes (a retrieval) none. */
  method: "POST" | "GET";
  /** The route as Fastify matches it; a `:id` parameter is the request's `resourceId`. */
  url: string;
  operation: Operation;
  /** A request that names no model (a retrieval by id): any account able to serve the operation may. */
  modelless?: true;
  /**
   * For a path that names its method after a colon (Gemini's `/v1beta/models/{model}:generateContent`):
   * the method this entry serves. Entries that share a `url` are told apart by it.
   */
  action?: string;
}

/** A client request as far as a dialect reads it, before any account is involved. */
export interface DialectRequest {
  url: string;
  headers: IncomingHeaders;
  query: Record<string, unknown>;
  /** The part of the path a wildcard route matched (Gemini's `{model}:{method}`), else "". */
  pathRest: string;
  /** The JSON body; an object (non-objects are refused before a dialect sees them). */
  body: Record<string, unknown>;
}

/** A model as a model list shows it: the platform's model, with the platform that serves it. */
export interface ListedModel extends ModelInfo {
  platform: string;
}

/**
 * Everything the gateway knows about one client API: its endpoints, where its SDKs put the key, the
 * model, the stream flag and the session id, and the shape of its errors and model list. Adding an
 * endpoint is one entry in `routes` (plus the provider's `supports`); adding a dialect is one file.
 */
export interface ClientDialect {
  readonly name: Dialect;
  readonly routes: readonly DialectRoute[];
  /**
   * The query parameters of a client URL passed on upstream (`ClientRequest.query`): an allow list, because a
   * query may carry a credential (Gemini's `key`), which is never passed on.
   */
  readonly forwardedQuery: readonly string[];
  /** The model list endpoint (GET). Dialects may share one; `claims` tells them apart. */
  readonly modelsUrl: string;
  /**
   * Whether a request that matched no route, or a shared one, is this dialect's. Asked in the order of
   * `dialects`; the last dialect claims everything.
   */
  claims(request: { url: string; headers: IncomingHeaders }): boolean;
  /** The subrelay key, where this dialect's SDKs send it. */
  apiKey(request: Omit<DialectRequest, "body" | "pathRest">): string | undefined;
  /** The model asked for; undefined or "" when the request names none. */
  model(request: DialectRequest): unknown;
  /** Whether the client expects an SSE stream. */
  stream(request: DialectRequest, operation: Operation): boolean;
  /** The client's own conversation id, raw (the caller hashes and scopes it). */
  sessionId(request: DialectRequest): string | undefined;
  /**
   * For a client that sends no session id (`STICKY_FROM_CONTENT`): a digest of what opens the conversation, its
   * system prompt and first user turn, without cache markers (`cache_control`), so every later turn of one
   * conversation gives the same digest. Undefined for an operation that holds no conversation (token counts,
   * embeddings) and for a body with no user turn; never throws, whatever the body holds. Reads only those parts.
   */
  contentSessionId(request: DialectRequest, operation: Operation): string | undefined;
  /** The JSON body of `error`. */
  errorBody(error: GatewayError): unknown;
  /** The SSE event that ends a stream which failed after its first byte. */
  streamErrorEvent(error: GatewayError): string;
  /** The SSE keep-alive sent while a streaming request waits for a slot (`STREAM_PING_AFTER`). */
  readonly keepAliveEvent: string;
  /** The model list body. */
  renderModels(models: readonly ListedModel[]): unknown;
  /** One model, as the dialect's model retrieval (`GET /v1/models/{id}`, `GET /v1beta/models/{model}`) answers it. */
  renderModel(model: ListedModel): unknown;
}

/** The first value of a header. */
export function headerOf(headers: IncomingHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Authorization: Bearer <key>`, which every dialect's SDK can send. */
export function bearerOf(headers: IncomingHeaders): string | undefined {
  return headerOf(headers, "authorization")?.replace(/^Bearer\s+/i, "").trim();
}

/**
 * The session headers every dialect's tools send: Claude Code's `x-claude-code-session-id`, Codex's
 * `session-id` (`session_id` / `conversation_id` before 0.1xx), proxies' `x-session-id`.
 */
export function sessionHeaderOf(headers: IncomingHeaders): string | undefined {
  return (
    headerOf(headers, "x-session-id") ??
    headerOf(headers, "x-claude-code-session-id") ??
    headerOf(headers, "session-id") ??
    headerOf(headers, "session_id") ??
    headerOf(headers, "conversation_id")
  );
}

/** The `allow`ed parameters of a parsed query, string values only (a repeated parameter: its first value). */
export function forwardedQueryOf(query: Record<string, unknown>, allow: readonly string[]): Record<string, string> | undefined {
  let forwarded: Record<string, string> | undefined;
  for (const name of allow) {
    const raw = query[name];
    const value = Array.isArray(raw) ? (raw[0] as unknown) : raw;
    if (typeof value === "string") (forwarded ??= {})[name] = value;
  }
  return forwarded;
}

/** Fields that mark or annotate content without being part of it; a client moves them as a conversation grows. */
const NOT_CONTENT = new Set(["cache_control"]);

/**
 * The digest of a conversation's opening (system prompt, first user turn): SHA-256 of their JSON with
 * `NOT_CONTENT` fields left out, base64url. Only the parts given are serialised, never the whole body.
 */
export function conversationDigest(system: unknown, firstUserTurn: unknown): string {
  const text = JSON.stringify([system ?? null, firstUserTurn], (key, value: unknown) => (NOT_CONTENT.has(key) ? undefined : value));
  return hash("sha256", text, "base64url");
}

/** Content as a list of parts: a bare string is the one text part it stands for (`type` names the dialect's text part). */
export function partsOf(content: unknown, textType: string): unknown {
  return typeof content === "string" ? [{ type: textType, text: content }] : content;
}

/** A plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
