import type { UsageTracker } from "./provider";
import type { SseEvent } from "./sse";
import { createSseParser } from "./sse-parser";
import { emptyUsage, type Usage } from "./usage";

export interface SseUsageTrackerOptions {
  /**
   * Reads one SSE event and updates `usage` in place. It may throw (e.g. `JSON.parse` on a keep-alive or a
   * truncated event): the tracker ignores the event quietly. `parseSseJson` helps.
   */
  onEvent(event: SseEvent, usage: Usage): void;
  /** Reads a complete JSON response body and updates `usage` in place. Throwing is ignored likewise. */
  onJson(body: unknown, usage: Usage): void;
}

/**
 * The usage tracker every adapter configures: SSE parsing (split anywhere) plus the adapter's readers.
 * It never buffers the stream beyond the event being parsed; `result()` at any time (a stream cut mid-way
 * included) is the usage seen so far. Never throws.
 */
export function createSseUsageTracker(options: SseUsageTrackerOptions): UsageTracker {
  const usage = emptyUsage();
  const parser = createSseParser((event) => {
    try {
      options.onEvent(event, usage);
    } catch {
      // Unparseable events (pings, cut-off data) carry no usage; a tracker must never break the relay.
    }
  });
  return {
    push(chunk) {
      parser.push(chunk);
    },
    json(body) {
      try {
        options.onJson(body, usage);
      } catch {
        // As above: usage is best effort.
      }
    },
    result() {
      return { ...usage };
    },
  };
}

/** The JSON value of an event's data, or undefined when it is not JSON (`[DONE]`, pings, cut-off data). */
export function parseSseJson(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}
