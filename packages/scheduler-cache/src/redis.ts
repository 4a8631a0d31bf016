// The Redis implementation, on its own entry so that the main entry's types never mention ioredis.
export { RedisSchedulerCache, type RedisSchedulerCacheOptions } from "./redis-scheduler-cache";
