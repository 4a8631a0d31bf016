import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AccountRepository } from "./account-repository";
import { createDatabase, type Database } from "./create-database";
import { CredentialCipher, generateSecretKey } from "./credential-cipher";
import { checkSecretKey } from "./key-check";

/** The secret key's check value (issue 13, item 14), on one in-memory PGlite; another key = another cipher. */
describe("secret key check value", () => {
  let database: Database;
  const key = generateSecretKey();
  const other = generateSecretKey();
  const check = (secretKey: string) => {
    const cipher = new CredentialCipher(secretKey);
    return checkSecretKey(database.db, cipher, new AccountRepository(database.db, cipher));
  };

  beforeAll(async () => {
    database = await createDatabase({ secretKey: key });
    await database.migrate();
  }, 180_000);
  afterAll(async () => database?.close());
  beforeEach(async () => {
    await database.db.execute(sql`drop table if exists subrelay_key_check`);
    await database.db.execute(sql`truncate accounts, groups, account_groups restart identity cascade`);
  });

  it("stores the value at first start, then matches the same key and refuses another one", async () => {
    expect(await database.checkSecretKey()).toBe("stored");
    expect(await database.checkSecretKey()).toBe("matched");
    await expect(check(other)).rejects.toMatchObject({ code: "secret_key_mismatch" });
    // The refused key did not replace the stored value.
    expect(await check(key)).toBe("matched");
  });

  it("checks a database from before the check value by its stored credentials", async () => {
    await database.accounts.create({
      name: "a",
      platform: "claude",
      type: "apikey",
      credentials: { apiKey: "sk-ant-key-check" },
    });
    await expect(check(other)).rejects.toMatchObject({ code: "secret_key_mismatch" });
    expect(await check(key)).toBe("stored");
    expect(await check(key)).toBe("matched");
  });

  it("never puts the key in its message", async () => {
    await database.checkSecretKey();
    const error: unknown = await check(other).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toContain(other);
    expect((error as Error).message).not.toContain(key);
  });
});
