import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./connections";
import { DataDirLockedError, lockDataDir } from "./data-dir";
import { StartupError } from "./startup-error";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "subrelay-lock-"));
  dirs.push(dir);
  return dir;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = child.pid!;
  await new Promise((resolve) => child.once("exit", resolve));
  return pid;
}

describe("lockDataDir", () => {
  it("refuses while a live process holds the lock, naming the lock file and the pid (exit code 2)", () => {
    const dir = dataDir();
    // The parent (vitest's runner) is alive and is not this process.
    writeFileSync(join(dir, "lock"), `${process.ppid}\n`);
    let caught: unknown;
    try {
      lockDataDir(dir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DataDirLockedError);
    expect(caught).toBeInstanceOf(StartupError);
    expect((caught as DataDirLockedError).exitCode).toBe(2);
    expect((caught as Error).message).toContain(`${join(dir, "lock")} is held by process ${process.ppid}`);
  });

  it("takes over a lock whose process is gone, and release removes it", async () => {
    const dir = dataDir();
    writeFileSync(join(dir, "lock"), `${await deadPid()}\n`);
    const release = lockDataDir(dir);
    expect(readFileSync(join(dir, "lock"), "utf8").trim()).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, "lock"))).toBe(false);
  });

  it("release leaves a lock another process has since taken", () => {
    const dir = dataDir();
    const release = lockDataDir(dir);
    writeFileSync(join(dir, "lock"), `${process.ppid}\n`);
    release();
    expect(readFileSync(join(dir, "lock"), "utf8").trim()).toBe(String(process.ppid));
  });
});

describe("openDatabase in embedded mode", () => {
  const secretKey = "ab".repeat(32);

  it("holds the data directory until close(), and opens nothing while another process holds it", async () => {
    const dir = dataDir();
    const database = await openDatabase({ dataDir: dir, secretKey });
    expect(readFileSync(join(dir, "lock"), "utf8").trim()).toBe(String(process.pid));
    await database.close();
    expect(existsSync(join(dir, "lock"))).toBe(false);

    writeFileSync(join(dir, "lock"), `${process.ppid}\n`);
    await expect(openDatabase({ dataDir: dir, secretKey })).rejects.toBeInstanceOf(DataDirLockedError);
  });

  it("releases the lock when the start fails after taking it (a key that does not match)", async () => {
    const dir = dataDir();
    await (await openDatabase({ dataDir: dir, secretKey })).close();
    await expect(openDatabase({ dataDir: dir, secretKey: "cd".repeat(32) })).rejects.toMatchObject({ exitCode: 2 });
    expect(existsSync(join(dir, "lock"))).toBe(false);
  });
});
