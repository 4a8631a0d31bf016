export type {
  AccessToken,
  AccountStore,
  CredentialsExpectation,
  Logger,
  OAuthCredentials,
  RefreshLockResult,
  TokenAccount,
  TokenRefresher,
} from "./types";
export { expectationOf, matchesExpectation } from "./credentials-expectation";
export { TokenRefreshError, type TokenRefreshErrorCode, type TokenRefreshErrorOptions } from "./token-refresh-error";
export { TokenManager, type GetTokenOptions, type RefreshResult, type TokenManagerOptions } from "./token-manager";
export type { RefreshOutcome, TokenMetrics } from "./token-metrics";
export type { CachedToken, SetTokenResult, TokenLookup, TokenStore, WaitForRefreshResult } from "./token-store";
export { TokenStoreError, type TokenStoreErrorCode } from "./token-store-error";
export { MemoryTokenStore, type MemoryTokenStoreOptions } from "./memory-token-store";
export { TokenKeys } from "./token-keys";
