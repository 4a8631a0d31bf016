import type { Logger } from "@subrelay/token-cache";
import type { GatewayConfig } from "./config";

export type { Logger } from "@subrelay/token-cache";

const levels = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

/**
 * JSON lines (pino's shape: level, time, pid, fields, msg), filtered by LOG_LEVEL. `write` defaults to
 * stdout; `now` to `Date.now`.
 */
export function createLogger(
  level: GatewayConfig["logLevel"],
  options: { write?: (line: string) => void; now?: () => number } = {},
): Logger {
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? Date.now;
  const threshold = level === "silent" ? Number.POSITIVE_INFINITY : levels.indexOf(level);
  const at = (name: (typeof levels)[number]) => (fields: Record<string, unknown>, message: string) => {
    if (levels.indexOf(name) < threshold) return;
    write(`${JSON.stringify({ level: name, time: now(), pid: process.pid, ...fields, msg: message })}\n`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
