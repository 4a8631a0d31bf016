import type { UpstreamAccount } from "@subrelay/providers-core";
import { TokenRefreshError, type OAuthCredentials, type TokenAccount, type TokenManager } from "@subrelay/token-cache";
import type { Cancellation } from "./cancellation";

export interface AccessTokensOptions {
  /**
   * How long this process reuses a token without asking the shared cache, ms. Default 5 s. A refresh
   * elsewhere is seen within this; the token it replaced stays valid until its own expiry, and a 401
   * drops it at once.
   */
  localTtlMs?: number;
  /**
   * How many tokens in a row, each refreshed because the upstream refused (401) the one before, the upstream
   * may refuse too before {@link AccessTokens.recordRefusal} says the account needs an operator. Default 2.
   */
  refusedRefreshesLimit?: number;
  /**
   * After `recordRefusal` said so, how long `get` refuses to refresh the account again (it rejects at once),
   * ms. Default 60 s. Requests that pick the account before its marked state reaches them spend no refresh
   * token; past this (an operator reset the account on another replica), one refresh is tried again.
   */
  refusedHoldMs?: number;
  now?: () => number;
}

/** A token served here: its `tokenVersion`, and whether it was refreshed because a 401 refused an older one. */
interface ServedToken {
  tokenVersion: number;
  afterRefusal: boolean;
}

/**
 * Access tokens for OAuth accounts: TokenManager (shared cache, refresh coordination) behind a few
 * seconds of in-process memory, which keeps the shared cache off the hot path of a busy account.
 *
 * After a 401, the requests that were refused the same token ask for a token newer than it: one refresh
 * for all of them (TokenManager's `newerThan`), and none at all for those that ask once it is done.
 */
export class AccessTokens {
  /** Per account, the token reused here, until when, and the `tokenVersion` it was served with. */
  private readonly local = new Map<string, { token: string; until: number; tokenVersion: number }>();
  /** Per account, the last few tokens served here, so a 401 names the version it was for. */
  private readonly served = new Map<string, Map<string, ServedToken>>();
  /** Per account, the newest version refused (401) that no token newer than it has replaced here yet. */
  private readonly refused = new Map<string, number>();
  /** Per account, the newest refused version and how many refused tokens in a row were refreshed after a 401. */
  private readonly refusalStreaks = new Map<string, { tokenVersion: number; count: number }>();
  /** Per account, when `recordRefusal` last said it needs an operator. */
  private readonly gaveUpAt = new Map<string, number>();
  private readonly now: () => number;
  private readonly refusedRefreshesLimit: number;

  constructor(
    private readonly manager: Pick<TokenManager, "getToken" | "invalidate">,
    private readonly options: AccessTokensOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.refusedRefreshesLimit = options.refusedRefreshesLimit ?? 2;
  }

  /** `clientGone` stops a wait for a refresh when the client leaves (its AbortSignal is made only then). */
  async get(account: UpstreamAccount, clientGone?: Cancellation): Promise<string> {
    const cached = this.local.get(account.id);
    const refused = this.refused.get(account.id);
    // Credentials newer than the token kept here (an operator replaced them) skip it: the shared cache
    // was invalidated below their version, so it hands out the new token.
    if (
      cached &&
      cached.until > this.now() &&
      credentialsVersion(account) <= cached.tokenVersion &&
      (refused === undefined || cached.tokenVersion > refused)
    ) {
      return cached.token;
    }
    if (refused !== undefined) this.holdRefreshes(account.id);
    const { accessToken, expiresAt, tokenVersion } = await this.manager.getToken(tokenAccount(account), {
      signal: clientGone?.signal,
      ...(refused === undefined ? {} : { newerThan: refused }),
    });
    this.remember(account.id, accessToken, { tokenVersion, afterRefusal: refused !== undefined });
    // A call that began before a 401 may bring back the refused token: its caller gets it, but it is not
    // kept for others, and neither is a token older than the one kept.
    const refusedNow = this.refused.get(account.id);
    const kept = this.local.get(account.id);
    if ((refusedNow === undefined || tokenVersion > refusedNow) && !(kept !== undefined && kept.tokenVersion > tokenVersion)) {
      // Kept a few seconds, and never past the token's own end.
      const until = Math.min(this.now() + (this.options.localTtlMs ?? 5_000), expiresAt ?? Number.POSITIVE_INFINITY);
      this.local.set(account.id, { token: accessToken, until, tokenVersion });
      if (refusedNow !== undefined) this.refused.delete(account.id);
    }
    return accessToken;
  }

  /**
   * Counts an upstream 401 on `failedToken` (the token the request sent) and stops serving it here: the
   * next `get` asks for a token newer than it. Returns true when the upstream has now refused
   * `refusedRefreshesLimit` tokens in a row that were each refreshed after a 401 on the one before: another
   * refresh would not help, the account needs an operator. Concurrent 401s on one token count once. In
   * memory only (no I/O): call it on every 401, and {@link invalidate} before retrying.
   */
  recordRefusal(account: UpstreamAccount, failedToken: string | undefined): boolean {
    const servedAs = failedToken === undefined ? undefined : this.served.get(account.id)?.get(failedToken);
    if (servedAs === undefined) return false;
    this.stopServing(account.id, servedAs.tokenVersion);
    const streak = this.refusalStreaks.get(account.id) ?? { tokenVersion: -1, count: 0 };
    if (servedAs.tokenVersion > streak.tokenVersion) {
      streak.count = servedAs.afterRefusal ? streak.count + 1 : 0;
      streak.tokenVersion = servedAs.tokenVersion;
      this.refusalStreaks.set(account.id, streak);
    }
    const gaveUp = servedAs.afterRefusal && streak.count >= this.refusedRefreshesLimit;
    if (gaveUp && !this.gaveUpAt.has(account.id)) this.gaveUpAt.set(account.id, this.now());
    return gaveUp;
  }

  /** The upstream accepted the account's token: a streak of refused refreshed tokens ends. */
  accepted(account: UpstreamAccount): void {
    this.refusalStreaks.delete(account.id);
    this.gaveUpAt.delete(account.id);
  }

  /**
   * After an upstream 401 on `failedToken` (the token the request sent): forget it here and in the shared
   * cache, so the next call gets a newer one. The shared cache is invalidated at the version that token was
   * served with, so a late 401 on an old token keeps a newer one that was refreshed meanwhile.
   */
  async invalidate(account: UpstreamAccount, failedToken?: string): Promise<void> {
    const local = this.local.get(account.id);
    if (failedToken === undefined || local?.token === failedToken) this.local.delete(account.id);
    const failedVersion = failedToken === undefined ? undefined : this.served.get(account.id)?.get(failedToken)?.tokenVersion;
    if (failedVersion !== undefined) this.stopServing(account.id, failedVersion);
    await this.manager.invalidate(tokenAccount(account), failedVersion);
  }

  /** Drops what is kept here for an account (its credentials were replaced or it was deleted). */
  forget(accountId: string): void {
    this.local.delete(accountId);
    this.refused.delete(accountId);
    this.refusalStreaks.delete(accountId);
    this.gaveUpAt.delete(accountId);
    this.served.delete(accountId);
  }

  /** Rejects a refresh of an account given up on a moment ago; past `refusedHoldMs`, lets one through. */
  private holdRefreshes(accountId: string): void {
    const gaveUpAt = this.gaveUpAt.get(accountId);
    if (gaveUpAt === undefined) return;
    if (this.now() - gaveUpAt < (this.options.refusedHoldMs ?? 60_000)) {
      throw new TokenRefreshError("the upstream keeps refusing this account's refreshed tokens", {
        code: "no_valid_token",
        permanent: false,
      });
    }
    this.gaveUpAt.delete(accountId);
  }

  private stopServing(accountId: string, refusedVersion: number): void {
    const local = this.local.get(accountId);
    if (local !== undefined && local.tokenVersion <= refusedVersion) this.local.delete(accountId);
    // A token newer than the refused one is kept already: nothing to ask past.
    if (local !== undefined && local.tokenVersion > refusedVersion) return;
    this.refused.set(accountId, Math.max(this.refused.get(accountId) ?? -1, refusedVersion));
  }

  private remember(accountId: string, accessToken: string, token: ServedToken): void {
    let versions = this.served.get(accountId);
    if (versions === undefined) this.served.set(accountId, (versions = new Map<string, ServedToken>()));
    const known = versions.get(accessToken);
    versions.delete(accessToken);
    // The same token served again (from the cache) keeps what it was refreshed for.
    versions.set(accessToken, known?.tokenVersion === token.tokenVersion ? known : token);
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
