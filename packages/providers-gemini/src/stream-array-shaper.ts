import type { CollectedResponse, ResponseCollector, ResponseShaper, SseEvent } from "@subrelay/providers-core";
import { unwrapCodeAssistResponse } from "./unwrap-code-assist-response";

/**
 * For a `:streamGenerateContent` client that did not ask for `alt=sse`: the Gemini API then answers one JSON
 * array of the chunks it would have streamed. The upstream is asked for SSE either way (so usage is read the
 * same way); this shaper's collector assembles the array from its events, each unwrapped from Code Assist's
 * `{response}` envelope when `unwrap` is set. A stream without a single chunk is a 502 in Gemini's error shape.
 */
export function streamArrayShaper(base: ResponseShaper | null): ResponseShaper {
  const unwrap = base !== null;
  return {
    json: (body) => (base ? base.json(body) : body),
    event: (event) => (base ? base.event(event) : event),
    collector: () => streamArrayCollector(unwrap),
  };
}

function streamArrayCollector(unwrap: boolean): ResponseCollector {
  const chunks: unknown[] = [];
  return {
    event(event: SseEvent) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        return;
      }
      chunks.push(unwrap ? unwrapCodeAssistResponse(parsed) : parsed);
    },
    finish(): CollectedResponse {
      if (chunks.length === 0) {
        return { status: 502, body: { error: { code: 502, message: "The upstream stream ended without a chunk.", status: "UNAVAILABLE" } } };
      }
      return { status: 200, body: chunks };
    },
  };
}
