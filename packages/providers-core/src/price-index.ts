import type { ModelPrice } from "./model-price";

/** Finds the price of a model among a set of prices. */
export interface PriceIndex {
  /** The price of `model` (see `createPriceIndex`), or undefined when none matches. */
  match(model: string): ModelPrice | undefined;
}

/** Characters that end a family prefix: `claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929` and `claude-sonnet-4-5@20250929`. */
const BOUNDARIES = new Set(["-", "@", ":", "/"]);

/**
 * An index over `prices` (a later entry of the same `model` replaces an earlier one). A model is matched
 * by its exact id first, then by the longest entry that is a prefix of it ending at a boundary (`-`, `@`,
 * `:` or `/`): `claude-sonnet-4-5-20250929` gets `claude-sonnet-4-5` rather than `claude-sonnet-4`, and
 * `gpt-4o` never gets `gpt-4` nor `gpt-4.1-mini` `gpt-4.1`'s price by accident of spelling. Matching is
 * case-insensitive and ignores a leading `models/` (Gemini's resource names). Cost: one map lookup per
 * boundary in the name, no scan of the prices; a name already asked
 * for (of the last 1,000 distinct ones) is one lookup.
 */
export function createPriceIndex(prices: Iterable<ModelPrice>): PriceIndex {
  const byModel = new Map<string, ModelPrice>();
  for (const price of prices) byModel.set(normalised(price.model), price);
  // Answers by the name as given: a request path prices the same few names over and over. Bounded, since
  // names come from clients: emptied when full.
  const answers = new Map<string, ModelPrice | null>();
  const find = (model: string): ModelPrice | undefined => {
    const name = normalised(model);
    const exact = byModel.get(name);
    if (exact !== undefined) return exact;
    for (let end = name.length - 1; end > 0; end--) {
      if (!BOUNDARIES.has(name.charAt(end))) continue;
      const family = byModel.get(name.slice(0, end));
      if (family !== undefined) return family;
    }
    return undefined;
  };
  return {
    match(model) {
      const known = answers.get(model);
      if (known !== undefined) return known ?? undefined;
      const found = find(model);
      if (answers.size >= MAX_REMEMBERED) answers.clear();
      answers.set(model, found ?? null);
      return found;
    },
  };
}

/** The most names an index remembers its answers for. */
const MAX_REMEMBERED = 1_000;

function normalised(model: string): string {
  const lower = model.toLowerCase();
  return lower.startsWith("models/") ? lower.slice("models/".length) : lower;
}
