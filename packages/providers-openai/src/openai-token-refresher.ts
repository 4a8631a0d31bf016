import { credentialsFromTokenResponse, requestToken, requireRefreshToken } from "@subrelay/providers-core";
import {
  type OAuthCredentials,
  type TokenAccount,
  type TokenRefresher,
} from "@subrelay/token-cache";
import type { Dispatcher } from "undici";
import { chatgptAccountId } from "./chatgpt-account-id";
import { jwtExpiresAt } from "./jwt-expires-at";

/** The Codex CLI's public OAuth client id (a public PKCE client: not a secret). */
export const codexClientId = "app_EMoamEEZ73f0CkXaXp7hrann";

export interface OpenAITokenRefresherOptions {
  /** OpenAI's token endpoint. Default `https://auth.openai.com/oauth/token`. */
  tokenUrl?: string;
  /** The OAuth client the refresh token was issued to. Default the Codex CLI's, `app_EMoamEEZ73f0CkXaXp7hrann`. */
  clientId?: string;
  /** undici dispatcher for the token request (proxy, custom pool); undici's global one when absent. */
  dispatcher?: Dispatcher;
  /** Milliseconds for the whole token exchange, body included. Default 15 000. */
  timeoutMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Refreshes ChatGPT (Codex) OAuth accounts: POST `{client_id, grant_type: "refresh_token", refresh_token,
 * scope: "openid profile email"}` as JSON to the token endpoint.
 *
 * The result keeps every previous field and sets:
 * - `accessToken`; `refreshToken` when rotated (OpenAI rotates on every refresh; the old one is kept otherwise);
 * - `expiresAt` from `expires_in`, else from the access token's JWT `exp`, else absent;
 * - `idToken` and `accountId` (the id token's `https://api.openai.com/auth`.`chatgpt_account_id`, falling back to
 *   the access token's claim, then to the previous value) that the Codex backend needs in `chatgpt-account-id`.
 *
 * Failures are TokenRefreshError (see `requestToken` in providers-core): permanent for invalid_grant,
 * refresh_token_reused/expired/invalidated and unauthorized_client, permanent `no_refresh_token` when the
 * account has none; transient for 429, 5xx, network errors, timeouts and aborts. No message contains a token
 * or the account id.
 */
export class OpenAITokenRefresher implements TokenRefresher {
  private readonly tokenUrl: string;
  private readonly clientId: string;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(options: OpenAITokenRefresherOptions = {}) {
    this.tokenUrl = options.tokenUrl ?? "https://auth.openai.com/oauth/token";
    this.clientId = options.clientId ?? codexClientId;
    this.dispatcher = options.dispatcher;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  /** `openai:account:<id>`. */
  cacheKey(account: TokenAccount): string {
    return `openai:account:${account.id}`;
  }

  async refresh(account: TokenAccount, signal: AbortSignal): Promise<OAuthCredentials> {
    const refreshToken = requireRefreshToken(account, "OpenAI");
    const json = await requestToken({
      url: this.tokenUrl,
      body: {
        client_id: this.clientId,
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        scope: "openid profile email",
      },
      encoding: "json",
      dispatcher: this.dispatcher,
      timeoutMs: this.timeoutMs,
      signal,
      now: this.now,
    });
    const credentials = credentialsFromTokenResponse(json, account.credentials, this.now());
    if (credentials.expiresAt === undefined) {
      const expiresAt = jwtExpiresAt(credentials.accessToken);
      if (expiresAt !== undefined) credentials.expiresAt = expiresAt;
    }
    const idToken = typeof credentials.idToken === "string" ? credentials.idToken : undefined;
    const accountId =
      (idToken === undefined ? undefined : chatgptAccountId(idToken)) ??
      chatgptAccountId(credentials.accessToken);
    if (accountId !== undefined) credentials.accountId = accountId;
    return credentials;
  }
}
