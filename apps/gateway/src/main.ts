import { loadConfigOrExit, StartupError } from "@subrelay/runtime";
import { createGateway } from "./gateway";
import { embeddedWorker } from "./embedded-worker";

/** `node dist/main.js`: starts the gateway from the environment. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const gateway = await createGateway(config, { onStart: config.redisUrl || config.redisClusterNodes ? undefined : embeddedWorker });
  // Before the listening line: a supervisor (or test) may send SIGTERM as soon as it reads it, and a signal that
  // arrives before a handler is installed kills the process without a graceful shutdown.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.app.log.info({ signal }, "shutting down: finishing in-flight requests");
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        gateway.app.log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  const address = await gateway.listen();
  const storage = config.databaseUrl ? "Postgres" : `embedded PGlite in ${config.dataDir}`;
  const caches = gateway.redis ? "Redis" : "in-memory caches, refresh worker in this process";
  process.stdout.write(`subrelay gateway listening on ${address} (${storage}; ${caches})\n`);
  if (gateway.adminTokenCreated) {
    process.stdout.write(
      `\nAdmin token (shown once; kept in ${config.dataDir}/admin-token):\n  ${gateway.adminToken}\n\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`subrelay gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof StartupError ? error.exitCode : 1);
});
