import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { PROCESS_ADMIN_TOKEN, runGateway, secretKey } from "./built-gateway";

const repositoryRoot = fileURLToPath(new URL("../../../../", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "subrelay-pnpm-start-"));
afterAll(() => {
  // A gateway left orphaned (the failure under test) still holds its DATA_DIR lock, which names its pid.
  for (const name of readdirSync(root)) {
    try {
      process.kill(Number.parseInt(readFileSync(join(root, name, "lock"), "utf8"), 10), "SIGKILL");
    } catch {
      // No lock: that gateway exited.
    }
  }
  rmSync(root, { recursive: true, force: true });
});

function startWithPnpm(name: string, detached = false) {
  return runGateway(
    {
      DATA_DIR: join(root, name),
      ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
      SUBRELAY_SECRET_KEY: secretKey(),
      HOME: process.env.HOME ?? root,
    },
    { command: "pnpm", args: ["start"], cwd: repositoryRoot, detached },
  );
}

/** pnpm, turbo (cached) and a gateway start: 20 s alone on a busy 2-core machine, more beside the whole suite. */
const PNPM_START_TIMEOUT_MS = 120_000;

/** True if something still answers at `url` (an orphaned gateway does). */
async function answers(url: string): Promise<boolean> {
  return fetch(`${url}/healthz`).then(
    () => true,
    () => false,
  );
}

describe("`pnpm start` under a supervisor (the root start script)", () => {
  it("SIGTERM to pnpm's pid stops the gateway, and pnpm exits 0 once it has", async () => {
    const run = startWithPnpm("sigterm");
    let url: string;
    try {
      url = await run.listening;
    } catch (error) {
      await run.stop();
      throw error;
    }
    run.child.kill("SIGTERM");
    const exit = await run.exited;
    expect(await answers(url), "the gateway is still serving after pnpm exited").toBe(false);
    expect(exit.code, exit.output).toBe(0);
    expect(exit.output).not.toContain("ELIFECYCLE");
  }, PNPM_START_TIMEOUT_MS);

  it("Ctrl-C (SIGINT to the foreground process group) exits 0 without ELIFECYCLE", async () => {
    const run = startWithPnpm("sigint", true);
    let url: string;
    try {
      url = await run.listening;
    } catch (error) {
      await run.stop();
      throw error;
    }
    process.kill(-run.child.pid!, "SIGINT");
    const exit = await run.exited;
    expect(await answers(url)).toBe(false);
    expect(exit.code, exit.output).toBe(0);
    expect(exit.output).not.toContain("ELIFECYCLE");
  }, PNPM_START_TIMEOUT_MS);
});
