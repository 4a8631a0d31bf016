import { isRecord, parseSseJson } from "@subrelay/providers-core";
import type { CollectedResponse, ResponseCollector, SseEvent } from "@subrelay/providers-core";

/** Error codes of a failed Codex response that are the request's own fault (HTTP 400 from the API). */
const requestErrorCodes = new Set(["context_length_exceeded", "invalid_prompt", "invalid_request_error", "invalid_image"]);
/** Error codes that mean the account ran out of quota mid-request (HTTP 429 from the API). */
const rateLimitCodes = new Set(["rate_limit_exceeded", "usage_limit_reached", "insufficient_quota"]);

/**
 * Turns a Codex Responses stream into the one Responses object a non-streaming client asked for: the
 * `response` of the terminal `response.completed` (or `response.incomplete`) event, which is what the API's
 * non-streaming answer is. When that object's `output` is empty, the items of the `response.output_item.done`
 * events are used, in `output_index` order, so the text is never lost to a backend that leaves it out.
 *
 * A stream that ends otherwise becomes an OpenAI error body: `response.failed` or an `error` event by its
 * error code (400 for the request's own faults, 429 for exhausted quota, 502 for the rest), a stream that
 * stopped before its terminal event 502. Deltas are not kept: memory is the items, not the stream.
 */
export function createCodexResponseCollector(): ResponseCollector {
  let terminal: Record<string, unknown> | undefined;
  let failure: Record<string, unknown> | undefined;
  const items = new Map<number, unknown>();
  return {
    event(event: SseEvent) {
      const data = parseSseJson(event.data);
      if (!isRecord(data)) return;
      const type = typeof data.type === "string" ? data.type : event.event;
      if (type === "response.output_item.done") {
        if (typeof data.output_index === "number" && data.item !== undefined) items.set(data.output_index, data.item);
      } else if (type === "response.completed" || type === "response.incomplete") {
        if (isRecord(data.response)) terminal = data.response;
      } else if (type === "response.failed") {
        const response = isRecord(data.response) ? data.response : {};
        failure = isRecord(response.error) ? response.error : { message: "The upstream response failed." };
      } else if (type === "error") {
        failure = isRecord(data.error) ? data.error : data;
      }
    },
    finish(): CollectedResponse {
      if (terminal !== undefined && failure === undefined) {
        const output = Array.isArray(terminal.output) && terminal.output.length > 0 ? terminal.output : collected(items);
        return { status: 200, body: { ...terminal, output } };
      }
      if (failure !== undefined) return codexErrorResponse(failure);
      return {
        status: 502,
        body: openAIError("The upstream stream ended before the response completed.", "server_error", null),
      };
    },
  };
}

function collected(items: ReadonlyMap<number, unknown>): unknown[] {
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
}

/**
 * The OpenAI error answer for the `error` of a failed Codex response (or of an `error` event): 400 for the
 * request's own faults, 429 for exhausted quota, 502 for the rest.
 */
export function codexErrorResponse(error: Record<string, unknown>): CollectedResponse {
  const code = typeof error.code === "string" ? error.code : typeof error.type === "string" ? error.type : null;
  const message =
    typeof error.message === "string" && error.message !== "" ? error.message : "The upstream response failed.";
  if (code !== null && requestErrorCodes.has(code)) {
    return { status: 400, body: openAIError(message, "invalid_request_error", code) };
  }
  if (code !== null && rateLimitCodes.has(code)) {
    return { status: 429, body: openAIError(message, "rate_limit_exceeded", code) };
  }
  return { status: 502, body: openAIError(message, "server_error", code) };
}

function openAIError(message: string, type: string, code: string | null) {
  return { error: { message, type, param: null, code } };
}
