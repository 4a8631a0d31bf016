import type { RefreshLockResult } from "@subrelay/token-cache";
import type { SqlExecutor } from "./sql-executor";

/**
 * How `AccountRepository.withRefreshLock` holds an account's refresh lock: one holder per account, across
 * every process on the database. `critical` gets the executor to run its reads and writes on.
 */
export interface RefreshLocks {
  run<T>(accountId: number, waitMs: number, critical: (db: SqlExecutor) => Promise<T>): Promise<RefreshLockResult<T>>;
}

/** The class id of the two-key advisory locks on account refreshes ("SRrf"); the one-key locks are another space. */
const REFRESH_LOCK_CLASS = 0x5352_7266;
/** SQLSTATE lock_not_available: `lock_timeout` ran out. */
const LOCK_NOT_AVAILABLE = "55P03";

interface PoolClientLike {
  query(text: string, values?: unknown[]): Promise<unknown>;
  release(destroy?: boolean): void;
}

/**
 * Postgres: a session advisory lock on a connection of its own, which `critical` also runs on (its reads and
 * writes commit one by one, so a save is durable even when the lock's connection fails later, and a held
 * lock never needs a second connection from the pool). Waits at most `waitMs` (`lock_timeout`).
 * A connection that could not be unlocked is destroyed, which releases the lock server-side.
 */
export function advisoryRefreshLocks<Client extends PoolClientLike>(
  connect: () => Promise<Client>,
  executorOf: (client: Client) => SqlExecutor,
): RefreshLocks {
  return {
    async run(accountId, waitMs, critical) {
      const client = await connect();
      let broken = false;
      try {
        try {
          await client.query("select set_config('lock_timeout', $1, false)", [`${Math.max(1, Math.ceil(waitMs))}ms`]);
          await client.query("select pg_advisory_lock($1, $2)", [REFRESH_LOCK_CLASS, accountId]);
        } catch (error) {
          if ((error as { code?: unknown } | null)?.code === LOCK_NOT_AVAILABLE) return { locked: false };
          broken = true;
          throw error;
        } finally {
          await client.query("select set_config('lock_timeout', '0', false)").catch(() => {
            broken = true;
          });
        }
        try {
          return { locked: true, value: await critical(executorOf(client)) };
        } finally {
          await client.query("select pg_advisory_unlock($1, $2)", [REFRESH_LOCK_CLASS, accountId]).catch(() => {
            broken = true;
          });
        }
      } finally {
        client.release(broken);
      }
    },
  };
}

/**
 * Embedded PGlite: one process owns the data directory, so an in-process queue per account is the lock.
 * A caller that gives up after `waitMs` leaves its place without running; the ones behind it still wait
 * for the holder.
 */
export function inProcessRefreshLocks(db: SqlExecutor): RefreshLocks {
  const tails = new Map<number, Promise<void>>();
  return {
    async run(accountId, waitMs, critical) {
      let release!: () => void;
      const mine = new Promise<void>((resolve) => {
        release = resolve;
      });
      const previous = tails.get(accountId);
      const tail = previous === undefined ? mine : previous.then(() => mine);
      tails.set(accountId, tail);
      try {
        if (previous !== undefined && !(await settlesWithin(previous, waitMs))) return { locked: false };
        return { locked: true, value: await critical(db) };
      } finally {
        release();
        if (tails.get(accountId) === tail) tails.delete(accountId);
      }
    },
  };
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
