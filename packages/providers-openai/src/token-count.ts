/** A token count as OpenAI reports it: a non-negative whole number, 0 for anything else. */
export function tokenCount(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
