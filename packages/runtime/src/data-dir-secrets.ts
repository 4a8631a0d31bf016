import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A secret kept in the data directory: read if present, else generated and written with mode 0600.
 * `created` tells the caller to show it once.
 */
export function dataDirSecret(dataDir: string, name: string, generate: () => string): { value: string; created: boolean } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, name);
  try {
    return { value: readFileSync(path, "utf8").trim(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const value = generate();
  // `wx`: if another process created it meanwhile, fail rather than overwrite the key it used.
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
  return { value, created: true };
}

export function generateAdminToken(): string {
  return `sra-${randomBytes(24).toString("base64url")}`;
}
