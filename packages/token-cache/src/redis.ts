// The Redis implementation, on its own entry so that the main entry's types never mention ioredis.
export { RedisTokenStore, type RedisTokenStoreOptions } from "./redis-token-store";
