import { ensurePortFree, listenError, loadConfigOrExit, StartupError } from "@subrelay/runtime";
import { createGateway } from "./gateway";
import { embeddedWorker } from "./embedded-worker";

/** `node dist/main.js`: starts the gateway from the environment. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  // Before the data directory, the database or the embedded worker: a port in use fails the start first.
  await ensurePortFree(config.host, config.port, "PORT");
  if (config.adminPort) await ensurePortFree(config.adminHost ?? "127.0.0.1", config.adminPort, "ADMIN_PORT");
  const gateway = await createGateway(config, { onStart: config.redisUrl || config.redisClusterNodes ? undefined : embeddedWorker });
  let address: string;
  try {
    address = await gateway.listen();
  } catch (error) {
    await gateway.close().catch(() => undefined);
    throw listenError(error, config.host, config.port, "PORT");
  }
  // Before the address is printed: whoever waits for it may signal at once (a supervisor, a test).
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
  const storage = config.databaseUrl ? "Postgres" : `embedded PGlite in ${config.dataDir}`;
  const caches = gateway.redis ? "Redis" : "in-memory caches, refresh worker in this process";
  // The admin address before the listening line: whoever waits for that one finds it already written.
  if (gateway.adminApp) {
    const admin = gateway.adminApp.server.address();
    const where = typeof admin === "object" && admin ? `${admin.address.includes(":") ? `[${admin.address}]` : admin.address}:${admin.port}` : String(admin);
    process.stdout.write(`admin API and /metrics on http://${where} (ADMIN_PORT; not on ${address})\n`);
  }
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
