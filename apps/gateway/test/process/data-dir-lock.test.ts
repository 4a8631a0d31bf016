import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROCESS_ADMIN_TOKEN, runExpectingExit, runGateway, secretKey } from "./built-gateway";

const root = mkdtempSync(join(tmpdir(), "subrelay-data-dir-lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has exited (so no live process holds it, barring reuse within the test). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = child.pid!;
  await new Promise((resolve) => child.once("exit", resolve));
  return pid;
}

describe("the embedded gateway's data directory lock (built dist/main.js)", () => {
  it("refuses a second gateway on the same DATA_DIR with exit 2 naming the lock and the holder's pid; after the first exits a new one starts", async () => {
    const dataDir = join(root, "shared");
    const env = { DATA_DIR: dataDir, ADMIN_TOKEN: PROCESS_ADMIN_TOKEN, SUBRELAY_SECRET_KEY: secretKey() };
    const first = runGateway(env);
    try {
      await first.listening;
      const second = await runExpectingExit(env);
      expect(second.listened).toBe(false);
      expect(second.code).toBe(2);
      expect(second.output).toContain(join(dataDir, "lock"));
      expect(second.output).toContain(`process ${first.child.pid}`);
    } finally {
      await first.stop();
    }
    expect((await first.exited).code).toBe(0);
    expect(existsSync(join(dataDir, "lock"))).toBe(false);

    const third = runGateway(env);
    try {
      const url = await third.listening;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    } finally {
      await third.stop();
    }
    expect((await third.exited).code).toBe(0);
  });

  it("takes over a stale lock whose process is gone", async () => {
    const dataDir = join(root, "stale");
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, "lock"), `${await deadPid()}\n`);
    const run = runGateway({ DATA_DIR: dataDir, ADMIN_TOKEN: PROCESS_ADMIN_TOKEN, SUBRELAY_SECRET_KEY: secretKey() });
    try {
      await run.listening;
    } finally {
      await run.stop();
    }
    expect((await run.exited).code).toBe(0);
  });
});
