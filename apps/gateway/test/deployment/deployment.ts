import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeUpstream } from "@subrelay/providers-core/testing";
import { ADMIN_TOKEN, createTestDatabase, paths, seedThrough, type SeedOptions, type Seeded } from "../harness";
import { ServiceProcess, type ServiceKind } from "./service-process";

export interface DeploymentOptions {
  /** Gateway processes to start. */
  gateways: number;
  /** Refresh-worker processes to start. Default 0. */
  workers?: number;
  /** Plays every platform's API and token endpoint (the harness paths). */
  upstream: FakeUpstream;
  /**
   * A database of the deployment's own (e.g. a private cluster a fault test stops), used as it is.
   * Default: a fresh database on the DATABASE_URL server, dropped by `close()`.
   */
  databaseUrl?: string;
  /** Redis URL. Default REDIS_URL. Every process of the deployment shares one fresh REDIS_PREFIX. */
  redisUrl?: string;
  /** Extra variables for every process (UPSTREAM_HEADERS_TIMEOUT, REFRESH_INTERVAL, ...). */
  env?: Record<string, string>;
}

/** N gateways and M refresh workers, each its own OS process, on one Postgres database and one Redis prefix. */
export interface Deployment {
  gateways: ServiceProcess[];
  workers: ServiceProcess[];
  /** The environment every process got (one config for both apps). */
  env: Record<string, string>;
  /** An admin API call through the first gateway (any gateway would do: they share the database). */
  admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Creates a group, its accounts and a key through the admin API. */
  seed(options: SeedOptions): Promise<Seeded>;
  /** SIGTERMs every process still running (SIGKILL after `graceMs`), drops the database. */
  close(graceMs?: number): Promise<void>;
}

/** Starts every process at once and resolves when all of them listen; on failure, kills what started. */
export async function startDeployment(options: DeploymentOptions): Promise<Deployment> {
  const database = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => undefined }
    : await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "subrelay-deployment-"));
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL;
  if (!redisUrl) throw new Error("REDIS_URL is not set: run through `node scripts/test-env.mjs -- ...`");
  const upstream = options.upstream.url;
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    // Port 0: the kernel picks a free port per process and each prints the one it got (no reuse race).
    PORT: "0",
    WORKER_PORT: "0",
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `deployment-${randomBytes(6).toString("hex")}:`,
    SUBRELAY_SECRET_KEY: randomBytes(32).toString("hex"),
    ADMIN_TOKEN,
    LOG_LEVEL: "error",
    SHUTDOWN_GRACE: "2s",
    SUBRELAY_CLAUDE_BASE_URL: upstream,
    SUBRELAY_CLAUDE_TOKEN_URL: `${upstream}${paths.claudeToken}`,
    SUBRELAY_OPENAI_BASE_URL: upstream,
    SUBRELAY_OPENAI_TOKEN_URL: `${upstream}${paths.openaiToken}`,
    SUBRELAY_GEMINI_BASE_URL: upstream,
    SUBRELAY_GEMINI_TOKEN_URL: `${upstream}${paths.geminiToken}`,
    // The fake upstream listens on loopback over plain http: accounts' own base URLs may point there.
    UPSTREAM_ALLOWLIST: "127.0.0.1",
    ...options.env,
  };

  const planned: Array<{ kind: ServiceKind; name: string }> = [
    ...Array.from({ length: options.gateways }, (_, index) => ({ kind: "gateway" as const, name: `gateway-${index + 1}` })),
    ...Array.from({ length: options.workers ?? 0 }, (_, index) => ({ kind: "worker" as const, name: `worker-${index + 1}` })),
  ];
  const started = await Promise.allSettled(planned.map(({ kind, name }) => ServiceProcess.start(kind, name, env)));
  const services = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = started.find((result) => result.status === "rejected");
  const cleanUp = async (graceMs: number) => {
    await Promise.all(services.map((service) => stopWithin(service, graceMs)));
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  if (failed) {
    await cleanUp(0);
    throw failed.reason;
  }

  const gateways = services.filter((service) => service.kind === "gateway");
  const workers = services.filter((service) => service.kind === "worker");
  const admin = <T,>(method: string, path: string, body?: unknown) => adminRequest<T>(gateways[0]!.url, method, path, body);
  let closed: Promise<void> | undefined;
  return {
    gateways,
    workers,
    env,
    admin,
    seed: (seed) => seedThrough(admin, seed, { defaultConcurrency: 1_000, keyName: "deployment" }),
    close: (graceMs = 5_000) => (closed ??= cleanUp(graceMs)),
  };
}

/** One admin API call with the deployment's admin token. */
export async function adminRequest<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
}


async function stopWithin(service: ServiceProcess, graceMs: number): Promise<void> {
  if (!service.running) return;
  if (graceMs <= 0) {
    service.kill();
    await service.exited;
    return;
  }
  const timer = setTimeout(() => service.kill(), graceMs);
  await service.stop();
  clearTimeout(timer);
}
