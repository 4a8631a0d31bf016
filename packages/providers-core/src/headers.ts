import type { IncomingHeaders } from "./provider";

/** Client credentials: the gateway authenticates clients itself and never forwards theirs. */
const authHeaders = new Set(["authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "cookie"]);

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus those the HTTP client computes itself. */
const hopByHopHeaders = new Set([
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** Whether a header may never be forwarded upstream, whatever an allow list says. */
export function isBlockedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return authHeaders.has(lower) || hopByHopHeaders.has(lower) || lower.startsWith("proxy-");
}

/**
 * The client headers to forward upstream: those named in `allow` (lower-case names; an entry ending in `*`
 * is a prefix, e.g. `"x-stainless-*"`), minus auth and hop-by-hop headers, which are dropped even when
 * allowed. Repeated headers are joined with ", ". Names come out lower-case.
 */
export function forwardableHeaders(incoming: IncomingHeaders, allow: readonly string[]): Record<string, string> {
  return pickHeaders(incoming, allow, isBlockedHeader);
}

/**
 * Allow lists compiled once per list: adapters pass the same module-level array on every request, and
 * rebuilding its set and prefixes each time was most of this function's cost. A list is read when first
 * seen; changing its contents afterwards is not noticed (they are meant to be constants).
 */
const compiledAllowLists = new WeakMap<readonly string[], (lowerName: string) => boolean>();

function allowListOf(allow: readonly string[]): (lowerName: string) => boolean {
  let allowed = compiledAllowLists.get(allow);
  if (allowed === undefined) {
    const exact = new Set<string>();
    const prefixes: string[] = [];
    for (const entry of allow) {
      const lower = entry.toLowerCase();
      if (lower.endsWith("*")) prefixes.push(lower.slice(0, -1));
      else exact.add(lower);
    }
    allowed = (name) => exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix));
    compiledAllowLists.set(allow, allowed);
  }
  return allowed;
}

/**
 * Upstream response headers never returned to a client, whatever an allow list says: cookies (they would
 * belong to the pooled account's session), hop-by-hop headers, and what the gateway computes itself for the
 * body it sends (length and encoding; the body may be reshaped).
 */
const blockedResponseHeaders = new Set([
  ...hopByHopHeaders,
  "set-cookie",
  "set-cookie2",
  "content-encoding",
  "alt-svc",
  "strict-transport-security",
]);

/**
 * The upstream response headers to return to the client: those named in `allow` (same form as
 * `forwardableHeaders`), minus cookies, hop-by-hop headers and body framing, dropped even when allowed.
 * Repeated headers are joined with ", ". Names come out lower-case.
 */
export function returnableHeaders(upstream: IncomingHeaders, allow: readonly string[]): Record<string, string> {
  return pickHeaders(upstream, allow, (lower) => blockedResponseHeaders.has(lower) || lower.startsWith("proxy-"));
}

/**
 * `url` with `query` appended (after any query string it has), names and values percent-encoded. `url`
 * itself when `query` is undefined or empty.
 */
export function withQuery(url: string, query: Readonly<Record<string, string>> | undefined): string {
  if (query === undefined) return url;
  const search = new URLSearchParams(query).toString();
  if (search === "") return url;
  return `${url}${url.includes("?") ? "&" : "?"}${search}`;
}

/**
 * Merges comma-separated lists (`anthropic-beta`, `openai-beta` style): items trimmed, empty items dropped,
 * duplicates removed, first occurrence order kept. Undefined when nothing is left.
 */
export function mergeCommaList(...values: (string | string[] | undefined)[]): string | undefined {
  const seen = new Set<string>();
  for (const value of values) {
    if (value === undefined) continue;
    for (const part of Array.isArray(value) ? value : [value]) {
      for (const item of part.split(",")) {
        const trimmed = item.trim();
        if (trimmed !== "") seen.add(trimmed);
      }
    }
  }
  return seen.size === 0 ? undefined : [...seen].join(",");
}

/**
 * The moment (epoch ms) a `Retry-After` value points at: delay-seconds (decimals accepted) from `now`, or an
 * HTTP date. Undefined when absent or unreadable; a date in the past gives `now`.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return now + Math.round(Number(text) * 1000);
  // Only date-shaped values: Date.parse accepts bare numbers such as "-1" or "2024" too.
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(date, now);
}

/** The first value of a header, whatever its shape. */
export function headerValue(headers: IncomingHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The headers `allow` names and `blocked` does not, lower-case, repeated ones joined with ", ". */
function pickHeaders(headers: IncomingHeaders, allow: readonly string[], blocked: (lower: string) => boolean): Record<string, string> {
  const allowed = allowListOf(allow);
  const result: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (!allowed(lower) || blocked(lower)) continue;
    result[lower] = Array.isArray(value) ? value.join(", ") : value;
  }
  return result;
}
