import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeSourceArgs } from "../../../scripts/node-source.mjs";
import { freshPostgres } from "@subrelay/worker/testing";

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error("REDIS_URL is not set: run through `node scripts/test-env.mjs -- ...`");

const mainEntry = fileURLToPath(new URL("./main.ts", import.meta.url));

/** Runs main.ts with `env` (on top of a clean environment); resolves with its output once it printed `until` or exited. */
function runMain(env: Record<string, string>, until?: string) {
  const child = spawn(process.execPath, nodeSourceArgs(mainEntry), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const printed = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (until !== undefined && stdout.includes(until)) resolve();
    });
    void exited.then(() => (until === undefined ? resolve() : reject(new Error(`main exited early:\n${stderr}`))));
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return { child, exited, printed, output: () => ({ stdout, stderr }) };
}

describe("the worker process (main.ts)", () => {
  let target: Awaited<ReturnType<typeof freshPostgres>>;

  beforeAll(async () => {
    target = await freshPostgres();
  });
  afterAll(async () => {
    await target.drop();
  });

  it("without Redis, explains that the embedded mode runs the worker in the gateway, and exits 2", async () => {
    const run = runMain({ DATABASE_URL: target.url, SUBRELAY_SECRET_KEY: target.secretKey });
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toContain("runs inside the gateway process");
  });

  it("serves /healthz, /readyz and /metrics, and exits 0 on SIGTERM", async () => {
    const run = runMain(
      {
        DATABASE_URL: target.url,
        SUBRELAY_SECRET_KEY: target.secretKey,
        REDIS_URL: redisUrl,
        REDIS_PREFIX: `test:main:${process.pid}:`,
        WORKER_PORT: "0",
        LOG_LEVEL: "silent",
      },
      "listening on ",
    );
    await run.printed;
    const address = /listening on (http:\/\/[^\s]+)/.exec(run.output().stdout)?.[1];
    expect(address).toBeDefined();

    const health = await fetch(`${address}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${address}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", database: true, redis: true });
    const metrics = await fetch(`${address}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain("subrelay_worker_outbox_lag_seconds");
    expect(text).toContain("subrelay_worker_outbox_lease_held");
    expect((await fetch(`${address}/nope`)).status).toBe(404);

    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });
});
