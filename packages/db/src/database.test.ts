import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrationContract } from "../test/migration-contract";
import { repositoryContract } from "../test/repository-contract";
import { createDatabase } from "./create-database";
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
