import { hkdfSync } from "node:crypto";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { createDatabase, generateSecretKey, parseSecretKey, type Database } from "@subrelay/db";
import { RedisSchedulerCache } from "@subrelay/scheduler-cache/redis";
import type { Logger } from "@subrelay/token-cache";
import { RedisTokenStore } from "@subrelay/token-cache/redis";
import type { GatewayConfig } from "./config";
import { dataDirSecret } from "./data-dir-secrets";

/**
 * Connects to Redis (or a Redis Cluster) so commands fail fast while it is down instead of queueing:
 * callers degrade (no shared cache, no cross-process lock) rather than hang.
 */
export function connectRedis(config: Pick<GatewayConfig, "redisUrl" | "redisClusterNodes">): Redis | Cluster | null {
  const options = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 } as const;
  if (config.redisClusterNodes && config.redisClusterNodes.length > 0) {
    const nodes = config.redisClusterNodes.map((node) => {
      const [host, port] = node.split(":");
      return { host: host!, port: Number(port) };
    });
    return new Cluster(nodes, { enableOfflineQueue: false, redisOptions: options });
  }
  if (config.redisUrl) return new Redis(config.redisUrl, options);
  return null;
}

/** Opens and migrates the database the configuration names: Postgres, or embedded PGlite in the data directory. */
export async function openDatabase(
  config: Pick<GatewayConfig, "databaseUrl" | "dataDir" | "secretKey">,
  logger?: Logger,
): Promise<Database> {
  const secretKey = secretKeyOf(config);
  const database = await createDatabase({
    url: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : join(config.dataDir, "pglite"),
    secretKey,
    logger,
  });
  await database.migrate();
  return database;
}

/** The secret key in force: configured, or (embedded mode) generated once and kept in the data directory. */
export function secretKeyOf(config: Pick<GatewayConfig, "dataDir" | "secretKey">): string {
  return config.secretKey ?? dataDirSecret(config.dataDir, "secret-key", generateSecretKey).value;
}

/**
 * The key that encrypts access tokens cached in Redis, derived from the credentials key (HKDF-SHA256) so
 * one secret covers both and a Redis dump reveals no usable token.
 */
export function tokenCacheKey(secretKey: string): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", parseSecretKey(secretKey), new Uint8Array(0), "subrelay token cache v1", 32));
}

/**
 * The Redis-backed stores every gateway and worker replica shares, under the configured prefix: the token
 * cache (`<prefix>token:`, access tokens encrypted) and the scheduler cache (`<prefix>sched:`).
 */
export function redisStores(
  redis: Redis | Cluster,
  config: Pick<GatewayConfig, "redisPrefix" | "dataDir" | "secretKey">,
): { tokenStore: RedisTokenStore; scheduler: RedisSchedulerCache } {
  return {
    tokenStore: new RedisTokenStore(redis, {
      prefix: `${config.redisPrefix}token:`,
      encryptionKey: tokenCacheKey(secretKeyOf(config)),
    }),
    scheduler: new RedisSchedulerCache(redis, { prefix: config.redisPrefix }),
  };
}
