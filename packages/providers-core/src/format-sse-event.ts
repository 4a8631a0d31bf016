import type { SseEvent } from "./sse";

/**
 * Serialises an event for the wire, terminated by a blank line. Multi-line data becomes several `data:`
 * lines, so `createSseParser` gives the same event back.
 */
export function formatSseEvent(event: SseEvent): string {
  let text = "";
  if (event.event !== undefined) text += `event: ${event.event}\n`;
  if (event.id !== undefined) text += `id: ${event.id}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}
