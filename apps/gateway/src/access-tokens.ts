import type { UpstreamAccount } from "@subrelay/providers-core";
import type { OAuthCredentials, TokenAccount, TokenManager } from "@subrelay/token-cache";
import type { Cancellation } from "./cancellation";

export interface AccessTokensOptions {
  /**
   * How long this process reuses a token without asking the shared cache, ms. Default 5 s. A refresh
   * elsewhere is seen within this; the token it replaced stays valid until its own expiry, and a 401
   * drops it at once.
   */
  localTtlMs?: number;
  now?: () => number;
}

/**
 * Access tokens for OAuth accounts: TokenManager (shared cache, refresh coordination) behind a few
 * seconds of in-process memory, which keeps the shared cache off the hot path of a busy account.
 */
export class AccessTokens {
  /** Per account, the token reused here, until when, and the `tokenVersion` it was served with. */
  private readonly local = new Map<string, { token: string; until: number; tokenVersion: number }>();
  /** Per account, the versions of the last few tokens served here, so a 401 names the version it was for. */
  private readonly served = new Map<string, Map<string, number>>();
  private readonly now: () => number;

  constructor(
    private readonly manager: Pick<TokenManager, "getToken" | "invalidate">,
    private readonly options: AccessTokensOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** `clientGone` stops a wait for a refresh when the client leaves (its AbortSignal is made only then). */
  async get(account: UpstreamAccount, clientGone?: Cancellation): Promise<string> {
    const cached = this.local.get(account.id);
    // Credentials newer than the token kept here (an operator replaced them) skip it: the shared cache
    // was invalidated below their version, so it hands out the new token.
    if (cached && cached.until > this.now() && credentialsVersion(account) <= cached.tokenVersion) return cached.token;
    const { accessToken, expiresAt, tokenVersion } = await this.manager.getToken(tokenAccount(account), {
      signal: clientGone?.signal,
    });
    // Kept a few seconds, and never past the token's own end.
    const until = Math.min(this.now() + (this.options.localTtlMs ?? 5_000), expiresAt ?? Number.POSITIVE_INFINITY);
    this.local.set(account.id, { token: accessToken, until, tokenVersion });
    this.remember(account.id, accessToken, tokenVersion);
    return accessToken;
  }

  /**
   * After an upstream 401 on `failedToken` (the token the request sent): forget it here and in the shared
   * cache, so the next call refreshes. The shared cache is invalidated at the version that token was served
   * with, so a late 401 on an old token keeps a newer one that was refreshed meanwhile.
   */
  async invalidate(account: UpstreamAccount, failedToken?: string): Promise<void> {
    const local = this.local.get(account.id);
    if (failedToken === undefined || local?.token === failedToken) this.local.delete(account.id);
    const failedVersion = failedToken === undefined ? undefined : this.served.get(account.id)?.get(failedToken);
    await this.manager.invalidate(tokenAccount(account), failedVersion);
  }

  /** Drops the token kept here for an account (its credentials were replaced or it was deleted). */
  forget(accountId: string): void {
    this.local.delete(accountId);
  }

  private remember(accountId: string, accessToken: string, tokenVersion: number): void {
    let versions = this.served.get(accountId);
    if (versions === undefined) this.served.set(accountId, (versions = new Map<string, number>()));
    versions.delete(accessToken);
    versions.set(accessToken, tokenVersion);
    if (versions.size > SERVED_VERSIONS_KEPT) versions.delete(versions.keys().next().value!);
  }
}

const SERVED_VERSIONS_KEPT = 4;

function credentialsVersion(account: UpstreamAccount): number {
  const version = (account.credentials as { tokenVersion?: unknown }).tokenVersion;
  return typeof version === "number" ? version : 0;
}

export function tokenAccount(account: UpstreamAccount): TokenAccount {
  return { id: account.id, platform: account.platform, credentials: account.credentials as OAuthCredentials };
}
