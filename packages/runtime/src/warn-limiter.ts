import type { Logger } from "@subrelay/token-cache";
import { describeError } from "./describe-error";

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
