import type { ResponseShaper, SseEvent } from "@subrelay/providers-core";
import { unwrapCodeAssistResponse } from "./unwrap-code-assist-response";

/**
 * Turns Code Assist answers into public Gemini API answers: unwraps `{response}` from a JSON body and from
 * every SSE event (dropping the envelope's `traceId`). Bodies and events that are not wrapped (errors,
 * unparsable data) pass through unchanged rather than being dropped, so the client still sees them.
 */
export const codeAssistResponseShaper: ResponseShaper = {
  json(body: unknown): unknown {
    if (Array.isArray(body)) return body.map(unwrapCodeAssistResponse);
    return unwrapCodeAssistResponse(body);
  },
  event(event: SseEvent): SseEvent | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      return event;
    }
    const inner = unwrapCodeAssistResponse(parsed);
    if (inner === parsed) return event;
    return { ...event, data: JSON.stringify(inner) };
  },
};
