import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AccountRepository } from "./account-repository";
import { createDatabase, type Database } from "./create-database";
import { CredentialCipher, generateSecretKey } from "./credential-cipher";
import { DatabaseError } from "./database-error";
import { checkSecretKey } from "./key-check";
import { queryRows } from "./sql-executor";

/**
 * Credentials bound to their row (issue 13, item 12): rows written before the binding (format v1, no
 * additional data) are re-encrypted bound to their account id (v2) by the start-up key check, and read the
 * same afterwards. One in-memory PGlite.
 */
describe("credentials stored before the row binding (v1)", () => {
  let database: Database;
  const key = generateSecretKey();
  const unbound = new CredentialCipher(key);
  const oauth = { accessToken: "at-SECRET-old", refreshToken: "rt-SECRET-old", expiresAt: 1 };

  const blobOf = async (id: string) => {
    const [row] = await queryRows<{ credentials_encrypted: string }>(
      database.db,
      sql`select credentials_encrypted from accounts where id = ${Number(id)}`,
    );
    return row!.credentials_encrypted;
  };
  const setBlob = (id: string, blob: string) =>
    database.db.execute(sql`update accounts set credentials_encrypted = ${blob} where id = ${Number(id)}`);
  /** Two accounts whose rows hold what a gateway before the binding wrote: v1, no additional data. */
  const legacyAccounts = async () => {
    const first = await database.accounts.create({ name: "o", platform: "claude", type: "oauth", credentials: oauth });
    const second = await database.accounts.create({
      name: "k",
      platform: "openai",
      type: "apikey",
      credentials: { apiKey: "sk-SECRET-old" },
    });
    await setBlob(first.id, unbound.encryptJson({ ...oauth, tokenVersion: 3 }));
    await setBlob(second.id, unbound.encryptJson({ apiKey: "sk-SECRET-old" }));
    return { first, second };
  };

  beforeAll(async () => {
    database = await createDatabase({ secretKey: key });
    await database.migrate();
  }, 180_000);
  afterAll(async () => database?.close());
  beforeEach(async () => {
    await database.db.execute(sql`drop table if exists subrelay_key_check`);
    await database.db.execute(sql`truncate accounts, groups, account_groups, scheduler_outbox restart identity cascade`);
  });

  it("writes new credentials bound (v2)", async () => {
    const account = await database.accounts.create({ name: "n", platform: "claude", type: "oauth", credentials: oauth });
    expect(await blobOf(account.id)).toMatch(/^v2\.[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("re-encrypts v1 rows bound at the key check, and they read the same afterwards", async () => {
    const { first, second } = await legacyAccounts();
    const before = await blobOf(first.id);
    expect(before).toMatch(/^v1\./);
    expect(await database.checkSecretKey()).toBe("stored");
    expect(await blobOf(first.id)).toMatch(/^v2\./);
    expect(await blobOf(second.id)).toMatch(/^v2\./);
    expect(await database.accounts.get(first.id)).toEqual({
      id: first.id,
      platform: "claude",
      credentials: { ...oauth, tokenVersion: 3 },
    });
    expect(await database.accounts.getCredentials(second.id)).toEqual({
      type: "apikey",
      credentials: { apiKey: "sk-SECRET-old" },
    });
    // Bound now: the old unbound blob put back (a copy from a backup, another row) is refused.
    await setBlob(second.id, before);
    const error = await database.accounts.getCredentials(second.id).catch((caught: unknown) => caught);
    expect(DatabaseError.isInstance(error) && error.code).toBe("decrypt_failed");
    expect((error as Error).message).not.toContain("SECRET-");
  });

  it("binds v1 rows at every start with a stored check value, and leaves v2 rows as they are", async () => {
    const bound = await database.accounts.create({ name: "b", platform: "claude", type: "oauth", credentials: oauth });
    expect(await database.checkSecretKey()).toBe("stored");
    const boundBlob = await blobOf(bound.id);
    const { first } = await legacyAccounts();
    expect(await database.checkSecretKey()).toBe("matched");
    expect(await blobOf(first.id)).toMatch(/^v2\./);
    expect(await blobOf(bound.id)).toBe(boundBlob);
    expect((await database.accounts.get(first.id))!.credentials.refreshToken).toBe("rt-SECRET-old");
  });

  it("checks a v1 database without a check value against its rows: another key is refused, nothing rewritten", async () => {
    const { first } = await legacyAccounts();
    const before = await blobOf(first.id);
    const wrong = new CredentialCipher(generateSecretKey());
    await expect(checkSecretKey(database.db, wrong, new AccountRepository(database.db, wrong))).rejects.toMatchObject({
      code: "secret_key_mismatch",
    });
    expect(await blobOf(first.id)).toBe(before);
    expect(await database.checkSecretKey()).toBe("stored");
    expect(await blobOf(first.id)).toMatch(/^v2\./);
  });

  it("leaves a v1 row that does not decrypt under the right key as it is (it reads as decrypt_failed)", async () => {
    const { first, second } = await legacyAccounts();
    const blob = await blobOf(second.id);
    // The byte before the last is replaced: that one is always compared.
    const broken = blob.slice(0, -2) + (blob.at(-2) === "A" ? "B" : "A") + blob.slice(-1);
    await setBlob(second.id, broken);
    expect(await database.checkSecretKey()).toBe("stored");
    expect(await blobOf(first.id)).toMatch(/^v2\./);
    expect(await blobOf(second.id)).toBe(broken);
    const error = await database.accounts.getCredentials(second.id).catch((caught: unknown) => caught);
    expect(DatabaseError.isInstance(error) && error.code).toBe("decrypt_failed");
  });
});
