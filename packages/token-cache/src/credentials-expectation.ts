import type { CredentialsExpectation, OAuthCredentials } from "./types";

/** What a save of credentials refreshed from `credentials` must find still stored. */
export function expectationOf(credentials: OAuthCredentials): CredentialsExpectation {
  return { refreshToken: credentials.refreshToken, tokenVersion: credentials.tokenVersion ?? 0 };
}

/**
 * The compare of `AccountStore.saveCredentials`'s compare-and-set: the stored `credentials` still hold the
 * refresh token and token version `expected` names. Exported so every store compares the same way.
 */
export function matchesExpectation(credentials: OAuthCredentials, expected: CredentialsExpectation): boolean {
  return credentials.refreshToken === expected.refreshToken && (credentials.tokenVersion ?? 0) === expected.tokenVersion;
}
