/**
 * The public-API body inside a Code Assist answer (`{ response: {...}, traceId }` -> `{...}`).
 * Anything else (an API-key answer, an error body, a non-object) comes back unchanged, so callers can
 * apply it to answers of either account type.
 */
export function unwrapCodeAssistResponse(body: unknown): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const inner = (body as Record<string, unknown>).response;
  if (typeof inner !== "object" || inner === null || Array.isArray(inner)) return body;
  return inner;
}
