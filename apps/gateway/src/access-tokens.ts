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
  private readonly local = new Map<string, { token: string; until: number }>();
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
    if (cached && cached.until > this.now()) return cached.token;
    const { accessToken, expiresAt } = await this.manager.getToken(tokenAccount(account), { signal: clientGone?.signal });
    // Kept a few seconds, and never past the token's own end.
    const until = Math.min(this.now() + (this.options.localTtlMs ?? 5_000), expiresAt ?? Number.POSITIVE_INFINITY);
    this.local.set(account.id, { token: accessToken, until });
    return accessToken;
  }

  /** After an upstream 401: forget the token here and in the shared cache, so the next call refreshes. */
  async invalidate(account: UpstreamAccount): Promise<void> {
    this.local.delete(account.id);
    await this.manager.invalidate(tokenAccount(account));
  }
}

export function tokenAccount(account: UpstreamAccount): TokenAccount {
  return { id: account.id, platform: account.platform, credentials: account.credentials as OAuthCredentials };
}
