import type { Logger } from "@subrelay/token-cache";

/** Rejects when `promise` takes longer than `ms`; Redis calls on the request path are bounded by it. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Logs a degraded-mode warning at most once per interval per message, with a count of the ones held back. */
export type WarnLimiter = (message: string, error: unknown) => void;

export function createWarnLimiter(logger: Logger, intervalMs = 10_000, now: () => number = Date.now): WarnLimiter {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (message, error) => {
    const entry = last.get(message);
    const time = now();
    if (entry && time - entry.at < intervalMs) {
      entry.suppressed += 1;
      return;
    }
    last.set(message, { at: time, suppressed: 0 });
    logger.warn({ suppressed: entry?.suppressed ?? 0, error: describeError(error) }, message);
  };
}

/** An error's class and message only: never its payload, which may carry request data. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
