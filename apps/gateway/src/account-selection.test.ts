import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { describe, expect, it } from "vitest";
import { rankCandidates } from "./account-selection";

const now = 1_000_000;
const none = new Set<string>();
const account = (id: string, fields: Partial<AccountSnapshot> = {}): AccountSnapshot => ({
  id,
  platform: "claude",
  priority: 1,
  concurrency: 3,
  status: "active",
  schedulable: true,
  ...fields,
});
const ids = (accounts: AccountSnapshot[]) => accounts.map((found) => found.id);

describe("rankCandidates with scoped rate limits", () => {
  const opusLimited = account("opus-limited", { lastUsedAt: 1, rateLimits: [{ scope: "family:opus", window: "7d_opus", until: now + 60_000 }] });
  const spare = account("spare", { lastUsedAt: 2 });

  it("skips an account for the family its limit covers only", () => {
    expect(ids(rankCandidates([opusLimited, spare], { now, exclude: none, model: "claude-opus-4-5" }))).toEqual(["spare"]);
    expect(ids(rankCandidates([opusLimited, spare], { now, exclude: none, model: "claude-sonnet-4-5" }))).toEqual(["opus-limited", "spare"]);
  });

  it("takes the account back for the family once the limit's end has passed", () => {
    expect(ids(rankCandidates([opusLimited, spare], { now: now + 60_000, exclude: none, model: "claude-opus-4-5" }))).toEqual(["opus-limited", "spare"]);
  });

  it("a request naming no model is stopped by account-wide limits only", () => {
    expect(ids(rankCandidates([opusLimited, spare], { now, exclude: none }))).toEqual(["opus-limited", "spare"]);
  });

  it("PREFER_SOONEST_RESET: among equal priorities the soonest reset first, accounts without one after, then LRU", () => {
    const late = account("late", { lastUsedAt: 1, rateLimits: [{ scope: "family:opus", until: now + 90_000 }] });
    const soon = account("soon", { lastUsedAt: 5, rateLimits: [{ scope: "family:opus", until: now + 10_000 }] });
    const fresh = account("fresh", { lastUsedAt: 0 });
    const other = account("other-tier", { priority: 0, lastUsedAt: 9 });
    const ranked = rankCandidates([fresh, late, soon, other], { now, exclude: none, model: "claude-sonnet-4-5" });
    expect(ids(ranked)).toEqual(["other-tier", "soon", "late", "fresh"]);
    const off = rankCandidates([fresh, late, soon, other], { now, exclude: none, model: "claude-sonnet-4-5", preferSoonestReset: false });
    expect(ids(off)).toEqual(["other-tier", "fresh", "late", "soon"]);
  });

  it("ended windows do not count toward the soonest reset", () => {
    const ended = account("ended", { lastUsedAt: 5, rateLimits: [{ scope: "family:opus", until: now - 1 }] });
    const older = account("older", { lastUsedAt: 1 });
    expect(ids(rankCandidates([ended, older], { now, exclude: none, model: "claude-opus-4-5" }))).toEqual(["older", "ended"]);
  });
});
