import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { migrationsFolder } from "./migrations-folder";

// The built package's migrationsFolder() is checked on the installed tarball by scripts/check-packages.mjs.
const packageRoot = resolve(import.meta.dirname, "..");

interface Journal {
  dialect: string;
  entries: { idx: number; tag: string }[];
}

describe("migrationsFolder (from source)", () => {
  it("is the package's drizzle folder, which holds the drizzle journal", () => {
    expect(migrationsFolder()).toBe(join(packageRoot, "drizzle"));
    expect(existsSync(join(migrationsFolder(), "meta", "_journal.json"))).toBe(true);
  });

  it("has an SQL file for every migration the journal lists", () => {
    const journal = JSON.parse(
      readFileSync(join(migrationsFolder(), "meta", "_journal.json"), "utf8"),
    ) as Journal;
    expect(journal.dialect).toBe("postgresql");
    expect(journal.entries.length).toBeGreaterThan(0);
    for (const entry of journal.entries)
      expect(existsSync(join(migrationsFolder(), `${entry.tag}.sql`)), entry.tag).toBe(true);
  });
});
