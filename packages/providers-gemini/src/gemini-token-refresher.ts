import { credentialsFromTokenResponse, requestToken, requireRefreshToken } from "@subrelay/providers-core";
import {
  type OAuthCredentials,
  type TokenAccount,
  type TokenRefresher,
  TokenRefreshError,
} from "@subrelay/token-cache";
import type { Dispatcher } from "undici";
import { geminiCliOAuthClient } from "./gemini-cli-oauth-client";

export interface GeminiTokenRefresherOptions {
  /** Google's token endpoint. Default `https://oauth2.googleapis.com/token`. */
  tokenUrl?: string;
  /**
   * The OAuth client the accounts' refresh tokens were issued to. Default: gemini-cli's public installed-app
   * client. An empty string makes every refresh fail with a permanent `unauthorized_client` error.
   */
  clientId?: string;
  /** That client's secret. Default: gemini-cli's (public by design, see `geminiCliOAuthClient`). */
  clientSecret?: string;
  /** undici dispatcher (proxy, pool); undici's global dispatcher when absent. */
  dispatcher?: Dispatcher;
  /** Milliseconds for one refresh, body included. Default 15_000. */
  timeoutMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Google OAuth refresh for Gemini Code Assist accounts: a form-encoded refresh_token grant
 * (`grant_type`, `refresh_token`, `client_id`, `client_secret`). Google usually does not rotate the refresh
 * token; the old one is kept unless a new one comes back. `expiresAt` = now + `expires_in` s; `scope` and
 * `idToken` are refreshed; `projectId` and every other extra are kept.
 *
 * Errors (TokenRefreshError): permanent `no_refresh_token` (account has none), `unauthorized_client`
 * (no client configured, or Google says unauthorized_client / invalid_client), `invalid_grant` (expired or
 * revoked token); transient `rate_limited`, `server`, `network`, `timeout`, `aborted`, `invalid_response`.
 * Messages never contain a token or the client secret.
 */
export class GeminiTokenRefresher implements TokenRefresher {
  readonly #tokenUrl: string;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(options: GeminiTokenRefresherOptions = {}) {
    this.#tokenUrl = options.tokenUrl ?? "https://oauth2.googleapis.com/token";
    this.#clientId = options.clientId ?? geminiCliOAuthClient.clientId;
    this.#clientSecret = options.clientSecret ?? geminiCliOAuthClient.clientSecret;
    this.#dispatcher = options.dispatcher;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#now = options.now ?? Date.now;
  }

  /** `gemini:account:<id>`. */
  cacheKey(account: TokenAccount): string {
    return `gemini:account:${account.id}`;
  }

  async refresh(account: TokenAccount, signal: AbortSignal): Promise<OAuthCredentials> {
    const refreshToken = requireRefreshToken(account, "Gemini");
    if (this.#clientId === "") {
      throw new TokenRefreshError("Gemini OAuth client id is not configured", {
        code: "unauthorized_client",
        permanent: true,
      });
    }
    const json = await requestToken({
      url: this.#tokenUrl,
      body: {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: this.#clientId,
        client_secret: this.#clientSecret,
      },
      encoding: "form",
      dispatcher: this.#dispatcher,
      timeoutMs: this.#timeoutMs,
      signal,
      now: this.#now,
    });
    return credentialsFromTokenResponse(json, account.credentials, this.#now());
  }
}
