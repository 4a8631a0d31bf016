export { ConfigError, loadConfig, parseDuration, type GatewayConfig, type PlatformEndpoints } from "./config";
export { dataDirSecret, generateAdminToken } from "./data-dir-secrets";
export { connectRedis, createProviders, openDatabase, secretKeyOf, tokenCacheKey } from "./runtime";
