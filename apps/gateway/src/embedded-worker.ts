import type { Gateway } from "./gateway";

/**
 * The refresh worker's loops inside the gateway process, for the embedded default (no Redis: one
 * process, so no cross-process locks are needed). Filled in by the refresh worker (issue 7).
 */
export async function embeddedWorker(_gateway: Gateway): Promise<() => Promise<void>> {
  return async () => undefined;
}
