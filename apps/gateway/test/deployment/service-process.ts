import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { nodeSourceArgs } from "../../../../scripts/node-source.mjs";

/** The two programs of a deployment, as TypeScript sources run in their own Node process. */
export const entries = {
  gateway: fileURLToPath(new URL("../../src/main.ts", import.meta.url)),
  worker: fileURLToPath(new URL("../../../refresh-worker/src/main.ts", import.meta.url)),
} as const;

export type ServiceKind = keyof typeof entries;

/** Output kept per process for failure messages, characters. */
const OUTPUT_TAIL = 8_000;

/**
 * One gateway or refresh-worker OS process. `start` resolves once the process printed its
 * `... listening on http://...` line; a process that exits first rejects with its output.
 */
export class ServiceProcess {
  /** Settles when the process exits, however it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #output = "";

  private constructor(
    readonly kind: ServiceKind,
    readonly name: string,
    readonly child: ChildProcess,
    /** `http://127.0.0.1:<port>` the process listens on (the worker: its health/metrics port). */
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  static start(kind: ServiceKind, name: string, env: Record<string, string>): Promise<ServiceProcess> {
    const child = spawn(process.execPath, nodeSourceArgs(entries[kind]), {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: string) => {
      output = (output + chunk).slice(-OUTPUT_TAIL);
    };
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8").on("data", keep);
    return new Promise<ServiceProcess>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${output}`));
      const onData = (chunk: string) => {
        keep(chunk);
        const match = /listening on (http:\/\/[^\s]+)/.exec(output);
        if (!match) return;
        child.stdout.off("data", onData);
        child.off("exit", onExit);
        const service = new ServiceProcess(kind, name, child, match[1]!.replace("[::1]", "127.0.0.1"));
        service.#output = output;
        child.stdout.on("data", (more: string) => service.#keep(more));
        child.stderr.on("data", (more: string) => service.#keep(more));
        resolve(service);
      };
      child.stdout.on("data", onData);
      child.once("exit", onExit);
      child.once("error", reject);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True until the process exits. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process wrote (stdout and stderr), for failure messages. */
  get output(): string {
    return this.#output;
  }

  /** Resident set size now, kB (VmRSS of /proc/<pid>/status). */
  rssKb(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (!match) throw new Error(`no VmRSS for ${this.name} (pid ${this.pid})`);
    return Number(match[1]);
  }

  /** SIGTERM (graceful: in-flight requests finish, usage is flushed) and waits for the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill("SIGTERM");
    return this.exited;
  }

  /** SIGKILL, for cleanup paths that must not wait. */
  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }

  #keep(chunk: string): void {
    this.#output = (this.#output + chunk).slice(-OUTPUT_TAIL);
  }
}
