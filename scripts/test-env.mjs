#!/usr/bin/env node
// The test launcher: `node scripts/test-env.mjs -- <command...>`.
//
// Starts what the tests need when it is not given, runs the command with the addresses exported,
// prints one summary line `tests: N passed, M failed`, and always stops and removes what it started
// (on success, failure, Ctrl-C and SIGTERM).
//   REDIS_URL            unset: a throwaway redis-server on a free 127.0.0.1 port
//   DATABASE_URL         unset: a throwaway Postgres 15 cluster (initdb into a temp dir)
//   REDIS_CLUSTER_NODES  unset: a throwaway 3-master Redis Cluster ("host:port,host:port,...");
//                        left unset (and the cluster test skipped, said in the summary) when
//                        `redis-cli --cluster` is unavailable
//   CHROMIUM_PATH        unset: /usr/bin/chromium (Debian's `chromium`, apt-get installed when missing),
//                        for the console's browser tests (apps/gateway/test/console)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureChromium, setUpPostgres, setUpRedis, setUpRedisCluster } from "./test-servers.mjs";

const cleanups = [];
let child;

function log(message) {
  process.stderr.write(`[test-env] ${message}\n`);
}

let cleanedUp = false;
function cleanUp() {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const cleanup of cleanups.reverse()) {
    try {
      cleanup();
    } catch (error) {
      log(`cleanup failed: ${error.message}`);
    }
  }
}

function summarise(reportDir, notes) {
  let passed = 0;
  let failed = 0;
  let reports = 0;
  for (const file of existsSync(reportDir) ? readdirSync(reportDir) : []) {
    if (!file.endsWith(".json")) continue;
    const report = JSON.parse(readFileSync(join(reportDir, file), "utf8"));
    passed += report.numPassedTests ?? 0;
    failed += (report.numFailedTests ?? 0) + (report.numRuntimeErrors ?? 0);
    reports += 1;
  }
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  process.stdout.write(`packages reporting: ${reports}\n`);
  process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
}

async function main() {
  const separator = process.argv.indexOf("--");
  const command = separator === -1 ? [] : process.argv.slice(separator + 1);
  if (command.length === 0) throw new Error("usage: node scripts/test-env.mjs -- <command...>");

  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      child?.kill(signal);
      cleanUp();
      process.exit(130);
    });
  }
  process.on("exit", cleanUp);

  const notes = [];
  const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" };
  if (!env.REDIS_URL) env.REDIS_URL = await setUpRedis(cleanups);
  if (!env.DATABASE_URL) env.DATABASE_URL = (await setUpPostgres(cleanups)).url;
  if (!env.REDIS_CLUSTER_NODES) {
    const nodes = await setUpRedisCluster(cleanups);
    if (nodes) env.REDIS_CLUSTER_NODES = nodes;
    else notes.push("redis-cli --cluster is unavailable: the Redis Cluster test was skipped");
  }
  env.CHROMIUM_PATH = ensureChromium();
  const reportDir = mkdtempSync(join(tmpdir(), "subrelay-test-reports-"));
  cleanups.push(() => rmSync(reportDir, { recursive: true, force: true }));
  env.SUBRELAY_TEST_REPORT_DIR = reportDir;

  child = spawn(command[0], command.slice(1), { stdio: "inherit", env });
  const code = await new Promise((resolve) => child.once("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0))));
  summarise(reportDir, notes);
  cleanUp();
  process.exit(code);
}

main().catch((error) => {
  log(error.stack ?? String(error));
  cleanUp();
  process.exit(1);
});
