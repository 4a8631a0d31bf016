import { randomBytes } from "node:crypto";
import { createDatabase, generateSecretKey, type Database } from "@subrelay/db";
import type { FakeUpstream, RecordedRequest } from "@subrelay/providers-core/testing";
import type { Logger } from "@subrelay/token-cache";
import { loadConfig, type GatewayConfig } from "@subrelay/runtime";

/** Claude's token path on the fake upstream. */
export const tokenPath = "/v1/oauth/token";

/** A worker configuration whose Claude token endpoint is the fake upstream. */
export function testConfig(upstreamUrl: string, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return { ...loadConfig({ SUBRELAY_CLAUDE_TOKEN_URL: `${upstreamUrl}${tokenPath}`, LOG_LEVEL: "silent" }), ...overrides };
}

/** The refresh token a recorded token request carried. */
export function refreshTokenOf(request: RecordedRequest): string {
  return request.json<{ refresh_token: string }>().refresh_token;
}

/** Answers every refresh: access token `at:<refresh token>`, refresh token rotated to `<refresh token>+`, 1 h. */
export function serveTokens(upstream: FakeUpstream, delayMs = 0): void {
  upstream.on("POST", tokenPath, (request) => {
    const refreshToken = refreshTokenOf(request);
    return { delayMs, json: { access_token: `at:${refreshToken}`, refresh_token: `${refreshToken}+`, expires_in: 3600 } };
  });
}

/** A logger that drops everything (tests assert on state, not on log lines). */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** In-memory PGlite, migrated. */
export async function memoryDatabase(): Promise<Database> {
  const database = await createDatabase({ secretKey: generateSecretKey() });
  await database.migrate();
  return database;
}

/** A migrated database of its own on the DATABASE_URL server; `dispose` closes and drops it. */
export async function postgresDatabase(): Promise<{ database: Database; dispose: () => Promise<void> }> {
  const target = await freshPostgres();
  const database = await createDatabase({ url: target.url, secretKey: target.secretKey, poolSize: 4 });
  await database.migrate();
  const dispose = async () => {
    await database.close();
    await target.drop();
  };
  return { database, dispose };
}

/** Empties every table a worker test writes, so one migrated database serves a whole test file. */
export async function truncateAll(database: Database): Promise<void> {
  await database.db.execute("truncate account_groups, accounts, groups, scheduler_outbox restart identity cascade");
}

/** A fresh database on the DATABASE_URL server (dropped by `drop`), for tests that share it across processes. */
export async function freshPostgres(): Promise<{ url: string; secretKey: string; drop(): Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error("DATABASE_URL is not set: run through `node scripts/test-env.mjs -- ...`");
  const name = `worker_${randomBytes(6).toString("hex")}`;
  const secretKey = generateSecretKey();
  const admin = await createDatabase({ url: serverUrl, secretKey, poolSize: 1 });
  try {
    await admin.db.execute(`create database ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    secretKey,
    async drop() {
      const dropper = await createDatabase({ url: serverUrl, secretKey, poolSize: 1 });
      try {
        await dropper.db.execute(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.close();
      }
    },
  };
}

/** A promise with its resolve function, for waiting on events without sleeping. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}
