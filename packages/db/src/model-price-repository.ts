import { asc, eq, sql } from "drizzle-orm";
import type { InputProblem } from "./input-rules";
import { modelPrices } from "./schema";
import type { SqlExecutor } from "./sql-executor";

/** The price fields an operator sets, USD per million tokens. */
export const modelPriceFields = [
  "inputUsdPerMTok",
  "outputUsdPerMTok",
  "cacheReadUsdPerMTok",
  "cacheWrite5mUsdPerMTok",
  "cacheWrite1hUsdPerMTok",
] as const;

export type ModelPriceField = (typeof modelPriceFields)[number];

/** An operator's price for one model or model family (`model_prices`), USD per million tokens. */
export interface ModelPriceInput extends Record<ModelPriceField, number> {
  /** The model id or family prefix it prices, 1 to 200 characters. */
  model: string;
}

export interface ModelPriceRecord extends ModelPriceInput {
  /** Epoch ms of the last write. */
  updatedAt: number;
}

/** The highest price accepted, USD per million tokens. */
const MAX_USD_PER_MTOK = 1_000_000;
const MAX_MODEL_LENGTH = 200;

/**
 * What is wrong with a model name and price body as an operator sent them, one problem per field: the
 * body must have exactly the five price fields, each a finite number from 0 to 1,000,000; the model 1 to
 * 200 characters, not blank.
 */
export function modelPriceInputProblems(model: unknown, body: unknown): InputProblem[] {
  const problems: InputProblem[] = [];
  if (typeof model !== "string" || model.trim() === "" || model.length > MAX_MODEL_LENGTH) {
    problems.push({ field: "model", message: `model must be a model name of 1 to ${MAX_MODEL_LENGTH} characters.` });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    problems.push({ field: "body", message: `The body must be an object with ${modelPriceFields.join(", ")}.` });
    return problems;
  }
  const record = body as Record<string, unknown>;
  for (const field of modelPriceFields) {
    const value = record[field];
    if (!(field in record)) problems.push({ field, message: `${field} is required (USD per million tokens).` });
    else if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_USD_PER_MTOK) {
      problems.push({ field, message: `${field} must be a number from 0 to ${MAX_USD_PER_MTOK.toLocaleString("en-US")} (USD per million tokens).` });
    }
  }
  for (const field of Object.keys(record)) {
    if (!(modelPriceFields as readonly string[]).includes(field)) problems.push({ field, message: `${field} is not a price field.` });
  }
  return problems;
}

/**
 * The operator's price overrides (`model_prices`): a row replaces the shipped price of its model. The
 * table is small (one row per overridden model) and read whole.
 */
export class ModelPriceRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** Every override, by model. */
  async list(): Promise<ModelPriceRecord[]> {
    const rows = await this.#db.select().from(modelPrices).orderBy(asc(modelPrices.model));
    return rows.map(toRecord);
  }

  /** Stores `price` (replacing any override of its model); the stored record. Checked by `modelPriceInputProblems` first. */
  async upsert(price: ModelPriceInput): Promise<ModelPriceRecord> {
    const values = {
      inputUsdPerMTok: price.inputUsdPerMTok,
      outputUsdPerMTok: price.outputUsdPerMTok,
      cacheReadUsdPerMTok: price.cacheReadUsdPerMTok,
      cacheWrite5mUsdPerMTok: price.cacheWrite5mUsdPerMTok,
      cacheWrite1hUsdPerMTok: price.cacheWrite1hUsdPerMTok,
    };
    const [row] = await this.#db
      .insert(modelPrices)
      .values({ model: price.model, ...values })
      .onConflictDoUpdate({ target: modelPrices.model, set: { ...values, updatedAt: sql`now()` } })
      .returning();
    return toRecord(row!);
  }

  /** Deletes the override of `model`; false when there was none. */
  async delete(model: string): Promise<boolean> {
    const rows = await this.#db.delete(modelPrices).where(eq(modelPrices.model, model)).returning({ model: modelPrices.model });
    return rows.length > 0;
  }
}

function toRecord(row: typeof modelPrices.$inferSelect): ModelPriceRecord {
  return {
    model: row.model,
    inputUsdPerMTok: row.inputUsdPerMTok,
    outputUsdPerMTok: row.outputUsdPerMTok,
    cacheReadUsdPerMTok: row.cacheReadUsdPerMTok,
    cacheWrite5mUsdPerMTok: row.cacheWrite5mUsdPerMTok,
    cacheWrite1hUsdPerMTok: row.cacheWrite1hUsdPerMTok,
    updatedAt: row.updatedAt.getTime(),
  };
}
