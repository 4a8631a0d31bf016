// `pnpm bench:memory` in apps/gateway: the embedded gateway's memory against the targets of issue 13 (item 18).
// Starts the built gateway (dist/main.js, as operators run it) on a new data directory and reports
// - first start peak: the process's VmHWM once it listens (PGlite's initdb, the migrations and the start-up);
// - steady RSS under load: the highest VmRSS sampled every 250 ms after the first quarter of a closed-loop load
//   (JSON then streaming, BENCH_MEMORY_CONNECTIONS connections, BENCH_MEMORY_DURATION seconds) against a fake
//   upstream on 127.0.0.1;
// - restart peak: VmHWM of a second start on the same (now initialised) data directory.
// Knobs: BENCH_MEMORY_DURATION (s, default 20), BENCH_MEMORY_CONNECTIONS (default 16), BENCH_GATEWAY_NODE_OPTIONS
// (NODE_OPTIONS for the gateway process only), BENCH_GATEWAY_NODE_ARGS (Node/V8 flags on its command line),
// BENCH_MEMORY_SAMPLES=1 (print every RSS sample to stderr), BENCH_GATEWAY_ENV (extra `NAME=value,...` for the gateway, e.g.
// `PGLITE_SHARED_BUFFERS=128MB` to measure a setting). Exits 1 when a target is missed.
//   cd /work/main && pnpm --filter @subrelay/gateway bench:memory
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { nodeSourceArgs } from "../../../scripts/node-source.mjs";
import { admin, ADMIN_TOKEN } from "./admin";
import { runLoad, type LoadResult } from "./load";

const DURATION_S = Number(process.env.BENCH_MEMORY_DURATION ?? 20);
const CONNECTIONS = Number(process.env.BENCH_MEMORY_CONNECTIONS ?? 16);
const TARGETS_MB = { firstStartPeak: 300, steadyUnderLoad: 250 } as const;
const SAMPLE_EVERY_MS = 250;
const here = fileURLToPath(new URL(".", import.meta.url));
const children: ChildProcess[] = [];
const cleanups: Array<() => void> = [];

interface Started {
  child: ChildProcess;
  url: string;
}

function startChild(args: string[], env: Record<string, string>, ready: RegExp): Promise<Started> {
  // Only what is passed decides the backend: the launcher's DATABASE_URL / REDIS_URL are not inherited.
  const { DATABASE_URL: _database, REDIS_URL: _redis, REDIS_CLUSTER_NODES: _cluster, ...inherited } = process.env;
  const child = spawn(process.execPath, args, { env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${args.at(-1)} exited with ${code}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const match = ready.exec(line);
      if (match) resolve({ child, url: match[1]! });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** VmHWM / VmRSS of a process in MB (Linux /proc). */
function memoryOf(pid: number): { peak: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) / 1024;
  return { peak: field("VmHWM"), rss: field("VmRSS") };
}

function gatewayEnv(upstream: string, dataDir: string): Record<string, string> {
  const extra = Object.fromEntries(
    (process.env.BENCH_GATEWAY_ENV ?? "")
      .split(",")
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    LOG_LEVEL: "warn",
    SUBRELAY_CLAUDE_BASE_URL: upstream,
    SUBRELAY_CLAUDE_TOKEN_URL: `${upstream}/oauth/token`,
    ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS } : {}),
    ...extra,
  };
}

function load(url: string, key: string, stream: boolean, durationMs: number): Promise<LoadResult> {
  return runLoad({
    url,
    path: "/v1/messages",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": key },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, stream, messages: [{ role: "user", content: "Hello" }] }),
    connections: CONNECTIONS,
    durationMs,
  });
}

async function main(): Promise<void> {
  const upstream = await startChild(nodeSourceArgs(join(here, "upstream.ts")), {}, /^(http:\/\/\S+)$/);
  const dataDir = mkdtempSync(join(tmpdir(), "subrelay-bench-memory-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const main = join(here, "../dist/main.js");
  // V8 flags NODE_OPTIONS refuses (e.g. --liftoff-only) go on the command line.
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const listening = /listening on (http:\/\/\S+)/;

  const first = await startChild([...nodeArgs, main], gatewayEnv(upstream.url, dataDir), listening);
  const firstStart = memoryOf(first.child.pid!);

  await admin(first.url, "/admin/groups", { name: "bench", platform: "claude" });
  for (const name of ["a", "b", "c", "d"]) {
    await admin(first.url, "/admin/accounts", {
      name,
      platform: "claude",
      type: "oauth",
      credentials: { accessToken: `bench-${name}`, refreshToken: `refresh-${name}`, expiresAt: Date.now() + 8 * 3_600_000 },
      groupIds: [1],
      concurrency: 1000,
    });
  }
  const { key } = (await admin(first.url, "/admin/api-keys", { name: "bench", groupId: 1 })) as { key: string };

  const samples: Array<{ at: number; rss: number }> = [];
  const loadStartedAt = Date.now();
  const sampler = setInterval(() => samples.push({ at: Date.now() - loadStartedAt, rss: memoryOf(first.child.pid!).rss }), SAMPLE_EVERY_MS);
  const json = await load(first.url, key, false, (DURATION_S * 1000) / 2);
  const stream = await load(first.url, key, true, (DURATION_S * 1000) / 2);
  clearInterval(sampler);
  const afterLoad = memoryOf(first.child.pid!);
  if (process.env.BENCH_MEMORY_SAMPLES) process.stderr.write(`${samples.map((sample) => Math.round(sample.rss)).join(" ")}\n`);
  const steady = Math.max(...samples.filter((sample) => sample.at >= (DURATION_S * 1000) / 4).map((sample) => sample.rss));
  await stopChild(first.child);

  const second = await startChild([...nodeArgs, main], gatewayEnv(upstream.url, dataDir), listening);
  const restart = memoryOf(second.child.pid!);
  await stopChild(second.child);

  const mb = (value: number) => `${Math.round(value)} MB`;
  const verdict = (value: number, target: number) => (value < target ? "met" : "MISSED");
  const requests = json.requests + stream.requests;
  const errors = json.errors + stream.errors;
  const lines = [
    `Machine: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores, Node ${process.version}; embedded gateway (PGlite, in-memory caches, worker in process).`,
    `Load: ${requests} requests (${json.requests} JSON, ${stream.requests} streaming; ${errors} errors) over ${CONNECTIONS} connections in ${DURATION_S} s; RSS sampled every ${SAMPLE_EVERY_MS} ms.`,
    ...(process.env.BENCH_GATEWAY_ENV ? [`Gateway env: ${process.env.BENCH_GATEWAY_ENV}`] : []),
    "",
    "| measure | value | target | |",
    "| --- | ---: | ---: | --- |",
    `| first start peak (VmHWM when listening, new data directory) | ${mb(firstStart.peak)} | < ${TARGETS_MB.firstStartPeak} MB | ${verdict(firstStart.peak, TARGETS_MB.firstStartPeak)} |`,
    `| RSS when listening after first start | ${mb(firstStart.rss)} | | |`,
    `| steady RSS under load (highest sample after the first quarter) | ${mb(steady)} | < ${TARGETS_MB.steadyUnderLoad} MB | ${verdict(steady, TARGETS_MB.steadyUnderLoad)} |`,
    `| peak over first start and load (VmHWM after load) | ${mb(afterLoad.peak)} | | |`,
    `| restart peak (VmHWM when listening, same data directory) | ${mb(restart.peak)} | | |`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  if (firstStart.peak >= TARGETS_MB.firstStartPeak || steady >= TARGETS_MB.steadyUnderLoad || errors > 0) process.exitCode = 1;
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of children) await stopChild(child);
    for (const cleanup of cleanups.reverse()) cleanup();
  });
