#!/usr/bin/env node
// `pnpm guards`: removes each guard the suite must catch (an exact string edit), runs that package's tests,
// restores the file (always), and reports caught / missed / stale. Exits 1 unless every guard is caught.
// Not part of `pnpm test`. Servers start once: the script re-runs itself under scripts/test-env.mjs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Each guard: the file, the edits that remove it (exact strings), the package and optional test file pattern. */
const guards = [
  {
    name: "outbox advisory lock (ids commit in order)",
    file: "packages/db/src/outbox-repository.ts",
    edits: [{ find: "  await transaction.execute(sql`select pg_advisory_xact_lock(${sql.raw(OUTBOX_LOCK_KEY.toString())})`);\n", replace: "" }],
    filter: "@subrelay/worker",
    tests: "src/outbox-consumer",
  },
  {
    name: "outbox watermark written after the work",
    file: "packages/worker/src/outbox-consumer.ts",
    edits: [
      { find: "    // Order matters: the watermark first, so a row is never deleted before a holder has moved past it.\n    await this.#scheduler.setOutboxWatermark(last.id);\n", replace: "" },
      { find: "    const plan = await this.#plan(rows);\n", replace: "    await this.#scheduler.setOutboxWatermark(last.id);\n    const plan = await this.#plan(rows);\n" },
    ],
    filter: "@subrelay/worker",
    tests: "src/outbox-consumer",
  },
  {
    name: "token: database re-read + second needs-refresh check under the lock",
    file: "packages/token-cache/src/token-manager.ts",
    edits: [{ find: "    if (this.#isUsable(read.account.credentials, windowMs, floor, since)) {\n      await this.#cache(key, read.account.credentials);", replace: "    if (false) {\n      await this.#cache(key, read.account.credentials);" }],
    filter: "@subrelay/token-cache",
  },
  {
    name: "token: in-process singleflight in TokenManager",
    file: "packages/token-cache/src/token-manager.ts",
    edits: [
      {
        find: "    return this.#flights\n      .do(\n        `${key}\\u0000${windowMs}`,\n        (flightSignal) =>\n          this.#mutex.run(key, () => this.#refreshWithLock(account, refresher, key, windowMs, flightSignal), flightSignal),\n        { signal },\n      )\n      .then((result) => result.value);",
        replace: "    const flightSignal = signal ?? new AbortController().signal;\n    return this.#mutex.run(key, () => this.#refreshWithLock(account, refresher, key, windowMs, flightSignal), flightSignal);",
      },
    ],
    filter: "@subrelay/token-cache",
  },
  {
    name: "token: release-and-announce of the refresh lock",
    file: "packages/token-cache/src/token-manager.ts",
    edits: [{ find: '      if (lease !== undefined) await this.#storeCall("releaseLock", () => this.#store.releaseLock(key, owner));\n', replace: "" }],
    filter: "@subrelay/token-cache",
  },
  {
    name: "token: every refresh under the database's refresh lock",
    file: "packages/token-cache/src/token-manager.ts",
    edits: [{ find: "    if (accounts.withRefreshLock !== undefined) {", replace: "    if (false) {" }],
    filter: "@subrelay/db",
  },
  {
    name: "db: the Postgres advisory refresh lock",
    file: "packages/db/src/refresh-locks.ts",
    edits: [{ find: '          await client.query("select pg_advisory_lock($1, $2)", [REFRESH_LOCK_CLASS, accountId]);\n', replace: "" }],
    filter: "@subrelay/db",
    tests: "src/database.pg",
  },
  {
    name: "token: the save is a compare-and-set on what the refresh read",
    file: "packages/token-cache/src/token-manager.ts",
    edits: [{ find: "      written = await accounts.saveCredentials(id, pending.credentials, pending.expected);", replace: "      written = await accounts.saveCredentials(id, pending.credentials);" }],
    filter: "@subrelay/token-cache",
  },
  {
    name: "token: without exclusion, wait and re-read before an invalid_grant is permanent",
    file: "packages/token-cache/src/token-manager.ts",
    edits: [{ find: "    if (exclusive) return null;\n    await this.#waitForRefreshElsewhere(key, undefined);\n    return changed();", replace: "    return null;" }],
    filter: "@subrelay/token-cache",
  },
  {
    name: "token: an unknown lock state waits before it refreshes (store without a database lock)",
    file: "packages/token-cache/src/token-manager.ts",
    edits: [{ find: "    if (lease === undefined) await this.#waitForRefreshElsewhere(key, flightSignal);\n", replace: "" }],
    filter: "@subrelay/token-cache",
  },
  {
    name: "scheduler: activation's expected check",
    file: "packages/scheduler-cache/src/lua/activate-snapshot-8.lua",
    edits: [{ find: "if active ~= expected then\n  return {3, active}\nend\n", replace: "" }],
    filter: "@subrelay/scheduler-cache",
  },
  {
    name: "scheduler: the grace of the superseded list",
    file: "packages/scheduler-cache/src/lua/activate-snapshot-8.lua",
    edits: [{ find: "  if grace > 0 then\n    redis.call('PEXPIRE', KEYS[8], grace)\n  else\n    redis.call('DEL', KEYS[8])\n  end\n", replace: "  redis.call('DEL', KEYS[8])\n" }],
    filter: "@subrelay/scheduler-cache",
  },
  {
    name: "scheduler: the grace of dropped members' records",
    file: "packages/scheduler-cache/src/lua/activate-snapshot-8.lua",
    edits: [{ find: "      dropped[#dropped + 1] = now + grace\n", replace: "      dropped[#dropped + 1] = now\n" }],
    filter: "@subrelay/scheduler-cache",
  },
  {
    name: "gateway: rebuild singleflight (bucket-accounts)",
    file: "apps/gateway/src/bucket-accounts.ts",
    edits: [{ find: "    const { value } = await this.rebuilds.do(key, () => this.rebuild(bucket));", replace: "    const value = await this.rebuild(bucket);" }],
    filter: "@subrelay/gateway",
    tests: "src/bucket-accounts",
  },
];

function git(...args) {
  return spawnSync("git", args, { cwd: root, encoding: "utf8" });
}

function runTests(guard) {
  const reportDir = mkdtempSync(join(tmpdir(), "subrelay-guards-"));
  const report = join(reportDir, "report.json");
  const env = { ...process.env };
  delete env.SUBRELAY_TEST_REPORT_DIR;
  const args = ["--filter", guard.filter, "exec", "vitest", "run", ...(guard.tests ? [guard.tests] : []), "--reporter=dot", "--reporter=json", `--outputFile.json=${report}`];
  const run = spawnSync("pnpm", args, { cwd: root, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  try {
    const json = JSON.parse(readFileSync(report, "utf8"));
    const failed = json.testResults.flatMap((file) => file.assertionResults.filter((test) => test.status === "failed").map((test) => test.fullName));
    return { status: run.status, failed, suiteErrors: json.numFailedTestSuites ?? 0 };
  } catch {
    return { status: run.status, failed: [], suiteErrors: 1, output: `${run.stdout}\n${run.stderr}`.slice(-2000) };
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}

let restoring;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => { restoring?.(); process.exit(130); });

function main() {
  if (!process.env.REDIS_URL || !process.env.DATABASE_URL) {
    const run = spawnSync(process.execPath, [join(root, "scripts/test-env.mjs"), "--", process.execPath, fileURLToPath(import.meta.url)], { cwd: root, stdio: "inherit" });
    process.exit(run.status ?? 1);
  }
  const baselines = new Map();
  const results = [];
  for (const guard of guards) {
    if (git("diff", "--quiet", "--", guard.file).status !== 0) {
      results.push({ name: guard.name, verdict: "stale", detail: `${guard.file} has uncommitted changes` });
      continue;
    }
    const original = readFileSync(join(root, guard.file), "utf8");
    let mutated = original;
    const missing = guard.edits.find((edit) => !mutated.includes(edit.find) || (mutated = mutated.replace(edit.find, edit.replace)) === null);
    if (missing) {
      results.push({ name: guard.name, verdict: "stale", detail: `find string not in ${guard.file}: ${JSON.stringify(missing.find.slice(0, 80))}` });
      continue;
    }
    const baselineKey = `${guard.filter} ${guard.tests ?? ""}`;
    if (!baselines.has(baselineKey)) baselines.set(baselineKey, runTests(guard));
    const baseline = baselines.get(baselineKey);
    if (baseline.status !== 0) {
      results.push({ name: guard.name, verdict: "broken", detail: `tests fail without any removal: ${baseline.failed.join("; ") || baseline.output}` });
      continue;
    }
    restoring = () => writeFileSync(join(root, guard.file), original);
    let outcome;
    try {
      writeFileSync(join(root, guard.file), mutated);
      outcome = runTests(guard);
    } finally {
      restoring();
      restoring = undefined;
      if (git("diff", "--quiet", "--", guard.file).status !== 0) throw new Error(`${guard.file} was not restored`);
    }
    if (outcome.failed.length > 0) results.push({ name: guard.name, verdict: "caught", detail: outcome.failed.join("; ") });
    else if (outcome.status !== 0) results.push({ name: guard.name, verdict: "broken", detail: `the run failed without a failing test (the edit may not compile): ${outcome.output ?? ""}` });
    else results.push({ name: guard.name, verdict: "missed", detail: "every test passed" });
    process.stdout.write(`[guards] ${results.at(-1).verdict}: ${guard.name}\n`);
  }
  process.stdout.write("\n");
  for (const result of results) process.stdout.write(`${result.verdict.padEnd(7)} ${result.name}\n        ${result.detail}\n`);
  const caught = results.filter((result) => result.verdict === "caught").length;
  process.stdout.write(`\nguards: ${caught} of ${results.length} caught\n`);
  process.exit(caught === results.length ? 0 : 1);
}

main();
