export { ConfigError, loadConfig, loadConfigOrExit, parseDuration, type GatewayConfig, type PlatformEndpoints } from "./config";
export { connectRedis, openDatabase, redisStores, secretKeyOf, StartupError, tokenCacheKey, waitForRedis } from "./connections";
export { createProviders } from "./create-providers";
export { dataDirSecret, generateAdminToken } from "./data-dir-secrets";
export { describeError, serializeError } from "./describe-error";
export { createLogger, type Logger } from "./logger";
export { createWarnLimiter, type WarnLimiter } from "./warn-limiter";
export { withTimeout } from "./with-timeout";
export { DataDirLockedError, lockDataDir, prepareDataDir } from "./data-dir";
