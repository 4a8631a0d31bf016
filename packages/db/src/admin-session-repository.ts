import { and, eq, lte } from "drizzle-orm";
import { adminSessions } from "./schema";
import type { SqlExecutor } from "./sql-executor";

/**
 * Signed-in console sessions (`admin_sessions`). Only a digest of a session's cookie value is given and
 * stored (the caller hashes it): a read of the table signs nobody in.
 */
export class AdminSessionRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** Stores a session by the SHA-256 hex of its cookie value, ending at `expiresAt` (epoch ms). */
  async create(idHash: string, expiresAt: number): Promise<void> {
    await this.#db.insert(adminSessions).values({ idHash, expiresAt: new Date(expiresAt) });
  }

  /**
   * The end (epoch ms) of the session with this digest when it is still open at `now`; null otherwise. An
   * expired session's row is deleted on the way.
   */
  async find(idHash: string, now: number): Promise<number | null> {
    const [row] = await this.#db.select().from(adminSessions).where(eq(adminSessions.idHash, idHash));
    if (!row) return null;
    const expiresAt = row.expiresAt.getTime();
    if (expiresAt > now) return expiresAt;
    await this.#db.delete(adminSessions).where(and(eq(adminSessions.idHash, idHash), lte(adminSessions.expiresAt, new Date(now))));
    return null;
  }

  /** Ends a session; false when none had this digest. */
  async delete(idHash: string): Promise<boolean> {
    const rows = await this.#db.delete(adminSessions).where(eq(adminSessions.idHash, idHash)).returning({ idHash: adminSessions.idHash });
    return rows.length > 0;
  }

  /** Deletes every session that ended by `now`; how many. */
  async deleteExpired(now: number): Promise<number> {
    const rows = await this.#db.delete(adminSessions).where(lte(adminSessions.expiresAt, new Date(now))).returning({ idHash: adminSessions.idHash });
    return rows.length;
  }
}
