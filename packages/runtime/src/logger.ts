import type { Logger } from "@subrelay/token-cache";
import type { GatewayConfig } from "./config";

export type { Logger } from "@subrelay/token-cache";

const levels = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

/**
 * The pino options (as Fastify's `logger` option takes them) that write the lines `createLogger` writes:
 * `{"level":"info","time":<epoch ms>,"pid":<pid>,...fields,"msg":...}` — the level by name, no hostname — so
 * the gateway (Fastify's pino) and the refresh worker log one format. Add redaction and serializers on top.
 */
export function logOptions(level: GatewayConfig["logLevel"]): {
  level: GatewayConfig["logLevel"];
  base: { pid: number };
  formatters: { level(label: string): { level: string } };
} {
  return { level, base: { pid: process.pid }, formatters: { level: (label) => ({ level: label }) } };
}

/**
 * JSON lines (pino's shape, as `logOptions` configures it: level, time, pid, fields, msg), filtered by LOG_LEVEL. `write` defaults to
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
