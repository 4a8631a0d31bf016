import { costOf, type ModelPrice, type Usage } from "@subrelay/providers-core";
import type { UsageRow } from "./usage-recorder";

/** What one client call leaves in the usage log, whether or not an account served it. */
export interface UsageOutcome {
  requestId: string;
  apiKeyId: string;
  groupId: number;
  /** The account that answered; null when none did. */
  accountId: string | null;
  /** The platform of that account (of the group, when none answered). */
  platform: string;
  /** The model the client asked for; the upstream's own name for it wins when it reported one. */
  model: string;
  /** The model the account was sent, when its model map renamed the client's; absent otherwise. */
  upstreamModel?: string;
  stream: boolean;
  status: number;
  startedAt: number;
  endedAt: number;
  ttfbMs: number | null;
  usage: Usage | undefined;
}

/** Prices for the row's cost: an in-memory lookup (the gateway's PriceBook), never I/O. */
export interface RowPricing {
  /** The price of a model (exact id, then family prefix), or undefined. */
  price(model: string): ModelPrice | undefined;
  /** Told of a row with usage whose model has no price. */
  noteUnpriced(model: string): void;
}

/**
 * The usage row of one call, its cost included. The price is that of the first of these names that has
 * one: the model the upstream says served the request, the model the account was sent (after its model
 * map), the model the client asked for. A row with tokens and no price costs 0 and is `unpriced`; a row
 * without tokens (a refusal, a count) costs 0 and is not.
 */
export function usageRow(outcome: UsageOutcome, pricing?: RowPricing): UsageRow {
  const usage = outcome.usage;
  const model = usage?.model ?? outcome.model;
  const cacheWriteTokens = usage?.cacheWriteTokens ?? 0;
  const cacheWrite1hTokens = Math.min(usage?.cacheWrite1hTokens ?? 0, cacheWriteTokens);
  let costUsd = 0;
  let unpriced = false;
  if (usage !== undefined && pricing !== undefined && hasTokens(usage)) {
    const price = priceOf(pricing, usage.model, outcome.upstreamModel, outcome.model);
    if (price === undefined) {
      unpriced = true;
      pricing.noteUnpriced(model);
    } else {
      costUsd = costOf(usage, price);
    }
  }
  return {
    requestId: outcome.requestId,
    apiKeyId: Number(outcome.apiKeyId),
    accountId: outcome.accountId,
    groupId: outcome.groupId,
    platform: outcome.platform,
    model,
    upstreamModel: outcome.upstreamModel ?? null,
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    cacheReadTokens: usage?.cacheReadTokens ?? 0,
    cacheWriteTokens,
    cacheWrite5mTokens: cacheWriteTokens - cacheWrite1hTokens,
    cacheWrite1hTokens,
    costUsd,
    unpriced,
    status: outcome.status,
    stream: outcome.stream,
    durationMs: outcome.endedAt - outcome.startedAt,
    ttfbMs: outcome.ttfbMs,
    createdAt: outcome.startedAt,
  };
}

function priceOf(pricing: RowPricing, reported: string | undefined, sent: string | undefined, asked: string): ModelPrice | undefined {
  return priceFor(pricing, reported) ?? priceFor(pricing, sent) ?? priceFor(pricing, asked);
}

function priceFor(pricing: RowPricing, model: string | undefined): ModelPrice | undefined {
  return model === undefined || model === "" ? undefined : pricing.price(model);
}

function hasTokens(usage: Usage): boolean {
  return usage.inputTokens > 0 || usage.outputTokens > 0 || usage.cacheReadTokens > 0 || usage.cacheWriteTokens > 0;
}
