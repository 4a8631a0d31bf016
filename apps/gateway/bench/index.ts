// `pnpm bench` in apps/gateway: the gateway's added latency and throughput against calling the upstream
// directly and through a bare Node.js relay, non-streaming and streaming, at concurrency 1, 16 and 64
// (closed loop) and at fixed offered rates over 16 connections (open loop), on the embedded default and on
// Postgres + Redis (when DATABASE_URL and REDIS_URL are set: run it through scripts/test-env.mjs), plus the
// Redis commands each request costs in steady state.
// Knobs: BENCH_KEY_LIMITS (the bench key's limits, JSON), BENCH_DURATION (s per row), BENCH_CONNECTIONS, BENCH_RATES, BENCH_MODES, BENCH_BACKENDS, BENCH_PROFILE,
// BENCH_GATEWAY_NODE_OPTIONS (Node flags for the gateway process only, e.g. `--require` a probe or GC settings).
// BENCH_BASELINE=<another build's apps/gateway/dist/main.js> compares this build with that one instead: both run
// side by side on each backend and take turns, case by case, for BENCH_ROUNDS rounds (default 3; the order flips
// each round), so the machine's drift hits both alike. Prints medians and the change.
//   cd /work/main && node scripts/test-env.mjs -- pnpm --filter @subrelay/gateway bench
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { nodeSourceArgs } from "../../../scripts/node-source.mjs";
import { admin, ADMIN_TOKEN } from "./admin";
import { runLoad, type LoadResult } from "./load";

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const CONCURRENCIES = (process.env.BENCH_CONNECTIONS ?? "1,16,64").split(",").map(Number);
/** BENCH_MODES=json limits the bodies run; BENCH_BACKENDS=embedded the gateway backends (for profiling one case). */
const MODES = (process.env.BENCH_MODES ?? "json,stream").split(",");
/** Offered rates (requests/s) for the open-loop latency rows, each over RATE_CONNECTIONS connections. */
const RATES = (process.env.BENCH_RATES ?? "500,1000,2000").split(",").filter(Boolean).map(Number);
const RATE_CONNECTIONS = 16;
const here = fileURLToPath(new URL(".", import.meta.url));
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

/** Spawns a child: a TypeScript entry from source, or (`built`) a JavaScript file as operators run it. */
function startChild(entry: string, env: Record<string, string>, ready: RegExp, built = false): Promise<string> {
  // Only what the caller passes decides the backend: the launcher's DATABASE_URL / REDIS_URL are not inherited.
  const { DATABASE_URL: _database, REDIS_URL: _redis, REDIS_CLUSTER_NODES: _cluster, ...inherited } = process.env;
  // BENCH_PROFILE=dir writes a CPU profile of each child there (on its exit).
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, ...(built ? [entry] : nodeSourceArgs(entry))], {
    env: {
      ...inherited,
      ...env,
      ...(built && process.env.BENCH_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS } : {}),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${entry} exited with ${code}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const match = ready.exec(line);
      if (match) resolve(match[1]!);
    });
  });
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

interface Row extends LoadResult {
  target: string;
  mode: string;
  connections: number;
  /** Open loop: the offered rate (requests/s); closed loop: undefined. */
  rate?: number;
}

function load(url: string, key: string | null, stream: boolean, connections: number, rate?: number): Promise<LoadResult> {
  return runLoad({
    url,
    path: "/v1/messages",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      ...(key ? { "x-api-key": key } : {}),
    },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, stream, messages: [{ role: "user", content: "Hello" }] }),
    connections,
    durationMs: DURATION_S * 1000,
    rate,
  });
}

async function startGateway(upstream: string, backend: "embedded" | "postgres-redis", main = join(here, "../dist/main.js")) {
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
  // The built gateway, as `pnpm start` runs it (the bench script builds it first).
  const url = await startChild(main, env, /listening on (http:\/\/\S+)/, true);
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
  // BENCH_KEY_LIMITS (JSON, e.g. {"requestsPerMinute":100000000,"costPerDayUsd":1000000}): the bench key's limits,
  // to measure the limit checks on the request path (set high enough never to refuse).
  const limits = process.env.BENCH_KEY_LIMITS ? (JSON.parse(process.env.BENCH_KEY_LIMITS) as object) : undefined;
  // A build from before limits existed (BENCH_BASELINE) refuses the field: its key goes without them.
  const created = await admin(url, "/admin/api-keys", { name: "bench", groupId: 1, limits }).catch((error: unknown) => {
    if (limits === undefined || !String(error).includes(": 400 ")) throw error;
    return admin(url, "/admin/api-keys", { name: "bench", groupId: 1 });
  });
  const { key } = created as { key: string };
  return { url, key };
}

/** Redis commands the gateway has sent, from its own counter (commands inside Lua scripts are not round trips). */
async function redisCommands(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^subrelay_redis_commands_total (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
}

async function main(): Promise<void> {
  if (process.env.BENCH_BASELINE) return compare(process.env.BENCH_BASELINE);
  const upstream = await startChild(join(here, "upstream.ts"), {}, /^(http:\/\/\S+)$/);
  const bare = await startChild(join(here, "bare-relay.ts"), { UPSTREAM_URL: upstream }, /^(http:\/\/\S+)$/);
  const rows: Row[] = [];
  const modes = [false, true].filter((stream) => MODES.includes(stream ? "stream" : "json"));
  const run = async (target: string, url: string, key: string | null) => {
    for (const stream of modes) {
      const cases = [
        ...CONCURRENCIES.map((connections) => ({ connections, rate: undefined as number | undefined })),
        ...RATES.map((rate) => ({ connections: RATE_CONNECTIONS, rate })),
      ];
      for (const { connections, rate } of cases) {
        const row: Row = { target, mode: stream ? "stream" : "json", connections, rate, ...(await load(url, key, stream, connections, rate)) };
        rows.push(row);
        process.stderr.write(`${JSON.stringify(row)}\n`);
      }
    }
  };
  await run("upstream directly", upstream, null);
  await load(bare, null, false, 16); // warm-up: connections to the upstream pooled
  await run("bare Node.js relay", bare, null);
  let commandsPerRequest: number | undefined;
  for (const backend of backendsToRun()) {
    const gateway = await startGateway(upstream, backend);
    // Warm up: keys, snapshots and tokens cached, the JIT done.
    await load(gateway.url, gateway.key, false, 16);
    await run(`gateway (${backend})`, gateway.url, gateway.key);
    if (backend === "postgres-redis") {
      const before = await redisCommands(gateway.url);
      const measured = await load(gateway.url, gateway.key, false, 16);
      const after = await redisCommands(gateway.url);
      commandsPerRequest = (after - before) / measured.requests;
    }
  }
  process.stdout.write(`${report(rows, commandsPerRequest)}\n`);
}

function backendsToRun(): Array<"embedded" | "postgres-redis"> {
  return (
    process.env.DATABASE_URL && process.env.REDIS_URL ? ["embedded", "postgres-redis"] : ["embedded"]
  ).filter((backend) => !process.env.BENCH_BACKENDS || process.env.BENCH_BACKENDS.split(",").includes(backend)) as Array<
    "embedded" | "postgres-redis"
  >;
}

/** This build against `baseline` (another build's dist/main.js), alternating case by case in one run. */
async function compare(baseline: string): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const upstream = await startChild(join(here, "upstream.ts"), {}, /^(http:\/\/\S+)$/);
  const modes = [false, true].filter((stream) => MODES.includes(stream ? "stream" : "json"));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const pct = (now: number, before: number) => `${now >= before ? "+" : ""}${(((now - before) / before) * 100).toFixed(1)} %`;
  const lines = [
    `Machine: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores, Node ${process.version}; ${DURATION_S} s per run, ${rounds} rounds, the two builds taking turns. Medians; added p50 = gateway p50 minus the upstream's at the same load.`,
    "",
    "| backend | body | connections | req/s this | req/s baseline | change | added p50 this | added p50 baseline | change |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const backend of backendsToRun()) {
    const builds = { this: await startGateway(upstream, backend), baseline: await startGateway(upstream, backend, baseline) };
    for (const build of Object.values(builds)) await load(build.url, build.key, false, 16);
    for (const stream of modes) {
      for (const connections of CONCURRENCIES) {
        const seen = { this: { rps: [] as number[], p50: [] as number[] }, baseline: { rps: [] as number[], p50: [] as number[] } };
        for (let round = 0; round < rounds; round += 1) {
          const direct = await load(upstream, null, stream, connections);
          const order = round % 2 === 0 ? (["this", "baseline"] as const) : (["baseline", "this"] as const);
          for (const name of order) {
            const result = await load(builds[name].url, builds[name].key, stream, connections);
            seen[name].rps.push(result.rps);
            seen[name].p50.push(result.p50 - direct.p50);
            process.stderr.write(`${JSON.stringify({ backend, build: name, stream, connections, round, rps: result.rps, p50: result.p50 })}\n`);
          }
        }
        const [rpsThis, rpsBase] = [median(seen.this.rps), median(seen.baseline.rps)];
        const [p50This, p50Base] = [median(seen.this.p50), median(seen.baseline.p50)];
        lines.push(
          `| ${backend} | ${stream ? "stream" : "json"} | ${connections} | ${Math.round(rpsThis)} | ${Math.round(rpsBase)} | ${pct(rpsThis, rpsBase)} | ${p50This.toFixed(2)} | ${p50Base.toFixed(2)} | ${pct(p50This, p50Base)} |`,
        );
      }
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** The README's tables: throughput (closed loop), then latency at fixed offered rates (open loop). */
function report(rows: Row[], commandsPerRequest: number | undefined): string {
  const ms = (value: number) => value.toFixed(2);
  const direct = (row: Row) =>
    rows.find((other) => other.target === "upstream directly" && other.mode === row.mode && other.connections === row.connections && other.rate === row.rate)!;
  const added = (row: Row, field: "mean" | "p50" | "p99") => (row.target === "upstream directly" ? "—" : ms(row[field] - direct(row)[field]));
  const lines = [
    `Machine: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores, Node ${process.version}; ${DURATION_S} s per row; upstream, relay and load generator share the machine. Latencies in ms, timed in µs.`,
    "",
    "Closed loop (each connection sends its next request when the last is answered): throughput.",
    "",
    "| target | body | connections | req/s | mean | p50 | p99 | added mean | added p50 | added p99 | errors |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows
      .filter((row) => row.rate === undefined)
      .map(
        (row) =>
          `| ${row.target} | ${row.mode} | ${row.connections} | ${Math.round(row.rps)} | ${ms(row.mean)} | ${ms(row.p50)} | ${ms(row.p99)} | ${added(row, "mean")} | ${added(row, "p50")} | ${added(row, "p99")} | ${row.errors} |`,
      ),
    "",
    `Open loop (requests due on a fixed schedule over ${RATE_CONNECTIONS} connections, waiting counted): latency at a given load.`,
    "",
    "| target | body | offered req/s | served req/s | p50 | p90 | p99 | added p50 | added p99 | errors | due, unsent at the end |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows
      .filter((row) => row.rate !== undefined)
      .map(
        (row) =>
          `| ${row.target} | ${row.mode} | ${row.rate} | ${Math.round(row.rps)} | ${ms(row.p50)} | ${ms(row.p90)} | ${ms(row.p99)} | ${added(row, "p50")} | ${added(row, "p99")} | ${row.errors} | ${row.unsent} |`,
      ),
  ];
  if (commandsPerRequest !== undefined) {
    lines.push("", `Redis round trips per request in steady state (Postgres + Redis, JSON, 16 connections; counted by the gateway): ${commandsPerRequest.toFixed(2)}`);
  }
  return lines.join("\n");
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
