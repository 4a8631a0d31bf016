import { startWorker } from "@subrelay/worker";
import type { Gateway } from "./gateway";

/**
 * The refresh worker's loops inside the gateway process, for the embedded default (no Redis: one process,
 * so the outbox lease is in-process and the token lock is the TokenManager's in-process mutex). Proactive
 * refresh, the outbox consumer (into the gateway's in-memory scheduler cache) and the state janitor run
 * exactly as in a separate worker. Resolves to a stop function that finishes the batch in flight.
 */
export async function embeddedWorker(gateway: Gateway): Promise<() => Promise<void>> {
  const worker = await startWorker({
    database: gateway.database,
    tokens: gateway.tokens,
    scheduler: gateway.scheduler,
    redis: null,
    config: gateway.config,
    logger: gateway.app.log,
  });
  gateway.metrics.included.push(worker.metrics.registry);
  return () => worker.stop();
}
