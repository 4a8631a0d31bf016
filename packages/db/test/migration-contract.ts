import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../src/create-database";
import { migrationsFolder } from "../src/migrations-folder";
import { queryRows } from "../src/sql-executor";

/**
 * Opens one database — the same storage on every call — applying migrations from `migrationsFolder` when
 * given, else from the package's own folder. `dispose` removes the storage once the test is done.
 */
export interface ReopenableDatabase {
  open(migrationsFolder?: string): Promise<Database>;
  dispose(): Promise<void>;
}

/** A copy of the shipped migrations whose journal lists only the first `count` of them. */
async function migrationsUpTo(count: number): Promise<{ folder: string; remove(): Promise<void> }> {
  const folder = await mkdtemp(join(tmpdir(), "subrelay-migrations-"));
  await cp(migrationsFolder(), folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(await readFile(journalPath, "utf8")) as { entries: unknown[] };
  journal.entries = journal.entries.slice(0, count);
  await writeFile(journalPath, JSON.stringify(journal));
  return { folder, remove: () => rm(folder, { recursive: true, force: true }) };
}

/** The SQLSTATE of a driver error, looking through drizzle's wrapper. */
function sqlStateOf(error: unknown): unknown {
  for (let current = error; typeof current === "object" && current !== null;) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Upgrades from earlier schemas, run once per driver. */
export function migrationContract(driver: string, create: () => Promise<ReopenableDatabase>): void {
  describe(`migrations on ${driver}`, () => {
    it("0001 turns legacy `forced` groups into `single` ones and refuses `forced` afterwards", async () => {
      const storage = await create();
      const initial = await migrationsUpTo(1);
      try {
        const before = await storage.open(initial.folder);
        await before.migrate();
        await before.db.execute(
          sql`insert into groups (name, platform, mode) values ('legacy', 'claude', 'forced'), ('kept', 'openai', 'mixed')`,
        );
        await before.close();

        const after = await storage.open();
        try {
          await after.migrate();
          const rows = await queryRows<{ name: string; mode: string }>(
            after.db,
            sql`select name, mode from groups order by name`,
          );
          expect(rows).toEqual([
            { name: "kept", mode: "mixed" },
            { name: "legacy", mode: "single" },
          ]);
          const refused = await after.db
            .execute(sql`insert into groups (name, platform, mode) values ('new', 'claude', 'forced')`)
            .then(
              () => "inserted",
              (error: unknown) => sqlStateOf(error),
            );
          expect(refused).toBe("23514"); // check_violation
          await expect(
            after.groups.create({ name: "new", platform: "claude", mode: "forced" as "single" }),
          ).rejects.toMatchObject({ code: "invalid_input", message: expect.stringContaining("forced") });
        } finally {
          await after.close();
        }
      } finally {
        await initial.remove();
        await storage.dispose();
      }
    }, 180_000); // two PGlite starts, one with initdb on disk
  });
}
