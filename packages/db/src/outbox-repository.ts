import { asc, gt, lte, max, sql } from "drizzle-orm";
import { schedulerOutbox } from "./schema";
import type { SqlExecutor } from "./sql-executor";

/**
 * What a `scheduler_outbox` row says happened. The consumer rebuilds the buckets named by `groupIds`
 * (or by the account's current groups) and pushes single-account changes with `setAccount`.
 * - `account.created` / `account.updated` / `account.deleted`: `accountId`; payload `{ groupIds }` — for
 *   updates the union of the groups before and after, for deletes the groups it was in.
 * - `account.state`: `accountId`; payload `{ change }` (`rate_limited` | `overloaded` | `temp_unschedulable`
 *   | `error` | `expired_cleared` | `reset`). Read the account's current snapshot; the payload is a hint.
 * - `group.created`: `groupId`.
 * - `group.deleted`: `groupId`; payload `{ platform, mode }`, its bucket's (to be emptied; its members'
 *   `account.updated` rows name their other buckets).
 */
export type OutboxEvent =
  "account.created" | "account.updated" | "account.deleted" | "account.state" | "group.created" | "group.deleted";

/** One outbox row. Ids are positive, strictly increasing, and committed in id order (see writeOutboxEvents). */
export interface OutboxRow {
  id: number;
  event: OutboxEvent;
  accountId: string | null;
  groupId: number | null;
  payload: Record<string, unknown> | null;
  /** Epoch ms. */
  createdAt: number;
}

export interface NewOutboxRow {
  event: OutboxEvent;
  accountId?: number | null;
  groupId?: number | null;
  payload?: Record<string, unknown> | null;
}

// Any constant works; it only has to be the same in every process writing the outbox.
const OUTBOX_LOCK_KEY = 0x5375_6272_656c_61n; // "Subrela"

/**
 * Appends outbox rows inside the caller's transaction. A transaction-scoped advisory lock is taken first
 * (and held to commit) so outbox-writing transactions commit in id order: a consumer that has seen id N
 * will never later see a row below N appear. Call it as the last write of the transaction to keep lock
 * hold times short and lock order deadlock-free.
 */
export async function writeOutboxEvents(transaction: SqlExecutor, rows: NewOutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await transaction.execute(sql`select pg_advisory_xact_lock(${sql.raw(OUTBOX_LOCK_KEY.toString())})`);
  await transaction.insert(schedulerOutbox).values(
    rows.map((row) => ({
      event: row.event,
      accountId: row.accountId ?? null,
      groupId: row.groupId ?? null,
      payload: row.payload ?? null,
    })),
  );
}

/** The `scheduler_outbox` table, as its single consumer (the refresh worker) reads it. */
export class OutboxRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** Up to `limit` rows with id > `watermark`, oldest first. */
  async readAfter(watermark: number, limit: number): Promise<OutboxRow[]> {
    const rows = await this.#db
      .select()
      .from(schedulerOutbox)
      .where(gt(schedulerOutbox.id, watermark))
      .orderBy(asc(schedulerOutbox.id))
      .limit(limit);
    return rows.map((row) => ({
      id: row.id,
      event: row.event as OutboxEvent,
      accountId: row.accountId === null ? null : String(row.accountId),
      groupId: row.groupId,
      payload: (row.payload ?? null) as Record<string, unknown> | null,
      createdAt: row.createdAt.getTime(),
    }));
  }

  /** Deletes every row with id <= `id` (consumed rows); returns how many went. */
  async deleteUpTo(id: number): Promise<number> {
    const deleted = await this.#db
      .delete(schedulerOutbox)
      .where(lte(schedulerOutbox.id, id))
      .returning({ id: schedulerOutbox.id });
    return deleted.length;
  }

  /** The highest id present, or 0 when the table is empty. */
  async maxId(): Promise<number> {
    const [row] = await this.#db.select({ value: max(schedulerOutbox.id) }).from(schedulerOutbox);
    return row?.value === null || row?.value === undefined ? 0 : Number(row.value);
  }
}
