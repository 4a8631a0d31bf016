import { createServer, type Server } from "node:http";
import type { WorkerMetrics } from "@subrelay/worker";

export interface WorkerServerOptions {
  metrics: WorkerMetrics;
  /** Dependency checks for `/readyz`; each true when reachable (`redis` null: not configured). Must not reject. */
  readiness: () => Promise<{ database: boolean; redis: boolean | null }>;
}

/**
 * The worker's HTTP surface (call `listen` yourself):
 * - `GET /healthz` 200 `{"status":"ok"}` while the process runs;
 * - `GET /readyz` 200 when Postgres and Redis answer a ping, else 503, body `{"status","database","redis"}`;
 * - `GET /metrics` Prometheus text of the worker's registry.
 * Anything else: 404. No secrets are exposed.
 */
export function createWorkerServer(options: WorkerServerOptions): Server {
  return createServer((request, response) => {
    const send = (status: number, body: string, contentType = "application/json") => {
      response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
      response.end(body);
    };
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(405, JSON.stringify({ error: "method not allowed" }));
      return;
    }
    if (path === "/healthz") {
      send(200, JSON.stringify({ status: "ok" }));
    } else if (path === "/readyz") {
      void options.readiness().then(
        (checks) => {
          const ready = checks.database && checks.redis !== false;
          send(ready ? 200 : 503, JSON.stringify({ status: ready ? "ready" : "not_ready", ...checks }));
        },
        () => send(503, JSON.stringify({ status: "not_ready" })),
      );
    } else if (path === "/metrics") {
      void options.metrics.registry.metrics().then(
        (text) => send(200, text, options.metrics.registry.contentType),
        () => send(500, JSON.stringify({ error: "metrics unavailable" })),
      );
    } else {
      send(404, JSON.stringify({ error: "not found" }));
    }
  });
}
