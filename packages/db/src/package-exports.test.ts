import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { migrationsFolder as sourceMigrationsFolder } from "./migrations-folder";

// Runs against the build output (turbo builds before tests): what npm users get.
const distDirectory = fileURLToPath(new URL("../dist/", import.meta.url));
const packageMigrations = fileURLToPath(new URL("../drizzle", import.meta.url));

interface BuiltModule {
  createDatabase: unknown;
  migrationsFolder: () => string;
  parseSecretKey: unknown;
  DatabaseError: unknown;
}

describe("built package", () => {
  it("the CommonJS build exposes the API and finds the shipped migrations", () => {
    const built = createRequire(import.meta.url)("../dist/index.cjs") as BuiltModule;
    expect(typeof built.createDatabase).toBe("function");
    expect(typeof built.parseSecretKey).toBe("function");
    expect(built.migrationsFolder()).toBe(packageMigrations);
  });

  it("the ESM build exposes the API and finds the shipped migrations", async () => {
    const built = (await import(/* @vite-ignore */ `${distDirectory}index.js`)) as BuiltModule;
    expect(typeof built.createDatabase).toBe("function");
    expect(typeof built.DatabaseError).toBe("function");
    expect(built.migrationsFolder()).toBe(packageMigrations);
  });

  it("the migrations folder holds the drizzle journal and SQL, and the source resolves it too", () => {
    expect(sourceMigrationsFolder()).toBe(packageMigrations);
    expect(existsSync(`${packageMigrations}/meta/_journal.json`)).toBe(true);
    expect(readdirSync(packageMigrations).some((file) => file.endsWith(".sql"))).toBe(true);
  });

  it("ships type declarations for both builds", () => {
    expect(existsSync(`${distDirectory}index.d.ts`)).toBe(true);
    expect(existsSync(`${distDirectory}index.d.cts`)).toBe(true);
  });
});
