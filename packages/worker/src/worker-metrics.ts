import { Counter, Gauge, Registry } from "prom-client";

/** How the proactive refresher's handling of one account ended. */
export type RefreshPassOutcome =
  /** The token endpoint issued new credentials (here or in another replica whose result we read). */
  | "refreshed"
  /** Nothing to do: a token valid past the window was already cached or stored. */
  | "fresh"
  /** A transient failure that will be retried after a backoff. */
  | "retried"
  /** Transient failures used up every try: the account cools down. */
  | "cooled_down"
  /** The platform refused for good: the account is now in status `error`. */
  | "permanent_failure"
  /** The stored credentials could not be decrypted (wrong SUBRELAY_SECRET_KEY?); skipped. */
  | "undecryptable";

/** The refresh worker's Prometheus metrics, on a registry of its own (several workers can share a process in tests). */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly refreshes = new Counter({
    name: "subrelay_worker_refreshes_total",
    help: "Accounts handled by the proactive refresher, by platform and outcome.",
    labelNames: ["platform", "outcome"] as const,
    registers: [this.registry],
  });
  readonly refreshAttempts = new Counter({
    name: "subrelay_worker_token_refresh_attempts_total",
    help: "Calls to a token endpoint made by this process (TokenManager), by platform and outcome.",
    labelNames: ["platform", "outcome"] as const,
    registers: [this.registry],
  });
  readonly refreshPasses = new Counter({
    name: "subrelay_worker_refresh_passes_total",
    help: "Completed proactive refresh passes.",
    registers: [this.registry],
  });
  readonly outboxLagSeconds = new Gauge({
    name: "subrelay_worker_outbox_lag_seconds",
    help: "Age of the oldest unprocessed scheduler_outbox row when last read (0 when caught up).",
    registers: [this.registry],
  });
  readonly outboxRowsBehind = new Gauge({
    name: "subrelay_worker_outbox_rows_behind",
    help: "Outbox rows past the watermark after the last batch (an upper bound: ids may have gaps).",
    registers: [this.registry],
  });
  readonly outboxRowsProcessed = new Counter({
    name: "subrelay_worker_outbox_rows_processed_total",
    help: "scheduler_outbox rows consumed by this process.",
    registers: [this.registry],
  });
  readonly outboxBatches = new Counter({
    name: "subrelay_worker_outbox_batches_total",
    help: "Non-empty outbox batches processed by this process.",
    registers: [this.registry],
  });
  readonly leaseHeld = new Gauge({
    name: "subrelay_worker_outbox_lease_held",
    help: "1 while this process holds the outbox consumer lease.",
    registers: [this.registry],
  });
  readonly bucketRebuilds = new Counter({
    name: "subrelay_worker_bucket_rebuilds_total",
    help: "Scheduler bucket snapshots rebuilt, by reason (outbox batch or full rebuild).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly accountPushes = new Counter({
    name: "subrelay_worker_account_pushes_total",
    help: "Single-account snapshots pushed (setAccount) or removed (deleteAccount).",
    registers: [this.registry],
  });
  readonly statesCleared = new Counter({
    name: "subrelay_worker_states_cleared_total",
    help: "Accounts whose ended rate limit / cool-down / overload the janitor cleared in the database.",
    registers: [this.registry],
  });
  readonly loopErrors = new Counter({
    name: "subrelay_worker_loop_errors_total",
    help: "Failed runs of a worker loop (it retries on its next tick), by loop.",
    labelNames: ["loop"] as const,
    registers: [this.registry],
  });
}
