import { sql } from "drizzle-orm";
import { decryptStoredCredentials, type AccountRepository } from "./account-repository";
import type { CredentialCipher } from "./credential-cipher";
import { DatabaseError } from "./database-error";
import { queryRows, type SqlExecutor } from "./sql-executor";

/**
 * Checks the configured secret key against the one this database's credentials were stored with: its
 * check value is kept in `subrelay_key_check` at first start. A database from before the check value
 * existed is checked by decrypting one stored credential, then gets its value. Resolves to "stored" (first
 * start) or "matched"; throws DatabaseError `secret_key_mismatch` when the key is another one. Once the key
 * is known to match, credentials still stored unbound (v1) are re-encrypted bound to their row (v2): see
 * `AccountRepository.bindUnboundCredentials`.
 */
export async function checkSecretKey(
  db: SqlExecutor,
  cipher: CredentialCipher,
  accounts: AccountRepository,
): Promise<"stored" | "matched"> {
  const value = cipher.checkValue();
  await db.execute(
    sql`create table if not exists subrelay_key_check (id smallint primary key check (id = 1), check_value text not null, created_at timestamptz not null default now())`,
  );
  const stored = await readCheckValue(db);
  if (stored !== undefined) {
    if (stored !== value) throw mismatch();
    await accounts.bindUnboundCredentials();
    return "matched";
  }
  const [any] = await queryRows<{ id: number | string; credentials_encrypted: string }>(
    db,
    sql`select id, credentials_encrypted from accounts order by id limit 1`,
  );
  if (any) {
    try {
      decryptStoredCredentials(cipher, any.id, any.credentials_encrypted);
    } catch (error) {
      if (error instanceof DatabaseError && error.code === "decrypt_failed") throw mismatch();
      throw error;
    }
  }
  await db.execute(sql`insert into subrelay_key_check (id, check_value) values (1, ${value}) on conflict (id) do nothing`);
  // Another replica may have stored its value first: it must be the same key.
  if ((await readCheckValue(db)) !== value) throw mismatch();
  await accounts.bindUnboundCredentials();
  return "stored";
}

async function readCheckValue(db: SqlExecutor): Promise<string | undefined> {
  const [row] = await queryRows<{ check_value: string }>(db, sql`select check_value from subrelay_key_check where id = 1`);
  return row?.check_value;
}

function mismatch(): DatabaseError {
  return new DatabaseError(
    "SUBRELAY_SECRET_KEY is not the key this database's credentials were stored with",
    { code: "secret_key_mismatch" },
  );
}
