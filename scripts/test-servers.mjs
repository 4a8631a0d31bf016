// Throwaway servers for tests: redis-server, a Redis Cluster and Postgres 15 on free loopback ports.
// Used by the test launcher (scripts/test-env.mjs) and by tests that need servers of their own to stop,
// kill or restart (fault tests) without disturbing the shared ones.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
const isRoot = process.getuid?.() === 0;

function log(message) {
  if (!process.env.SUBRELAY_TEST_SERVERS_QUIET) process.stderr.write(`[test-env] ${message}\n`);
}

function has(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

let aptUpdated = false;
function aptInstall(...packages) {
  if (!isRoot) throw new Error(`missing ${packages.join(", ")}: install them (apt-get install -y ${packages.join(" ")})`);
  if (!aptUpdated) {
    log("apt-get update");
    execFileSync("apt-get", ["update"], { stdio: ["ignore", "ignore", "inherit"] });
    aptUpdated = true;
  }
  log(`apt-get install -y ${packages.join(" ")}`);
  execFileSync("apt-get", ["install", "-y", ...packages], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The Chromium the console's browser tests drive (playwright-core, no browser download): CHROMIUM_PATH, else
 * Debian's `chromium` package at /usr/bin/chromium, installed with apt-get when missing. Its path.
 */
export function ensureChromium() {
  const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(path)) {
    if (process.env.CHROMIUM_PATH) throw new Error(`CHROMIUM_PATH=${path} does not exist`);
    aptInstall("chromium");
  }
  return path;
}

/** Starts redis-server and resolves once it says it accepts connections. */
export function startRedis(port, dir, cleanups, extraArgs = []) {
  return new Promise((resolve, reject) => {
    const redis = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const onData = (chunk) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) {
        redis.stdout.off("data", onData);
        redis.stdout.resume();
        resolve(redis);
      }
    };
    redis.stdout.setEncoding("utf8").on("data", onData);
    redis.stderr.setEncoding("utf8").on("data", (chunk) => (output += chunk));
    redis.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
    cleanups.push(() => redis.kill("SIGKILL"));
  });
}

/** A throwaway redis-server; its URL. `cleanups` receives the functions that stop and remove it. */
export async function setUpRedis(cleanups) {
  if (!has("redis-server") || !has("redis-cli")) aptInstall("redis-server");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "subrelay-redis-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  await startRedis(port, dir, cleanups);
  log(`redis-server on 127.0.0.1:${port}`);
  return `redis://127.0.0.1:${port}`;
}

/** A throwaway 3-master Redis Cluster ("host:port,..."), or null when `redis-cli --cluster` is unavailable. */
export async function setUpRedisCluster(cleanups) {
  const help = spawnSync("redis-cli", ["--cluster", "help"], { encoding: "utf8" });
  if (help.status !== 0 && !`${help.stdout}${help.stderr}`.includes("create")) return null;
  const dir = mkdtempSync(join(tmpdir(), "subrelay-redis-cluster-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const ports = [];
  for (let index = 0; index < 3; index++) {
    const port = await freePort();
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir);
    await startRedis(port, nodeDir, cleanups, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]);
    ports.push(port);
  }
  const nodes = ports.map((port) => `127.0.0.1:${port}`);
  execFileSync("redis-cli", ["--cluster", "create", ...nodes, "--cluster-replicas", "0", "--cluster-yes"], {
    stdio: "ignore",
  });
  // `--cluster create` returns once slots are assigned; wait until every node agrees the cluster is ok.
  for (const port of ports) {
    for (let attempt = 0; ; attempt++) {
      const info = spawnSync("redis-cli", ["-p", String(port), "cluster", "info"], { encoding: "utf8" }).stdout;
      if (info.includes("cluster_state:ok")) break;
      if (attempt > 200) throw new Error(`redis cluster node ${port} never reached cluster_state:ok`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  log(`redis cluster on ${nodes.join(", ")}`);
  return nodes.join(",");
}

function postgresUser() {
  const lookup = (name) => {
    const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
    if (uid.status !== 0) return null;
    const gid = spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim();
    return { name, uid: Number(uid.stdout.trim()), gid: Number(gid) };
  };
  const existing = lookup("postgres") ?? lookup("subrelay-pg");
  if (existing) return existing;
  execFileSync("useradd", ["--system", "--no-create-home", "subrelay-pg"]);
  return lookup("subrelay-pg");
}

/**
 * A throwaway Postgres 15 cluster; its URL plus `stop()` / `start()` for fault tests.
 * `cleanups` receives the functions that stop and remove it.
 */
export async function setUpPostgres(cleanups) {
  if (!existsSync(join(PG_BIN, "initdb"))) aptInstall("postgresql-15");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "subrelay-pg-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, "data");
  // Postgres refuses to run as root: as root, the cluster belongs to the postgres OS user.
  const user = isRoot ? postgresUser() : null;
  if (user) chownSync(dir, user.uid, user.gid);
  const run = (binary, args) => {
    const command = join(PG_BIN, binary);
    const [file, argv] = user ? ["runuser", ["-u", user.name, "--", command, ...args]] : [command, args];
    execFileSync(file, argv, { stdio: ["ignore", "ignore", "inherit"], cwd: dir });
  };
  run("initdb", ["-D", data, "-U", "subrelay", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
  run("pg_ctl", ["-D", data, "-l", join(dir, "postgres.log"), "-o", options, "-w", "-t", "60", "start"]);
  cleanups.push(() => {
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } catch {
      // already stopped (a test may have stopped it on purpose)
    }
  });
  log(`postgres 15 on 127.0.0.1:${port}`);
  return {
    url: `postgres://subrelay@127.0.0.1:${port}/postgres`,
    stop: () => run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]),
    start: () => run("pg_ctl", ["-D", data, "-l", join(dir, "postgres.log"), "-o", options, "-w", "-t", "60", "start"]),
  };
}

