import { Counter, Gauge, Histogram, Registry } from "prom-client";

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The gateway's Prometheus metrics, on a registry of its own (several gateways can share a process in tests). */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** Registries rendered beside the gateway's own (the embedded refresh worker's). */
  readonly included: Registry[] = [];

  /** Prometheus text of the gateway's metrics and every included registry. */
  async render(): Promise<string> {
    const texts = await Promise.all([this.registry, ...this.included].map((registry) => registry.metrics()));
    return texts.join("\n");
  }
  readonly requests = new Counter({
    name: "subrelay_requests_total",
    help: "Client requests by route, status and platform.",
    labelNames: ["route", "status", "platform"] as const,
    registers: [this.registry],
  });
  readonly upstreamLatency = new Histogram({
    name: "subrelay_upstream_latency_seconds",
    help: "Time from sending an upstream request to its response headers.",
    labelNames: ["platform", "outcome"] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly timeToFirstByte = new Histogram({
    name: "subrelay_upstream_time_to_first_byte_seconds",
    help: "Time from sending an upstream request to the first body byte of a successful answer.",
    labelNames: ["platform"] as const,
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly failovers = new Counter({
    name: "subrelay_failovers_total",
    help: "Switches to another account after an upstream refusal, by reason.",
    labelNames: ["platform", "reason"] as const,
    registers: [this.registry],
  });
  readonly tokenRefreshes = new Counter({
    name: "subrelay_token_refreshes_total",
    help: "OAuth refreshes run by this process, by platform and outcome.",
    labelNames: ["platform", "outcome"] as const,
    registers: [this.registry],
  });
  readonly tokenCache = new Counter({
    name: "subrelay_token_cache_lookups_total",
    help: "Shared token cache lookups by platform and result.",
    labelNames: ["platform", "result"] as const,
    registers: [this.registry],
  });
  readonly snapshotCache = new Counter({
    name: "subrelay_scheduler_snapshot_lookups_total",
    help: "Scheduler snapshot lookups by result.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly redisCommands = new Counter({
    name: "subrelay_redis_commands_total",
    help: "Commands this process sent to Redis (each its own round trip unless pipelined).",
    registers: [this.registry],
  });
  readonly usageDropped = new Counter({
    name: "subrelay_usage_rows_dropped_total",
    help: "Usage rows dropped because the queue was full while the database was unreachable.",
    registers: [this.registry],
  });
  readonly unpricedRequests = new Counter({
    name: "subrelay_unpriced_requests_total",
    help: "Requests with usage but no price for their model (costed at 0), by model: at most 50 names, then \"other\".",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  readonly usagePending = new Gauge({
    name: "subrelay_usage_rows_pending",
    help: "Usage rows waiting to be written.",
    registers: [this.registry],
  });
  readonly accountsByState = new Gauge({
    name: "subrelay_accounts",
    help: "Accounts by platform and state (active, rate_limited, cooling_down, overloaded, error, disabled).",
    labelNames: ["platform", "state"] as const,
    registers: [this.registry],
  });
}
