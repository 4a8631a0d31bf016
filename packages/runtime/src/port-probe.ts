import { createServer } from "node:net";
import { StartupError } from "./startup-error";

/**
 * Fails the start early when `host:port` cannot be listened on (in use, or an address this machine does not
 * have): binds it for a moment and lets it go, so a start that would fail at `listen` does so before it creates
 * the data directory, migrates or starts workers. StartupError, exit 2, naming host:port and `variable`.
 * Port 0 (any free port) is not probed. Another process may still take the port in between: callers keep
 * handling `listen`'s own error (see `listenError`).
 */
export async function ensurePortFree(host: string, port: number, variable: string): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host, exclusive: true }, () => resolve());
    });
  } catch (error) {
    throw listenError(error, host, port, variable);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `listen`'s error as the StartupError ensurePortFree throws (EADDRINUSE, EADDRNOTAVAIL, EACCES); others as they are. */
export function listenError(error: unknown, host: string, port: number, variable: string): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: `${address} is in use (EADDRINUSE): another process listens there; stop it or set ${variable} to another port`,
    EADDRNOTAVAIL: `${address} cannot be listened on (EADDRNOTAVAIL): this machine has no such address; check HOST`,
    EACCES: `${address} cannot be listened on (EACCES): ports below 1024 need privileges; set ${variable} to 1024 or above`,
  };
  const reason = code === undefined ? undefined : reasons[code];
  if (reason !== undefined) return new StartupError(reason, { cause: error, exitCode: 2 });
  return error instanceof Error ? error : new Error(String(error));
}
