import type { SseEvent } from "./sse";
import { createSseParser } from "./sse-parser";

/** A whole SSE transcript (a fixture, a recorded body) as its events, parsed as a relay parses a stream. */
export function sseEvents(transcript: string): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = createSseParser((event) => events.push(event));
  parser.push(transcript);
  parser.end();
  return events;
}
