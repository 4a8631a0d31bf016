import { createParser } from "eventsource-parser";
import type { SseEvent } from "./sse";

/** An incremental SSE parser. */
export interface SseParser {
  /**
   * Feeds the next piece of the stream. Pieces may be split anywhere: mid-line, between the CR and LF of a
   * CRLF, inside a multi-byte UTF-8 sequence. Complete events reach `onEvent` synchronously, in order.
   */
  push(chunk: Uint8Array | string): void;
  /**
   * Ends the stream. An event not terminated by a blank line is discarded, as the SSE specification says
   * (a stream cut mid-event may have cut its data). Pushing after `end()` starts a fresh stream.
   */
  end(): void;
}

/**
 * Creates an incremental SSE parser (on `eventsource-parser`). Comments, `retry:` and unknown fields are
 * ignored; a leading BOM is dropped. Errors thrown by `onEvent` propagate out of `push`.
 */
export function createSseParser(onEvent: (event: SseEvent) => void): SseParser {
  // One streaming decoder, so a multi-byte character split across chunks is decoded once it is whole.
  let decoder = new TextDecoder("utf-8");
  const parser = createParser({
    onEvent(message) {
      const event: SseEvent = { data: message.data };
      if (message.event !== undefined) event.event = message.event;
      if (message.id !== undefined) event.id = message.id;
      onEvent(event);
    },
  });
  return {
    push(chunk) {
      const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
      if (text !== "") parser.feed(text);
    },
    end() {
      const rest = decoder.decode();
      if (rest !== "") parser.feed(rest);
      parser.reset();
      decoder = new TextDecoder("utf-8");
    },
  };
}
