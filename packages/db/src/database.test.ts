import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { migrationContract } from "../test/migration-contract";
import { repositoryContract } from "../test/repository-contract";
import { createDatabase, type Database } from "./create-database";
import { embeddedPostgresSettings } from "./embedded-postgres-settings";
import { generateSecretKey } from "./credential-cipher";

repositoryContract("PGlite (in memory)", async () => {
  const database = await createDatabase({ secretKey: generateSecretKey() });
  await database.migrate();
  return { database, dispose: () => database.close() };
});

migrationContract("PGlite (on a data directory)", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "subrelay-db-"));
  const secretKey = generateSecretKey();
  return {
    open: (migrationsFolder) => createDatabase({ dataDir, secretKey, migrationsFolder }),
    dispose: () => rm(dataDir, { recursive: true, force: true }),
  };
});

describe("PGlite on a data directory", () => {
  it("persists accounts and credentials across close and reopen", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "subrelay-db-"));
    const secretKey = generateSecretKey();
    try {
      const first = await createDatabase({ dataDir, secretKey });
      expect(first.kind).toBe("pglite");
      await first.migrate();
      const group = await first.groups.create({ name: "g", platform: "claude" });
      const account = await first.accounts.create({
        name: "a",
        platform: "claude",
        type: "oauth",
        credentials: { accessToken: "at", refreshToken: "rt", expiresAt: 1 },
        groupIds: [group.id],
      });
      await first.close();

      const second = await createDatabase({ dataDir, secretKey });
      await second.migrate();
      expect(await second.accounts.get(account.id)).toEqual({
        id: account.id,
        platform: "claude",
        credentials: { accessToken: "at", refreshToken: "rt", expiresAt: 1 },
      });
      expect(await second.accounts.bucketsOfAccount(account.id)).toEqual([
        { groupId: group.id, platform: "claude", mode: "single" },
      ]);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000); // two PGlite starts, one with initdb on disk

  it("rejects a bad secret key before opening anything", async () => {
    await expect(createDatabase({ secretKey: "too-short" })).rejects.toMatchObject({
      code: "invalid_secret_key",
    });
  });
});

async function setting(database: Database, name: string): Promise<string> {
  const result = (await database.db.execute(sql`select current_setting(${name}) as value`)) as { rows: Array<{ value: string }> };
  return result.rows[0]!.value;
}

describe("PGlite's Postgres settings", () => {
  it("starts a data directory initialised with PGlite's defaults with the embedded settings", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "subrelay-db-"));
    try {
      // initdb as PGlite runs it by default writes shared_buffers = 128MB into postgresql.conf.
      const plain = await PGlite.create(dataDir);
      expect((await plain.query<{ shared_buffers: string }>("show shared_buffers")).rows[0]?.shared_buffers).toBe("128MB");
      await plain.close();

      const database = await createDatabase({ dataDir, secretKey: generateSecretKey() });
      try {
        expect(embeddedPostgresSettings.shared_buffers).toBe("16MB");
        expect(await setting(database, "shared_buffers")).toBe("16MB");
      } finally {
        await database.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000); // two PGlite starts, one with initdb on disk

  it("applies pgliteSettings over the defaults", async () => {
    const database = await createDatabase({
      secretKey: generateSecretKey(),
      pgliteSettings: { shared_buffers: "8MB", work_mem: "1MB" },
    });
    try {
      expect(await setting(database, "shared_buffers")).toBe("8MB");
      expect(await setting(database, "work_mem")).toBe("1MB");
    } finally {
      await database.close();
    }
  }, 60_000);
});
