/**
 * The code (`ECONNREFUSED`, `UND_ERR_HEADERS_TIMEOUT`) or else the class name of an error that got no answer
 * from upstream, for a verdict's reason; undefined when it has neither. Only short word-like values are
 * returned: some HTTP clients' messages and fields quote the request, and a reason must never carry it.
 */
export function networkErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  for (const field of ["code", "name"] as const) {
    const value = (error as Record<string, unknown>)[field];
    if (typeof value === "string" && /^[\w.-]{1,64}$/.test(value)) return value;
  }
  return undefined;
}
