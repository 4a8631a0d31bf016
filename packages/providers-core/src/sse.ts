/** One server-sent event. */
export interface SseEvent {
  /** The `event:` field; absent for unnamed events. */
  event?: string;
  /** The `data:` field, lines joined with "\n". */
  data: string;
  id?: string;
}
