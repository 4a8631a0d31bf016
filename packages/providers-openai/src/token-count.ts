/** A token count as OpenAI reports it: a non-negative safe integer, 0 for anything else (absurd values included). */
export function tokenCount(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.min(Math.floor(value), 2 ** 40) : 0;
}
