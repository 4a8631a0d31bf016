import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Reads a fixture file as UTF-8: `readFixture(join(import.meta.dirname, "__fixtures__"), "stream.sse")`. */
export function readFixture(dir: string | URL, name: string): string {
  return readFileSync(join(typeof dir === "string" ? dir : fileURLToPath(dir), name), "utf8");
}
