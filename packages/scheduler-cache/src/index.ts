export type {
  AccountSnapshot,
  ScopedRateLimit,
  RevalidatingSchedulerCache,
  SchedulerBucket,
  SchedulerCache,
  SchedulerMode,
  SchedulerSnapshot,
  SnapshotStamp,
  SnapshotTicket,
} from "./types";
export { formatBucket, parseBucket } from "./bucket";
export { CachedSchedulerReader, type CachedSchedulerReaderOptions } from "./cached-scheduler-reader";
export { MemorySchedulerCache, type MemorySchedulerCacheOptions } from "./memory-scheduler-cache";
export { SchedulerCacheError, type SchedulerCacheErrorCode, type SchedulerCacheErrorOptions } from "./scheduler-cache-error";
