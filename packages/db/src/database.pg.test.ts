import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { migrationContract } from "../test/migration-contract";
import { repositoryContract } from "../test/repository-contract";
import { createDatabase } from "./create-database";
import { generateSecretKey } from "./credential-cipher";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is not set: run through `node scripts/test-env.mjs -- ...`");

/**
 * A fresh database on the test server (drizzle's SQL names "public"."x", so schemas cannot isolate),
 * dropped by the returned function.
 */
async function freshDatabaseUrl(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(databaseUrl!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

repositoryContract("Postgres (pg pool)", async () => {
  const target = await freshDatabaseUrl();
  const database = await createDatabase({ url: target.url, secretKey: generateSecretKey(), poolSize: 5 });
  await database.migrate();
  return {
    database,
    async dispose() {
      await database.close();
      await target.drop();
    },
  };
});

migrationContract("Postgres", async () => {
  const target = await freshDatabaseUrl();
  const secretKey = generateSecretKey();
  return {
    open: (migrationsFolder) => createDatabase({ url: target.url, secretKey, poolSize: 2, migrationsFolder }),
    dispose: () => target.drop(),
  };
});

describe("Postgres migrations", () => {
  it("several processes migrating one empty database at once all succeed (advisory lock)", async () => {
    const target = await freshDatabaseUrl();
    const secretKey = generateSecretKey();
    const replicas = await Promise.all(
      Array.from({ length: 3 }, () => createDatabase({ url: target.url, secretKey, poolSize: 2 })),
    );
    try {
      expect(replicas.every((replica) => replica.kind === "pg")).toBe(true);
      await Promise.all(replicas.map((replica) => replica.migrate()));
      const group = await replicas[0]!.groups.create({ name: "g", platform: "claude" });
      expect(await replicas[2]!.groups.get(group.id)).toEqual(group);
      await Promise.all(replicas.map((replica) => replica.ping()));
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
      await target.drop();
    }
  });
});
