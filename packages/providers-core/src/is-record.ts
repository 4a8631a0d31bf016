/**
 * A JSON object: an object that is neither null nor an array. The one check every adapter reads untrusted
 * JSON (upstream bodies, SSE data, token answers) with, so "object" means the same thing everywhere.
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
