import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../../scripts/test-servers.mjs";
import { createTestDatabase } from "../harness";
import { PROCESS_ADMIN_TOKEN, runExpectingExit, runGateway, secretKey, workerArgs } from "./built-gateway";

const root = mkdtempSync(join(tmpdir(), "subrelay-start-failures-pg-"));
let database: { url: string; drop(): Promise<void> };
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
  rmSync(root, { recursive: true, force: true });
});

function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: run through `node scripts/test-env.mjs -- ...`");
  return url;
}

const key = secretKey();
const production = () => ({
  DATA_DIR: join(root, "data"),
  ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
  SUBRELAY_SECRET_KEY: key,
  DATABASE_URL: database.url,
  REDIS_URL: redisUrl(),
  REDIS_PREFIX: `start-failures-${process.pid}:`,
  WORKER_PORT: "0",
});

describe("start failures name what failed (built gateway, refresh worker)", () => {
  it("Postgres unreachable: both exit 1 naming Postgres and its host:port, never the password", async () => {
    const port = await freePort();
    const env = { ...production(), DATABASE_URL: `postgres://subrelay:pg-secret-pw@127.0.0.1:${port}/subrelay` };
    for (const options of [{}, { args: workerArgs }]) {
      const exit = await runExpectingExit(env, options);
      expect(exit.listened).toBe(false);
      expect(exit.output).toContain(`could not connect to Postgres (DATABASE_URL) at 127.0.0.1:${port}`);
      expect(exit.output).not.toContain("pg-secret-pw");
      expect(exit.code, exit.output).toBe(1);
    }
  });

  it("Redis unreachable: both exit 1 naming Redis and its host:port after REDIS_START_TIMEOUT, never the password", async () => {
    const port = await freePort();
    const env = { ...production(), REDIS_URL: `redis://:redis-secret-pw@127.0.0.1:${port}`, REDIS_START_TIMEOUT: "300ms" };
    for (const options of [{}, { args: workerArgs }]) {
      const exit = await runExpectingExit(env, options);
      expect(exit.listened).toBe(false);
      expect(exit.output).toContain(`could not connect to Redis (REDIS_URL) at 127.0.0.1:${port}`);
      expect(exit.output).not.toContain("redis-secret-pw");
      expect(exit.code, exit.output).toBe(1);
    }
  });

  it("the refresh worker starts without the spurious 'outbox lease check failed ... Stream isn't writeable' warning", async () => {
    const run = runGateway(production(), { args: workerArgs });
    try {
      await run.listening;
    } finally {
      await run.stop();
    }
    const exit = await run.exited;
    expect(exit.output).not.toContain("outbox lease check failed");
    expect(exit.output).not.toContain("Stream isn't writeable");
    expect(exit.code, exit.output).toBe(0);
  });

  it("the refresh worker's WORKER_PORT in use stops it with exit 2 naming host:port", async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const exit = await runExpectingExit({ ...production(), WORKER_PORT: String(port) }, { args: workerArgs });
      expect(exit.listened).toBe(false);
      expect(exit.output).toContain(`127.0.0.1:${port} is in use`);
      expect(exit.output).not.toContain("outbox lease");
      expect(exit.code, exit.output).toBe(2);
    } finally {
      server.close();
    }
  });
});
