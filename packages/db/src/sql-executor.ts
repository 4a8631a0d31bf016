import type { SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/**
 * What every repository runs on: the drizzle database of either driver (node-postgres or PGlite), or a
 * transaction of it — both are a PgDatabase, so one set of repository code serves both drivers.
 */
export type SqlExecutor = PgDatabase<PgQueryResultHKT>;

/** Runs raw SQL and returns its rows. Both drivers' raw results carry `rows`; only the type differs. */
export async function queryRows<Row>(executor: SqlExecutor, query: SQL): Promise<Row[]> {
  const result: unknown = await executor.execute(query);
  return (result as { rows: Row[] }).rows;
}
