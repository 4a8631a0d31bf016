import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The real command-line clients, installed as pinned dev dependencies of the gateway. */
export type ClientName = "claude" | "codex" | "gemini";

export function clientBin(name: ClientName): string {
  return fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));
}

export interface ClientRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Variables on top of the minimal environment below (PATH, a throwaway HOME, no proxies). */
  env?: Record<string, string>;
  /** The working directory; a fresh empty one by default. */
  cwd?: string;
  /** The client's HOME (its settings and state live there); a fresh empty one by default. */
  home?: string;
  input?: string;
  /** A safety net against a client that hangs: the run is killed and reported, never waited on for longer. */
  killAfterMs?: number;
}

/** A fresh directory, removed by the returned function. */
export function scratchDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `subrelay-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Runs one client to its exit. The environment is built from nothing, so no setting of the machine running
 * the tests (an API key, a proxy, a user's own config in ~) reaches the client.
 */
export function runClient(name: ClientName, args: readonly string[], options: RunOptions = {}): Promise<ClientRun> {
  const home = options.home ? undefined : scratchDir(`${name}-home`);
  const cwd = options.cwd ? undefined : scratchDir(`${name}-cwd`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: options.home ?? home!.path,
    TMPDIR: tmpdir(),
    TERM: "dumb",
    NO_COLOR: "1",
    CI: "1",
    ...options.env,
  };
  // Its own process group, killed as a whole: Codex's npm wrapper runs the native binary as a child on Node
  // releases without process.execve (Node 20), and killing only the wrapper left that child holding the pipes.
  const child = spawn(clientBin(name), [...args], {
    cwd: options.cwd ?? cwd!.path,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? "");
  const killer = setTimeout(() => killGroup(child.pid), options.killAfterMs ?? 120_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(killer);
      home?.remove();
      cwd?.remove();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
