/**
 * Every Redis key the refresh worker itself owns (the token and scheduler caches have their own key
 * builders under `<prefix>token:` and `<prefix>sched:`). Keys live under `<prefix>worker:`; the `{outbox}`
 * hash tag keeps what one script touches in one Redis Cluster slot.
 */
export class WorkerKeys {
  /** String: the owner token of the replica currently consuming the scheduler outbox. */
  readonly outboxLease: string;

  /** `prefix` is the deployment's `REDIS_PREFIX`, e.g. `"subrelay:"`. */
  constructor(prefix = "subrelay:") {
    this.outboxLease = `${prefix}worker:{outbox}:lease`;
  }
}
