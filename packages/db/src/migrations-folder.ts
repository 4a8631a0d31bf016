import { fileURLToPath } from "node:url";

/**
 * The absolute path of the SQL migrations shipped with this package (`<package>/drizzle`). Works from the
 * TypeScript source and from both builds: src/ and dist/ both sit one level below the package root, and
 * the CJS build gets `import.meta.url` from tsup's shim (see tsup.config.ts).
 */
export function migrationsFolder(): string {
  return fileURLToPath(new URL("../drizzle", import.meta.url));
}
