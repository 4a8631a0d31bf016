export { startWorker, type WorkerHandle, type WorkerOptions } from "./worker";
export { WorkerMetrics, type RefreshPassOutcome } from "./worker-metrics";
export {
  ProactiveRefresher,
  type ProactiveRefresherOptions,
  type RefreshAccountStore,
  type RefreshPassSummary,
  type RefreshTokens,
} from "./proactive-refresher";
export {
  OutboxConsumer,
  type OutboxAccountSource,
  type OutboxBatchResult,
  type OutboxConsumerOptions,
  type OutboxScheduler,
  type OutboxSource,
} from "./outbox-consumer";
export { StateJanitor, type JanitorAccountStore, type StateJanitorOptions } from "./state-janitor";
export type { OutboxLease } from "./outbox-lease";
export { MemoryOutboxLease } from "./memory-outbox-lease";
export { RedisOutboxLease, type RedisOutboxLeaseOptions } from "./redis-outbox-lease";
export { refreshCooldownReasonPrefix } from "./refresh-cooldown-reason";
export { backoffDelay, type BackoffOptions } from "./backoff-delay";
export { abortableSleep, type Sleep } from "./abortable-sleep";
