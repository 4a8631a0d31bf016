import type { ModelPriceRecord } from "@subrelay/db";
import { createPriceIndex, type ModelPrice, type PriceIndex, type Provider, type TokenPrices } from "@subrelay/providers-core";
import { describeError } from "@subrelay/runtime";
import type { Logger } from "@subrelay/token-cache";

/** Where a price comes from: a provider's shipped list, or an operator's override (`PUT /admin/pricing/{model}`). */
export type PriceSource = "shipped" | "override";

/** A price the book holds, as `GET /admin/pricing` lists it. */
export interface PriceEntry extends TokenPrices {
  model: string;
  longContext?: ModelPrice["longContext"];
  source: PriceSource;
  /** The platform whose list ships this model or the family it belongs to; null for an override matching none. */
  platform: string | null;
  /** For an override of a shipped model: the shipped price it replaces (what `DELETE` returns to). */
  shipped?: TokenPrices & { longContext?: ModelPrice["longContext"] };
}

export interface PriceBookOptions {
  /** The providers whose shipped prices (`Provider.prices`) the book starts from. */
  providers: { all(): readonly Provider[] };
  /** Reads every override (`database.modelPrices.list`). */
  load(): Promise<readonly ModelPriceRecord[]>;
  /** How often overrides made on other replicas are read, ms. Default 30,000; 0: never (only `refresh()`). */
  refreshIntervalMs?: number;
  /**
   * Told of each request that had usage but no price (at most `MAX_UNPRICED_MODELS` distinct names are
   * passed on; any further one is passed as `"other"`), e.g. for a metric labelled by model.
   */
  onUnpriced?(model: string): void;
  logger: Logger;
}

/** The most distinct unpriced model names the book remembers and labels metrics with. */
export const MAX_UNPRICED_MODELS = 50;
/** Longer names are cut to this many characters before they are remembered or labelled. */
const MAX_LABEL_LENGTH = 100;

/**
 * The gateway's prices in memory: the providers' shipped list prices with the operator's overrides on top,
 * so that pricing a request is a map lookup and arithmetic, never a database read.
 *
 * An override of a model replaces its shipped price whole (the long-context tier included: an operator's
 * price is one price). Matching (`createPriceIndex`) is over both together: the exact id first, then the
 * longest family prefix, whichever list it comes from.
 *
 * Freshness: this replica's own changes (`override`, `removeOverride`) apply at once; the overrides are
 * re-read every `refreshIntervalMs` (so other replicas' changes apply within it). A re-read that started
 * before a local change and ends after it is discarded (the change is newer) and read again next time.
 * A failed read keeps the last overrides.
 */
export class PriceBook {
  private readonly shipped = new Map<string, { price: ModelPrice; platform: string }>();
  private readonly shippedIndex: PriceIndex;
  private overrides = new Map<string, ModelPriceRecord>();
  private index: PriceIndex;
  /** Bumped by every local change: a re-read that saw an older state is discarded. */
  private generation = 0;
  private readonly unpricedNames = new Set<string>();
  private readonly timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly options: PriceBookOptions) {
    for (const provider of options.providers.all()) {
      for (const price of provider.prices?.prices ?? []) this.shipped.set(price.model, { price, platform: provider.platform });
    }
    this.shippedIndex = createPriceIndex([...this.shipped.values()].map((entry) => entry.price));
    this.index = this.shippedIndex;
    const interval = options.refreshIntervalMs ?? 30_000;
    if (interval > 0) {
      this.timer = setInterval(() => void this.refresh(), interval);
      this.timer.unref();
    }
  }

  /** The price of `model` (exact id, then the longest family prefix), or undefined. The hot path: no I/O. */
  price(model: string): ModelPrice | undefined {
    return this.index.match(model);
  }

  /**
   * Notes a request with usage whose model has no price: remembered for `unpriced()` and passed to
   * `onUnpriced`, within the bound on distinct names.
   */
  noteUnpriced(model: string): void {
    const name = model.slice(0, MAX_LABEL_LENGTH);
    if (!this.unpricedNames.has(name) && this.unpricedNames.size >= MAX_UNPRICED_MODELS) {
      this.options.onUnpriced?.("other");
      return;
    }
    this.unpricedNames.add(name);
    this.options.onUnpriced?.(name);
  }

  /**
   * Model names served without a price that still have none: those this replica saw since it started, and
   * `others` (the usage log's, from every replica).
   */
  unpriced(others: Iterable<string> = []): string[] {
    const names = new Set([...this.unpricedNames, ...others]);
    return [...names].filter((name) => this.index.match(name) === undefined).sort();
  }

  /** Every price: the shipped ones (overridden ones shown as overrides) and the overrides of other models, by model. */
  entries(): PriceEntry[] {
    const entries: PriceEntry[] = [];
    for (const [model, { price, platform }] of this.shipped) {
      if (this.overrides.has(model)) continue;
      entries.push({ ...prices(price), ...(price.longContext ? { longContext: price.longContext } : {}), model, source: "shipped", platform });
    }
    for (const override of this.overrides.values()) entries.push(this.overrideEntry(override));
    return entries.sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
  }

  /** The entry `entries()` shows for an override. */
  overrideEntry(override: ModelPriceRecord): PriceEntry {
    const shipped = this.shipped.get(override.model);
    const family = shipped ?? this.shippedFamily(override.model);
    return {
      ...prices(override),
      model: override.model,
      source: "override",
      platform: family?.platform ?? null,
      ...(shipped ? { shipped: { ...prices(shipped.price), ...(shipped.price.longContext ? { longContext: shipped.price.longContext } : {}) } } : {}),
    };
  }

  /** Applies an override this replica just stored. */
  override(record: ModelPriceRecord): void {
    this.generation += 1;
    this.overrides = new Map(this.overrides).set(record.model, record);
    this.rebuild();
  }

  /** Drops an override this replica just deleted. */
  removeOverride(model: string): void {
    this.generation += 1;
    const next = new Map(this.overrides);
    next.delete(model);
    this.overrides = next;
    this.rebuild();
  }

  /** Re-reads the overrides now (concurrent calls share one read). Never rejects. */
  refresh(): Promise<void> {
    this.refreshing ??= this.reload().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async reload(): Promise<void> {
    const generation = this.generation;
    let rows: readonly ModelPriceRecord[];
    try {
      rows = await this.options.load();
    } catch (error) {
      this.options.logger.warn({ error: describeError(error) }, "could not read the price overrides; keeping the last ones");
      return;
    }
    // A local change since the read began is newer than what was read.
    if (generation !== this.generation) return;
    this.overrides = new Map(rows.map((row) => [row.model, row]));
    this.rebuild();
  }

  private rebuild(): void {
    const merged = new Map<string, ModelPrice>();
    for (const [model, { price }] of this.shipped) merged.set(model, price);
    for (const [model, override] of this.overrides) merged.set(model, { model, ...prices(override) });
    this.index = createPriceIndex(merged.values());
  }

  private shippedFamily(model: string): { platform: string } | undefined {
    const price = this.shippedIndex.match(model);
    return price === undefined ? undefined : this.shipped.get(price.model);
  }
}

function prices(source: TokenPrices): TokenPrices {
  return {
    inputUsdPerMTok: source.inputUsdPerMTok,
    outputUsdPerMTok: source.outputUsdPerMTok,
    cacheReadUsdPerMTok: source.cacheReadUsdPerMTok,
    cacheWrite5mUsdPerMTok: source.cacheWrite5mUsdPerMTok,
    cacheWrite1hUsdPerMTok: source.cacheWrite1hUsdPerMTok,
  };
}
