import { credentialsFromTokenResponse, requestToken, requireRefreshToken } from "@subrelay/providers-core";
import { type OAuthCredentials, type TokenAccount, type TokenRefresher } from "@subrelay/token-cache";
import type { Dispatcher } from "undici";
import { defaultClaudeClientId, defaultClaudeTokenTimeoutMs, defaultClaudeTokenUrl } from "./claude-defaults";

export interface ClaudeTokenRefresherOptions {
  /** Token endpoint. Default `https://console.anthropic.com/v1/oauth/token`. */
  tokenUrl?: string;
  /** OAuth client id. Default Claude Code's public client id `9d1c250a-e61b-44d9-88ed-5944d1962f5e`. */
  clientId?: string;
  /** undici dispatcher (proxy, pool); undici's global dispatcher when absent. */
  dispatcher?: Dispatcher;
  /** Milliseconds a refresh may take, body included. Default 20 000. */
  timeoutMs?: number;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Refreshes Claude OAuth (Claude Pro / Max) accounts: `POST {tokenUrl}` with the JSON body
 * `{grant_type: "refresh_token", refresh_token, client_id}`. The answer's `access_token`, `refresh_token`
 * (rotated on every refresh; the old one kept when none comes back), `expires_in` and `scope` map to
 * OAuthCredentials; `account.uuid` and `organization.uuid` are kept as `accountUuid` / `organizationUuid`.
 * Failures are TokenRefreshError as `requestToken` maps them (invalid_grant and friends permanent; 429, 5xx,
 * network, timeout, abort transient); an account without a refresh token fails with permanent
 * `no_refresh_token` without a request.
 */
export class ClaudeTokenRefresher implements TokenRefresher {
  private readonly tokenUrl: string;
  private readonly clientId: string;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(options: ClaudeTokenRefresherOptions = {}) {
    this.tokenUrl = options.tokenUrl ?? defaultClaudeTokenUrl;
    this.clientId = options.clientId ?? defaultClaudeClientId;
    this.dispatcher = options.dispatcher;
    this.timeoutMs = options.timeoutMs ?? defaultClaudeTokenTimeoutMs;
    this.now = options.now ?? Date.now;
  }

  /** `claude:account:<id>`. */
  cacheKey(account: TokenAccount): string {
    return `claude:account:${account.id}`;
  }

  async refresh(account: TokenAccount, signal: AbortSignal): Promise<OAuthCredentials> {
    const refreshToken = requireRefreshToken(account, "Claude");
    const json = await requestToken({
      url: this.tokenUrl,
      body: { grant_type: "refresh_token", refresh_token: refreshToken, client_id: this.clientId },
      encoding: "json",
      dispatcher: this.dispatcher,
      timeoutMs: this.timeoutMs,
      signal,
      now: this.now,
    });
    const credentials = credentialsFromTokenResponse(json, account.credentials, this.now());
    const accountUuid = uuidOf(json.account);
    const organizationUuid = uuidOf(json.organization);
    if (accountUuid !== undefined) credentials.accountUuid = accountUuid;
    if (organizationUuid !== undefined) credentials.organizationUuid = organizationUuid;
    return credentials;
  }
}

function uuidOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const uuid = (value as Record<string, unknown>).uuid;
  return typeof uuid === "string" ? uuid : undefined;
}
