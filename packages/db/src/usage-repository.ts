import { and, count, eq, getTableName, gte, lt, sql, sum } from "drizzle-orm";
import { DatabaseError } from "./database-error";
import { usageLogs } from "./schema";
import type { SqlExecutor } from "./sql-executor";

/** One relayed request's usage. */
export interface UsageRow {
  /** The gateway's request id. */
  requestId: string;
  apiKeyId: number | null;
  accountId: string | null;
  groupId: number | null;
  platform: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Of cacheWriteTokens, those cached for 5 minutes and for 1 hour; omitted: 0. */
  cacheWrite5mTokens?: number;
  cacheWrite1hTokens?: number;
  /** The model the upstream was asked for, when the account's model map renamed it; omitted: null. */
  upstreamModel?: string | null;
  /** What the request cost in USD; omitted: 0. */
  costUsd?: number;
  /** True when no price matched the model; omitted: false. */
  unpriced?: boolean;
  /** HTTP status returned to the client. */
  status: number;
  stream: boolean;
  /** Milliseconds from request to the end of the response. */
  durationMs: number;
  /** Milliseconds to the first byte sent to the client; null when none was sent. */
  ttfbMs: number | null;
  /** Epoch ms of the request; omitted: when the row is written. */
  createdAt?: number;
}

export type UsageGroupBy = "account" | "key" | "model";

export interface UsageTotalsQuery {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  groupBy: UsageGroupBy;
}

/** Sums for one account / key / model. `key` is the account id, API key id (as a string) or model; null when the rows had none. */
export interface UsageTotals {
  key: string | null;
  requests: number;
  /** Requests answered with HTTP status >= 400. */
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** What the rows cost, USD (their `costUsd` summed; unpriced rows count 0). */
  costUsd: number;
}

/** The starts of the windows a key's use is summed over (epoch ms, each inclusive; every one ends now). */
export interface KeyUsageQuery {
  apiKeyId: number;
  minuteStart: number;
  dayStart: number;
  weekStart: number;
  monthStart: number;
}

/** One key's use from its usage rows: cost in USD per window and over its life, requests and tokens (every class). */
export interface KeyUsage {
  totalUsd: number;
  monthUsd: number;
  weekUsd: number;
  dayUsd: number;
  requestsDay: number;
  requestsMinute: number;
  tokensDay: number;
  tokensMinute: number;
}

export type UsageStep = "minute" | "hour" | "day";

/** The length of each step, ms. Days are UTC days. */
export const USAGE_STEP_MS: Readonly<Record<UsageStep, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export interface UsageSeriesQuery {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive; after `from`. */
  to: number;
  step: UsageStep;
  /** Omitted: one line, `total`, over every row. */
  groupBy?: UsageGroupBy;
  /** The most buckets allowed (default 2,000); more throws DatabaseError `invalid_input`. */
  maxBuckets?: number;
}

/** One line of a series: its values per bucket, aligned with `UsageSeries.buckets`. */
export interface UsageSeriesLine {
  /** The account id, API key id (as a string) or model; `"total"` without groupBy; null for rows that had none. */
  key: string | null;
  requests: number[];
  /** Requests answered with HTTP status >= 400. */
  errors: number[];
  inputTokens: number[];
  outputTokens: number[];
  cacheReadTokens: number[];
  cacheWriteTokens: number[];
  /** What the rows cost, USD (unpriced rows count 0). */
  costUsd: number[];
}

export interface UsageSeries {
  /**
   * Each bucket's start, epoch ms, ascending, every one present: from `from` rounded down to the step
   * (steps are aligned on the Unix epoch, so days on UTC midnight) to the last start before `to`.
   */
  buckets: number[];
  /** Largest request count first; no line for a key with no row in the range. */
  series: UsageSeriesLine[];
}

// One jsonb parameter per statement; 2,000 rows keep each well under a megabyte.
const ROWS_PER_STATEMENT = 2_000;
const INT_MAX = 2_147_483_647;

/**
 * A driver's bulk-load path: runs `statement` (a `COPY ... FROM '/dev/blob'`) with `csv` as its input.
 * PGlite has one; over the network, a multi-row INSERT is the cheaper round trip.
 */
export type CopyFromCsv = (statement: string, csv: string) => Promise<void>;

/** A usage row as the table takes it: every value already of its column's type and range. */
interface UsageValues {
  request_id: string;
  api_key_id: number | null;
  account_id: number | null;
  group_id: number | null;
  platform: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  upstream_model: string | null;
  cost_usd: number;
  unpriced: boolean;
  status: number;
  stream: boolean;
  duration_ms: number;
  ttfb_ms: number | null;
  created_at: string;
}

/** Each column and its SQL type: the COPY column list and the jsonb record shape both come from here. */
const COLUMN_TYPES = {
  request_id: "text",
  api_key_id: "integer",
  account_id: "integer",
  group_id: "integer",
  platform: "text",
  model: "text",
  input_tokens: "integer",
  output_tokens: "integer",
  cache_read_tokens: "integer",
  cache_write_tokens: "integer",
  cache_write_5m_tokens: "integer",
  cache_write_1h_tokens: "integer",
  upstream_model: "text",
  cost_usd: "double precision",
  unpriced: "boolean",
  status: "integer",
  stream: "boolean",
  duration_ms: "integer",
  ttfb_ms: "integer",
  created_at: "timestamptz",
} as const satisfies Record<keyof UsageValues, string>;

const COLUMNS = Object.keys(COLUMN_TYPES) as Array<keyof UsageValues>;
const COLUMN_LIST = COLUMNS.join(", ");
const RECORD_SHAPE = COLUMNS.map((column) => `${column} ${COLUMN_TYPES[column]}`).join(", ");
const COPY_STATEMENT = `copy ${getTableName(usageLogs)} (${COLUMN_LIST}) from '/dev/blob' with (format csv)`;

/**
 * Text as Postgres stores it. A client chooses the model name, and Postgres refuses NUL characters and
 * unpaired UTF-16 surrogates in text; one such row would fail its whole batch, and a batch that can never
 * be written holds back every row queued behind it. NULs are dropped, lone surrogates become U+FFFD.
 */
function storableText(value: string): string {
  const withoutNul = value.includes("\0") ? value.replaceAll("\0", "") : value;
  return withoutNul.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

/** A count or duration as an `integer` column takes it: rounded, and clamped into range (NaN: 0). */
function storableInt(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.min(INT_MAX, Math.round(value))) : 0;
}

/** A cost as the `double precision` column takes it: finite and not negative (else 0). */
function storableCost(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function storableId(value: number | null): number | null {
  return value === null || !Number.isSafeInteger(value) || value < 0 || value > INT_MAX ? null : value;
}

function csvField(value: string | number | boolean | null): string {
  if (value === null) return "";
  if (typeof value === "string") return `"${value.replaceAll('"', '""')}"`;
  return String(value);
}

/** What a totals entry and a series bucket sum up, over the rows they cover. */
const USAGE_SUMS = {
  requests: count(),
  errors: sql<number>`count(*) filter (where ${usageLogs.status} >= 400)`.mapWith(Number),
  inputTokens: sum(usageLogs.inputTokens).mapWith(Number),
  outputTokens: sum(usageLogs.outputTokens).mapWith(Number),
  cacheReadTokens: sum(usageLogs.cacheReadTokens).mapWith(Number),
  cacheWriteTokens: sum(usageLogs.cacheWriteTokens).mapWith(Number),
  costUsd: sum(usageLogs.costUsd).mapWith(Number),
};

/** The column rows are grouped by; anything else (a caller past the types) throws `invalid_input`. */
function groupColumn(groupBy: UsageGroupBy) {
  const column =
    groupBy === "account" ? usageLogs.accountId : groupBy === "key" ? usageLogs.apiKeyId : groupBy === "model" ? usageLogs.model : undefined;
  if (column === undefined) throw new DatabaseError("Usage groupBy must be account, key or model", { code: "invalid_input" });
  return column;
}

/** Rows written in [from, to), epoch ms. */
function inRange(from: number, to: number) {
  return and(gte(usageLogs.createdAt, new Date(from)), lt(usageLogs.createdAt, new Date(to)));
}

export class UsageRepository {
  readonly #db: SqlExecutor;
  readonly #copy: CopyFromCsv | undefined;

  /** `copy`: the driver's bulk-load path, used for every batch when given (see `CopyFromCsv`). */
  constructor(db: SqlExecutor, copy?: CopyFromCsv) {
    this.#db = db;
    this.#copy = copy;
  }

  /**
   * Inserts rows, all or none. Values out of their column's range are made storable rather than refused
   * (see `storableText`): usage is written in batches, and one bad row must not cost the others.
   * A non-numeric `accountId` is a programming error and throws `invalid_input`.
   */
  async insertMany(rows: readonly UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    const values = rows.map((row): UsageValues => {
      const accountId = row.accountId === null ? null : Number(row.accountId);
      if (accountId !== null && !Number.isSafeInteger(accountId)) {
        throw new DatabaseError("Usage accountId must be a numeric account id", { code: "invalid_input" });
      }
      return {
        request_id: storableText(row.requestId),
        api_key_id: storableId(row.apiKeyId),
        account_id: storableId(accountId),
        group_id: storableId(row.groupId),
        platform: storableText(row.platform),
        model: storableText(row.model),
        input_tokens: storableInt(row.inputTokens),
        output_tokens: storableInt(row.outputTokens),
        cache_read_tokens: storableInt(row.cacheReadTokens),
        cache_write_tokens: storableInt(row.cacheWriteTokens),
        cache_write_5m_tokens: storableInt(row.cacheWrite5mTokens ?? 0),
        cache_write_1h_tokens: storableInt(row.cacheWrite1hTokens ?? 0),
        upstream_model: row.upstreamModel == null ? null : storableText(row.upstreamModel),
        cost_usd: storableCost(row.costUsd ?? 0),
        unpriced: row.unpriced ?? false,
        status: storableInt(row.status),
        stream: row.stream,
        duration_ms: storableInt(row.durationMs),
        ttfb_ms: row.ttfbMs === null ? null : storableInt(row.ttfbMs),
        created_at: new Date(row.createdAt ?? Date.now()).toISOString(),
      };
    });
    if (this.#copy) {
      // One COPY is one statement: the batch is written whole or not at all. On PGlite, which runs on the
      // caller's own thread, it costs less than half of the INSERT below.
      const csv = values.map((row) => COLUMNS.map((column) => csvField(row[column])).join(",")).join("\n");
      await this.#copy(COPY_STATEMENT, csv);
      return;
    }
    // The whole batch travels as one JSON parameter and is unpacked by the server: one bind parameter
    // instead of fifteen per row, and no per-value query building.
    const write = async (executor: SqlExecutor) => {
      for (let start = 0; start < values.length; start += ROWS_PER_STATEMENT) {
        const batch = JSON.stringify(values.slice(start, start + ROWS_PER_STATEMENT));
        await executor.execute(sql`
          insert into ${usageLogs} (${sql.raw(COLUMN_LIST)})
          select ${sql.raw(COLUMN_LIST)} from jsonb_to_recordset(${batch}::jsonb) as row(${sql.raw(RECORD_SHAPE)})`);
      }
    };
    // One statement per 2,000 rows; a larger batch is written whole or not at all.
    if (values.length <= ROWS_PER_STATEMENT) await write(this.#db);
    else await this.#db.transaction(async (transaction) => write(transaction));
  }

  /** Totals over [from, to), one entry per account, key or model, largest request count first. */
  async totals(query: UsageTotalsQuery): Promise<UsageTotals[]> {
    const column = groupColumn(query.groupBy);
    const rows = await this.#db
      .select({ key: column, ...USAGE_SUMS })
      .from(usageLogs)
      .where(inRange(query.from, query.to))
      .groupBy(column)
      .orderBy(sql`count(*) desc`, column);
    return rows.map((row) => ({
      key: row.key === null ? null : String(row.key),
      requests: row.requests,
      errors: row.errors,
      inputTokens: row.inputTokens,
      outputTokens: row.outputTokens,
      cacheReadTokens: row.cacheReadTokens,
      cacheWriteTokens: row.cacheWriteTokens,
      costUsd: row.costUsd,
    }));
  }
  /** One key's use (`KeyUsageQuery`): one statement over the key's rows, by the (api_key_id, created_at) index. */
  async keyUsage(query: KeyUsageQuery): Promise<KeyUsage> {
    const since = (start: number) => sql`${usageLogs.createdAt} >= ${new Date(start).toISOString()}::timestamptz`;
    const tokens = sql`(${usageLogs.inputTokens} + ${usageLogs.outputTokens} + ${usageLogs.cacheReadTokens} + ${usageLogs.cacheWriteTokens})`;
    const [row] = await this.#db
      .select({
        totalUsd: sql<number>`coalesce(sum(${usageLogs.costUsd}), 0)`.mapWith(Number),
        monthUsd: sql<number>`coalesce(sum(${usageLogs.costUsd}) filter (where ${since(query.monthStart)}), 0)`.mapWith(Number),
        weekUsd: sql<number>`coalesce(sum(${usageLogs.costUsd}) filter (where ${since(query.weekStart)}), 0)`.mapWith(Number),
        dayUsd: sql<number>`coalesce(sum(${usageLogs.costUsd}) filter (where ${since(query.dayStart)}), 0)`.mapWith(Number),
        requestsDay: sql<number>`count(*) filter (where ${since(query.dayStart)})`.mapWith(Number),
        requestsMinute: sql<number>`count(*) filter (where ${since(query.minuteStart)})`.mapWith(Number),
        tokensDay: sql<number>`coalesce(sum(${tokens}) filter (where ${since(query.dayStart)}), 0)`.mapWith(Number),
        tokensMinute: sql<number>`coalesce(sum(${tokens}) filter (where ${since(query.minuteStart)}), 0)`.mapWith(Number),
      })
      .from(usageLogs)
      .where(sql`${usageLogs.apiKeyId} = ${query.apiKeyId}`);
    return (
      row ?? { totalUsd: 0, monthUsd: 0, weekUsd: 0, dayUsd: 0, requestsDay: 0, requestsMinute: 0, tokensDay: 0, tokensMinute: 0 }
    );
  }

  /**
   * The models of rows over [from, to) that had no price (`unpriced`), most requests first, at most `limit`
   * (default 100). Reads the same rows as a `totals` over the range (the `created_at` index).
   */
  async unpricedModels(query: { from: number; to: number; limit?: number }): Promise<Array<{ model: string; requests: number }>> {
    const rows = await this.#db
      .select({ model: usageLogs.model, requests: count() })
      .from(usageLogs)
      .where(and(inRange(query.from, query.to), eq(usageLogs.unpriced, true)))
      .groupBy(usageLogs.model)
      .orderBy(sql`count(*) desc`, usageLogs.model)
      .limit(Math.max(1, Math.min(query.limit ?? 100, 1_000)));
    return rows;
  }

  /**
   * Usage over [from, to) in buckets of one step, bucketed by the database. Throws DatabaseError
   * `invalid_input` for a range that is empty or spans more than `maxBuckets` buckets.
   */
  async series(query: UsageSeriesQuery): Promise<UsageSeries> {
    const stepMs = USAGE_STEP_MS[query.step];
    if (stepMs === undefined) throw new DatabaseError("Usage step must be minute, hour or day", { code: "invalid_input" });
    if (!(query.to > query.from)) throw new DatabaseError("Usage series: to must be after from", { code: "invalid_input" });
    const first = Math.floor(query.from / stepMs) * stepMs;
    const bucketCount = Math.ceil((query.to - first) / stepMs);
    const maxBuckets = query.maxBuckets ?? 2_000;
    if (bucketCount > maxBuckets) {
      throw new DatabaseError(`Usage series: ${bucketCount} buckets of one ${query.step} is more than ${maxBuckets}; choose a longer step or a shorter range`, {
        code: "invalid_input",
      });
    }
    const column = query.groupBy === undefined ? sql<string>`'total'` : groupColumn(query.groupBy);
    // The bucket's index from `first`, computed in SQL on the epoch (no time-zone rules: a step is fixed ms).
    const bucket = sql<number>`floor((extract(epoch from ${usageLogs.createdAt}) * 1000 - ${first}) / ${stepMs})::integer`.mapWith(Number);
    const rows = await this.#db
      .select({
        bucket,
        key: column,
        ...USAGE_SUMS,
      })
      .from(usageLogs)
      .where(inRange(query.from, query.to))
      .groupBy(sql`1`, sql`2`);
    const buckets = Array.from({ length: bucketCount }, (_, index) => first + index * stepMs);
    const lines = new Map<string | null, UsageSeriesLine & { total: number }>();
    const zeros = () => new Array<number>(bucketCount).fill(0);
    for (const row of rows) {
      const key = row.key === null ? null : String(row.key);
      let line = lines.get(key);
      if (!line) {
        line = { key, requests: zeros(), errors: zeros(), inputTokens: zeros(), outputTokens: zeros(), cacheReadTokens: zeros(), cacheWriteTokens: zeros(), costUsd: zeros(), total: 0 };
        lines.set(key, line);
      }
      const index = row.bucket;
      if (index < 0 || index >= bucketCount) continue;
      line.requests[index] = row.requests;
      line.errors[index] = row.errors;
      line.inputTokens[index] = row.inputTokens;
      line.outputTokens[index] = row.outputTokens;
      line.cacheReadTokens[index] = row.cacheReadTokens;
      line.cacheWriteTokens[index] = row.cacheWriteTokens;
      line.costUsd[index] = row.costUsd;
      line.total += row.requests;
    }
    const series = [...lines.values()]
      .sort((a, b) => b.total - a.total || String(a.key).localeCompare(String(b.key)))
      .map(({ total: _total, ...line }) => line);
    return { buckets, series };
  }
}
