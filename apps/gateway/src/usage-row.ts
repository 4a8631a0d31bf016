import type { Usage } from "@subrelay/providers-core";
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
  stream: boolean;
  status: number;
  startedAt: number;
  endedAt: number;
  ttfbMs: number | null;
  usage: Usage | undefined;
}

export function usageRow(outcome: UsageOutcome): UsageRow {
  const usage = outcome.usage;
  return {
    requestId: outcome.requestId,
    apiKeyId: Number(outcome.apiKeyId),
    accountId: outcome.accountId,
    groupId: outcome.groupId,
    platform: outcome.platform,
    model: usage?.model ?? outcome.model,
    inputTokens: usage?.inputTokens ?? 0,
    outputTokens: usage?.outputTokens ?? 0,
    cacheReadTokens: usage?.cacheReadTokens ?? 0,
    cacheWriteTokens: usage?.cacheWriteTokens ?? 0,
    status: outcome.status,
    stream: outcome.stream,
    durationMs: outcome.endedAt - outcome.startedAt,
    ttfbMs: outcome.ttfbMs,
    createdAt: outcome.startedAt,
  };
}
