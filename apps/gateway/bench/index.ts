// `pnpm bench` in apps/gateway: the gateway's added latency and throughput against calling the upstream
// directly, non-streaming and streaming, at concurrency 1, 16 and 64, on the embedded default and on
// Postgres + Redis (when DATABASE_URL and REDIS_URL are set: run it through scripts/test-env.mjs), plus the
// Redis commands each request costs in steady state.
//   cd /work/main && node scripts/test-env.mjs -- pnpm --filter @subrelay/gateway bench
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import pg from "pg";
import { nodeSourceArgs } from "../../../scripts/node-source.mjs";

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const CONCURRENCIES = (process.env.BENCH_CONNECTIONS ?? "1,16,64").split(",").map(Number);
/** BENCH_MODES=json limits the bodies run; BENCH_BACKENDS=embedded the gateway backends (for profiling one case). */
const MODES = (process.env.BENCH_MODES ?? "json,stream").split(",");
const ADMIN_TOKEN = "bench-admin-token-0123456789";
const here = fileURLToPath(new URL(".", import.meta.url));
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

function startChild(entry: string, env: Record<string, string>, ready: RegExp): Promise<string> {
  // Only what the caller passes decides the backend: the launcher's DATABASE_URL / REDIS_URL are not inherited.
  const { DATABASE_URL: _database, REDIS_URL: _redis, REDIS_CLUSTER_NODES: _cluster, ...inherited } = process.env;
  // BENCH_PROFILE=dir writes a CPU profile of each child there (on its exit).
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, ...nodeSourceArgs(entry)], {
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${entry} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const match = ready.exec(line);
      if (match) resolve(match[1]!);
    });
  });
}

async function admin(url: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

interface Row {
  target: string;
  mode: string;
  connections: number;
  rps: number;
  mean: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, key: string | null, stream: boolean, connections: number): Promise<Omit<Row, "target" | "mode">> {
  const body = JSON.stringify({
    model: "claude-sonnet-4-5",
    max_tokens: 64,
    stream,
    messages: [{ role: "user", content: "Hello" }],
  });
  const result = await autocannon({
    url: `${url}/v1/messages`,
    method: "POST",
    connections,
    duration: DURATION_S,
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      ...(key ? { "x-api-key": key } : {}),
    },
    body,
  });
  return {
    connections,
    rps: Math.round(result.requests.average),
    mean: result.latency.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function startGateway(upstream: string, backend: "embedded" | "postgres-redis") {
  const dataDir = mkdtempSync(join(tmpdir(), "subrelay-bench-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    LOG_LEVEL: "warn",
    SUBRELAY_CLAUDE_BASE_URL: upstream,
    SUBRELAY_CLAUDE_TOKEN_URL: `${upstream}/oauth/token`,
  };
  if (backend === "postgres-redis") {
    const base = process.env.DATABASE_URL!;
    const name = `bench_${randomBytes(4).toString("hex")}`;
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    cleanups.push(async () => {
      const drop = new pg.Client({ connectionString: base });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    });
    const url = new URL(base);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    env.SUBRELAY_SECRET_KEY = randomBytes(32).toString("hex");
    env.REDIS_URL = process.env.REDIS_URL!;
    env.REDIS_PREFIX = `bench-${randomBytes(4).toString("hex")}:`;
  }
  const url = await startChild(join(here, "../src/main.ts"), env, /listening on (http:\/\/\S+)/);
  await admin(url, "/admin/groups", { name: "bench", platform: "claude" });
  for (const name of ["a", "b", "c", "d"]) {
    await admin(url, "/admin/accounts", {
      name,
      platform: "claude",
      type: "oauth",
      credentials: { accessToken: `bench-${name}`, refreshToken: `refresh-${name}`, expiresAt: Date.now() + 8 * 3_600_000 },
      groupIds: [1],
      concurrency: 1000,
    });
  }
  const { key } = (await admin(url, "/admin/api-keys", { name: "bench", groupId: 1 })) as { key: string };
  return { url, key };
}

/** Redis commands the gateway has sent, from its own counter (commands inside Lua scripts are not round trips). */
async function redisCommands(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^subrelay_redis_commands_total (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
}

async function main(): Promise<void> {
  const upstream = await startChild(join(here, "upstream.ts"), {}, /^(http:\/\/\S+)$/);
  const rows: Row[] = [];
  const run = async (target: string, url: string, key: string | null) => {
    for (const stream of [false, true].filter((value) => MODES.includes(value ? "stream" : "json"))) {
      for (const connections of CONCURRENCIES) {
        const row = { target, mode: stream ? "stream" : "json", ...(await load(url, key, stream, connections)) };
        rows.push(row);
        process.stderr.write(`${JSON.stringify(row)}\n`);
      }
    }
  };
  await run("upstream directly", upstream, null);
  const backends = (
    process.env.DATABASE_URL && process.env.REDIS_URL ? ["embedded", "postgres-redis"] : ["embedded"]
  ).filter((backend) => !process.env.BENCH_BACKENDS || process.env.BENCH_BACKENDS.split(",").includes(backend)) as Array<
    "embedded" | "postgres-redis"
  >;
  let commandsPerRequest: number | undefined;
  for (const backend of backends) {
    const gateway = await startGateway(upstream, backend);
    // Warm up: keys, snapshots and tokens cached.
    await load(gateway.url, gateway.key, false, 16);
    await run(`gateway (${backend})`, gateway.url, gateway.key);
    if (backend === "postgres-redis") {
      const before = await redisCommands(gateway.url);
      const measured = await load(gateway.url, gateway.key, false, 16);
      const after = await redisCommands(gateway.url);
      commandsPerRequest = (after - before) / (measured.rps * DURATION_S);
    }
  }

  const direct = (mode: string, connections: number) =>
    rows.find((row) => row.target === "upstream directly" && row.mode === mode && row.connections === connections)!;
  const lines = [
    `Machine: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores, Node ${process.version}; ${DURATION_S} s per row; gateway, upstream and load generator share the machine.`,
    "",
    "| target | body | connections | req/s | mean ms | p50 ms | p99 ms | added mean ms | added p99 ms | errors |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((row) => {
      const base = direct(row.mode, row.connections);
      const added = row.target === "upstream directly" ? ["—", "—"] : [row.mean - base.mean, row.p99 - base.p99].map((value) => value.toFixed(2));
      return `| ${row.target} | ${row.mode} | ${row.connections} | ${row.rps} | ${row.mean.toFixed(2)} | ${row.p50} | ${row.p99} | ${added[0]} | ${added[1]} | ${row.errors} |`;
    }),
  ];
  if (commandsPerRequest !== undefined) {
    lines.push("", `Redis round trips per request in steady state (Postgres + Redis, JSON, 16 connections; counted by the gateway): ${commandsPerRequest.toFixed(2)}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of children) child.kill("SIGTERM");
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
