export {
  ConfigError,
  DEFAULT_COOLDOWN_MAX_MS,
  loadConfig,
  loadConfigOrExit,
  parseDuration,
  type CooldownSettings,
  type GatewayConfig,
  type PlatformEndpoints,
} from "./config";
export { connectRedis, openDatabase, redisStores, secretKeyOf, tokenCacheKey, waitForRedis } from "./connections";
export { createProviders } from "./create-providers";
export { dataDirSecret, generateAdminToken } from "./data-dir-secrets";
export { describeError, serializeError } from "./describe-error";
export { createLogger, logOptions, type Logger } from "./logger";
export { createWarnLimiter, type WarnLimiter } from "./warn-limiter";
export { withTimeout } from "./with-timeout";
export { DataDirLockedError, lockDataDir, prepareDataDir } from "./data-dir";
export { StartupError } from "./startup-error";
export { ensurePortFree, listenError } from "./port-probe";
