import type { AccountType, Operation, Provider, ProviderRegistry } from "./provider";

/** A ProviderRegistry over `providers`; two providers of one platform are a configuration error. */
export function createProviderRegistry(providers: Iterable<Provider>): ProviderRegistry {
  const byPlatform = new Map<string, Provider>();
  for (const provider of providers) {
    if (byPlatform.has(provider.platform)) throw new Error(`Two providers for the platform "${provider.platform}".`);
    byPlatform.set(provider.platform, provider);
  }
  const all = [...byPlatform.values()];
  return {
    get: (platform) => byPlatform.get(platform),
    all: () => all,
    supports: (platform: string, operation: Operation, type: AccountType) =>
      byPlatform.get(platform)?.supports(operation, type) ?? false,
  };
}
