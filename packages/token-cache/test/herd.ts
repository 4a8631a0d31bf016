import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { nodeSourceArgs } from "../../../scripts/node-source.mjs";
import type { TokenAccount } from "../src/types";

/** What every child of one herd round is told. */
export interface HerdRound {
  /** Redis for the token store (cache, lock, announcements). */
  tokenStoreUrl: string;
  /** Redis standing in for the database: accounts, the refresh counter, the fake provider's state. */
  databaseUrl: string;
  prefix: string;
  accountId: string;
  callers: number;
  refreshDelayMs: number;
  lockWaitMs: number;
  commandTimeoutMs: number;
  /** The fake provider refuses a refresh token that was already rotated (invalid_grant). */
  strictRotation: boolean;
}

export interface HerdChildReport {
  /** Access token -> number of callers that got it. */
  tokens: Record<string, number>;
  /** Error text -> number of callers that got it. */
  errors: Record<string, number>;
  /** Per caller, ms from "go" to the answer. */
  waitsMs: number[];
  /** Per caller, epoch ms (sub-ms precision) of the answer. */
  doneAt: number[];
  /** Epoch ms at which this process received "go". */
  goAt: number;
  /** Whether this process called the token endpoint. */
  refreshedHere: boolean;
  /** Epoch ms around this process's `TokenRefresher.refresh` (only in the refreshing process). */
  refreshStartedAt?: number | undefined;
  refreshEndedAt?: number | undefined;
}

export interface HerdResult {
  reports: HerdChildReport[];
  refreshCount: number;
  account: TokenAccount;
}

const childEntry = fileURLToPath(new URL("./herd-child.ts", import.meta.url));

/** Long-lived child processes, reused across rounds so a benchmark does not time process start-up. */
export class Herd {
  readonly #children: ChildProcess[];

  private constructor(children: ChildProcess[]) {
    this.#children = children;
  }

  static async start(processes: number): Promise<Herd> {
    const children = Array.from({ length: processes }, () =>
      spawn(process.execPath, nodeSourceArgs(childEntry), { stdio: ["ignore", "inherit", "inherit", "ipc"] }),
    );
    await Promise.all(children.map((child) => nextMessage(child, "started")));
    return new Herd(children);
  }

  /**
   * Seeds an expired account, runs one herd across every child and reads back the refresh count and the
   * account. `onRefreshStarted` runs when the first child calls the token endpoint.
   */
  async run(round: HerdRound, onRefreshStarted?: () => void): Promise<HerdResult> {
    const database = new Redis(round.databaseUrl);
    try {
      const account: TokenAccount = {
        id: round.accountId,
        platform: "claude",
        credentials: { accessToken: "at-0", refreshToken: "rt-0", expiresAt: Date.now() - 1_000, tokenVersion: 1 },
      };
      await database.hset(`${round.prefix}accounts`, round.accountId, JSON.stringify(account));
      await database.set(`${round.prefix}provider:refresh-token`, "rt-0");
      const ready = this.#children.map((child) => nextMessage(child, "ready"));
      for (const child of this.#children) child.send({ type: "round", round });
      await Promise.all(ready);
      let notified = false;
      const onMessage = (message: { type?: string }) => {
        if (message.type === "refresh-started" && !notified) {
          notified = true;
          onRefreshStarted?.();
        }
      };
      for (const child of this.#children) child.on("message", onMessage);
      const done = this.#children.map((child) => nextMessage<{ report: HerdChildReport }>(child, "done"));
      for (const child of this.#children) child.send({ type: "go" });
      const reports = (await Promise.all(done)).map((message) => message.report);
      for (const child of this.#children) child.off("message", onMessage);
      const refreshCount = Number(await database.get(`${round.prefix}refresh-count`));
      const stored = JSON.parse((await database.hget(`${round.prefix}accounts`, round.accountId))!) as TokenAccount;
      return { reports, refreshCount, account: stored };
    } finally {
      const keys = await database.keys(`${round.prefix}*`);
      if (keys.length > 0) await database.del(...keys);
      database.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.send({ type: "exit" });
          }),
      ),
    );
  }
}

function nextMessage<T = unknown>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string }) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null) => reject(new Error(`herd child exited (${code}) before "${type}"`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}
