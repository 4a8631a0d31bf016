import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { nodeSourceArgs } from "../../../../scripts/node-source.mjs";

/** The built gateway, as `node apps/gateway/dist/main.js` runs it (`pnpm test` builds it first). */
export const builtGateway = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
/** The refresh worker, run from its TypeScript source (the gateway's tests do not build it). */
export const workerArgs = nodeSourceArgs(
  fileURLToPath(new URL("../../../refresh-worker/src/main.ts", import.meta.url)),
);

/** An admin token long enough for every rule. */
export const PROCESS_ADMIN_TOKEN = "process-test-admin-token-0123456789abcdef";

export function secretKey(): string {
  return randomBytes(32).toString("hex");
}

export interface GatewayRun {
  child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves with the URL once `listening on ...` is printed; rejects if the process exits first. */
  listening: Promise<string>;
  /** Settles when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

/** Runs `command args` (default: node dist/main.js) with only PATH and `env`; resolves nothing until asked. */
export function runGateway(
  env: Record<string, string>,
  options: { command?: string; args?: string[]; cwd?: string; detached?: boolean } = {},
): GatewayRun {
  if (!options.args && !existsSync(builtGateway))
    throw new Error(`${builtGateway} is missing: build the gateway first`);
  const child = spawn(options.command ?? process.execPath, options.args ?? [builtGateway], {
    cwd: options.cwd,
    // Its own process group, as a terminal's foreground job is (Ctrl-C signals the whole group).
    detached: options.detached,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const keep = (chunk: string) => {
    output += chunk;
    for (const listener of listeners) listener();
  };
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>(
    (resolve) => {
      child.once("exit", (code, signal) => {
        // Let the pipes drain before reporting the output.
        setImmediate(() => resolve({ code, signal, output }));
      });
    },
  );
  const listening = new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        listeners.delete(check);
        resolve(match[1]!);
      }
    };
    listeners.add(check);
    void exited.then(({ code, signal }) =>
      reject(new Error(`gateway exited (${code ?? signal}) before listening:\n${output}`)),
    );
  });
  listening.catch(() => undefined);
  return {
    child,
    output: () => output,
    listening,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/**
 * Runs the gateway expecting it to refuse to start: resolves with its exit. A process that listens instead
 * is stopped, and the result says so (`listened: true`), so the test fails on its assertion, not a timeout.
 */
export async function runExpectingExit(
  env: Record<string, string>,
  options: { command?: string; args?: string[]; cwd?: string } = {},
): Promise<{ listened: boolean; code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const run = runGateway(env, options);
  const first = await Promise.race([
    run.listening.then(
      () => "listening" as const,
      () => "exited" as const,
    ),
    run.exited.then(() => "exited" as const),
  ]);
  const exit = first === "listening" ? await run.stop() : await run.exited;
  return { listened: first === "listening", ...exit };
}
