import { chmodSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StartupError } from "./startup-error";

/** Creates the data directory (and parents) if missing and makes it 0700: PGlite writes its files 0666. */
export function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}

/** Another live process holds the data directory: exit 2, a restart cannot help while it runs. */
export class DataDirLockedError extends StartupError {
  override readonly name: string = "DataDirLockedError";
  constructor(
    readonly lockPath: string,
    readonly holderPid: number,
  ) {
    super(
      `the data directory is in use: ${lockPath} is held by process ${holderPid}. ` +
        "Two gateways on one DATA_DIR corrupt each other's data: stop that process, or give this one its own DATA_DIR.",
      { exitCode: 2 },
    );
  }
}

/**
 * Takes `<dataDir>/lock` (the holder's pid, created exclusively) for this process; resolves to the release.
 * A lock whose pid is no longer alive is stale and taken over. Throws DataDirLockedError when a live process
 * holds it. The lock is released on `release()` and, as a fallback, when the process exits.
 */
export function lockDataDir(dataDir: string, pid: number = process.pid): () => void {
  const path = join(dataDir, "lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${pid}\n`, { mode: 0o600, flag: "wx" });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off("exit", release);
        try {
          if (readFileSync(path, "utf8").trim() === String(pid)) unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
      process.on("exit", release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = Number.parseInt(readLock(path), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== pid && isAlive(holder)) throw new DataDirLockedError(path, holder);
    // Stale (its process is gone) or unreadable: take it over.
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new Error(`could not take the data directory lock ${path}`);
}

function readLock(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
