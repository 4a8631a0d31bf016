import { type OAuthCredentials, type TokenAccount, TokenRefreshError, type TokenRefreshErrorCode } from "@subrelay/token-cache";
import { type Dispatcher, request } from "undici";
import { parseRetryAfter } from "./headers";
import { isRecord } from "./is-record";

export interface TokenRequestOptions {
  /** The token endpoint. */
  url: string;
  /** The grant's parameters (`grant_type`, `refresh_token`, `client_id`, ...). Never appears in errors. */
  body: Record<string, string>;
  /** `json`: an `application/json` body; `form`: `application/x-www-form-urlencoded`. */
  encoding: "json" | "form";
  /** Extra request headers (e.g. a user agent). Values never appear in errors. */
  headers?: Record<string, string>;
  /** undici dispatcher (proxy, pool, mock); undici's global dispatcher when absent. */
  dispatcher?: Dispatcher;
  /** Milliseconds for the whole exchange, body included. */
  timeoutMs: number;
  /** The caller's signal; aborting it fails the call with code `aborted`. */
  signal: AbortSignal;
  /** Clock (epoch ms), for `Retry-After` given as an HTTP date. */
  now: () => number;
}

/** OAuth error codes (RFC 6749 §5.2 and platform variants) that no retry can fix. */
const invalidGrantCodes = new Set([
  "invalid_grant",
  "invalid_refresh_token",
  "refresh_token_expired",
  "refresh_token_reused",
  "refresh_token_invalidated",
  "expired_token",
]);
const unauthorizedClientCodes = new Set(["unauthorized_client", "invalid_client", "access_denied"]);
/** Grant parameters that are not secret, so the endpoint's description may name them. */
const publicParameters = new Set(["grant_type", "client_id", "scope", "redirect_uri"]);
const revokedMessage = /revoked|invalid refresh token|refresh token (?:has |is )?(?:expired|invalid|not found)/i;

/**
 * POSTs a token request and returns the endpoint's JSON object. Failures are TokenRefreshError:
 * - permanent `invalid_grant`: a 4xx with invalid_grant / invalid_refresh_token / refresh_token_expired /
 *   refresh_token_reused / refresh_token_invalidated / expired_token, or a message saying the token was revoked;
 * - permanent `unauthorized_client`: a 4xx with unauthorized_client / invalid_client / access_denied;
 * - transient `rate_limited` (429) and `server` (5xx), with `retryAfterMs` from `Retry-After` when present;
 * - transient `network` (no answer: refused, reset, cut), `timeout` (`timeoutMs` elapsed), `aborted` (`signal`),
 *   `invalid_response` (a 2xx that is not a JSON object), `unknown` (another 4xx).
 * Messages carry the status, the OAuth error code and the endpoint's description with every request value
 * redacted; never a token.
 */
export async function requestToken(options: TokenRequestOptions): Promise<Record<string, unknown>> {
  const { signal } = options;
  if (signal.aborted) {
    throw new TokenRefreshError("Token request aborted before it started", { code: "aborted", permanent: false, cause: signal.reason });
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("token request timeout"));
  }, options.timeoutMs);
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });

  const body =
    options.encoding === "json" ? JSON.stringify(options.body) : new URLSearchParams(options.body).toString();
  let status: number;
  let headers: Record<string, string | string[] | undefined>;
  let text: string;
  try {
    const response = await request(options.url, {
      method: "POST",
      headers: {
        "content-type": options.encoding === "json" ? "application/json" : "application/x-www-form-urlencoded",
        accept: "application/json",
        ...options.headers,
      },
      body,
      dispatcher: options.dispatcher,
      signal: controller.signal,
    });
    status = response.statusCode;
    headers = response.headers;
    text = await response.body.text();
  } catch (error) {
    if (timedOut) {
      throw new TokenRefreshError(`Token request timed out after ${options.timeoutMs} ms`, {
        code: "timeout",
        permanent: false,
        cause: error,
      });
    }
    if (signal.aborted) {
      throw new TokenRefreshError("Token request aborted", { code: "aborted", permanent: false, cause: error });
    }
    throw new TokenRefreshError(`Token request failed: ${describeNetworkError(error)}`, {
      code: "network",
      permanent: false,
      cause: error,
    });
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }

  const secrets = [
    ...Object.entries(options.body)
      .filter(([name]) => !publicParameters.has(name))
      .map(([, value]) => value),
    ...Object.values(options.headers ?? {}),
  ].filter((value) => value.length >= 6);
  const parsed = parseJson(text);

  if (status >= 200 && status < 300) {
    if (!isRecord(parsed)) {
      throw new TokenRefreshError(`Token endpoint answered ${status} with a body that is not a JSON object`, {
        code: "invalid_response",
        permanent: false,
        status,
      });
    }
    return parsed;
  }

  const { oauthCode, description } = readOAuthError(parsed);
  const now = options.now();
  const retryAt = parseRetryAfter(headers["retry-after"], now);
  const retryAfterMs = retryAt === undefined ? undefined : retryAt - now;
  const safeCode = oauthCode !== undefined && /^[\w.-]{1,64}$/.test(oauthCode) ? oauthCode : undefined;
  const safeDescription = description === undefined ? undefined : redact(description.slice(0, 300), secrets);
  const message = `Token endpoint answered ${status}${safeCode ? ` ${safeCode}` : ""}${safeDescription ? `: ${safeDescription}` : ""}`;

  let code: TokenRefreshErrorCode;
  let permanent = false;
  if (status === 429) code = "rate_limited";
  else if (status >= 500) code = "server";
  else if (status >= 400 && oauthCode !== undefined && invalidGrantCodes.has(oauthCode)) {
    code = "invalid_grant";
    permanent = true;
  } else if (status >= 400 && oauthCode !== undefined && unauthorizedClientCodes.has(oauthCode)) {
    code = "unauthorized_client";
    permanent = true;
  } else if (status >= 400 && description !== undefined && revokedMessage.test(description)) {
    code = "invalid_grant";
    permanent = true;
  } else if (status >= 300 && status < 400) code = "invalid_response";
  else code = "unknown";

  throw new TokenRefreshError(message, { code, permanent, status, retryAfterMs });
}

/**
 * Maps a token endpoint's JSON to credentials: `access_token` (required, else TokenRefreshError
 * `invalid_response`), `refresh_token` (the previous one kept when none is returned), `expires_in` seconds ->
 * `expiresAt` = now + expires_in * 1000 (absent when the endpoint gave none), `scope` and `id_token` -> `scope`
 * and `idToken` when present. Every other previous field (platform extras) is kept.
 */
export function credentialsFromTokenResponse(
  json: Record<string, unknown>,
  previous: OAuthCredentials,
  now: number,
): OAuthCredentials {
  const accessToken = json.access_token;
  if (typeof accessToken !== "string" || accessToken === "") {
    throw new TokenRefreshError("Token endpoint answered without an access_token", {
      code: "invalid_response",
      permanent: false,
    });
  }
  const credentials: OAuthCredentials = { ...previous, accessToken };
  if (typeof json.refresh_token === "string" && json.refresh_token !== "") credentials.refreshToken = json.refresh_token;
  const expiresIn = typeof json.expires_in === "string" ? Number(json.expires_in) : json.expires_in;
  if (typeof expiresIn === "number" && Number.isFinite(expiresIn)) credentials.expiresAt = now + expiresIn * 1000;
  else delete credentials.expiresAt;
  if (typeof json.scope === "string") credentials.scope = json.scope;
  if (typeof json.id_token === "string") credentials.idToken = json.id_token;
  return credentials;
}

function readOAuthError(body: unknown): { oauthCode?: string; description?: string } {
  if (!isRecord(body)) return {};
  const error = body.error;
  if (typeof error === "string") {
    return { oauthCode: error, description: stringOrUndefined(body.error_description) ?? stringOrUndefined(body.message) };
  }
  if (isRecord(error)) {
    return {
      oauthCode: stringOrUndefined(error.code) ?? stringOrUndefined(error.type) ?? stringOrUndefined(error.status),
      description: stringOrUndefined(error.message) ?? stringOrUndefined(body.error_description),
    };
  }
  return { description: stringOrUndefined(body.error_description) ?? stringOrUndefined(body.message) };
}

function describeNetworkError(error: unknown): string {
  if (isRecord(error)) {
    const code = error.code;
    if (typeof code === "string") return code;
    if (typeof error.name === "string") return error.name;
  }
  return "connection error";
}

function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join("[redacted]");
  return result;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The account's refresh token, or a permanent `no_refresh_token` TokenRefreshError (before any request:
 * nothing can be refreshed without one). `platform` names it in the message, e.g. "Claude".
 */
export function requireRefreshToken(account: TokenAccount, platform: string): string {
  const refreshToken = account.credentials.refreshToken;
  if (typeof refreshToken !== "string" || refreshToken === "") {
    throw new TokenRefreshError(`${platform} account ${account.id} has no refresh token`, {
      code: "no_refresh_token",
      permanent: true,
    });
  }
  return refreshToken;
}
