import type { ApiKeyLimits } from "@subrelay/db";
import { describe, expect, it } from "vitest";
import { budgetWindows } from "./budget-windows";
import type { QueueingSlots, SlotCandidate, SlotLease } from "./concurrency-slots";
import { keyLeaseHolder, type KeyAdmission, type KeyVerdict } from "./key-counters";

export interface KeyCountersFixture {
  slots: QueueingSlots;
  /** Another process's view of the same counters (shared implementations only). */
  peer?: QueueingSlots;
  /** Forgets every counter, as a flushed Redis or a restarted process does. */
  forget: () => Promise<void>;
  /** Lets released charges reach the counters (Redis: the release script has run). */
  settle: () => Promise<void>;
  cleanup: () => Promise<void>;
}

const T0 = Date.UTC(2026, 11, 9, 12, 0, 0);
const roomy: SlotCandidate[] = [{ id: "acct", concurrency: 1_000, priority: 1 }];
const seed = { dayUsd: 0, weekUsd: 0, monthUsd: 0, totalUsd: 0 };

function admission(requestId: string, limits: ApiKeyLimits, now = T0, overrides: Partial<KeyAdmission> = {}): KeyAdmission {
  return { apiKeyId: "7", requestId, limits, now, windows: budgetWindows(now, "UTC"), seed, ...overrides };
}

function lease(outcome: SlotLease | null | KeyVerdict | "queued" | "full"): SlotLease {
  if (typeof outcome === "object" && outcome !== null && "accountId" in outcome) return outcome;
  throw new Error(`expected a lease, got ${JSON.stringify(outcome)}`);
}

/** What every slots implementation must do with a key's admissions; run against the in-memory one and the Redis one. */
export function describeKeyCountersContract(name: string, create: () => Promise<KeyCountersFixture>, options: { shared: boolean }): void {
  describe(`key counters contract: ${name}`, () => {
    async function withFixture(test: (fixture: KeyCountersFixture) => Promise<void>): Promise<void> {
      const fixture = await create();
      try {
        await test(fixture);
      } finally {
        await fixture.cleanup();
      }
    }

    it("requestsPerMinute: the sixth request in a sliding minute is refused until the first leaves the window", () =>
      withFixture(async ({ slots }) => {
        const limits = { requestsPerMinute: 5 };
        for (let index = 0; index < 5; index++) {
          const taken = lease(await slots.acquire(roomy, `r${index}:1`, admission(`r${index}`, limits, T0 + index * 1_000)));
          await taken.release({ tokens: 10, costUsd: 0, at: T0 + index * 1_000 });
        }
        expect(await slots.acquire(roomy, "r5:1", admission("r5", limits, T0 + 30_000))).toEqual({ limit: "requestsPerMinute", retryAfterMs: 30_000 });
        // The first request (T0) leaves the minute at T0 + 60 s.
        expect(lease(await slots.acquire(roomy, "r6:1", admission("r6", limits, T0 + 60_001))).accountId).toBe("acct");
        // Idle for minutes: the window starts afresh, and fills again.
        const later = T0 + 10 * 60_000;
        for (let index = 0; index < 5; index++) lease(await slots.acquire(roomy, `l${index}:1`, admission(`l${index}`, limits, later + index)));
        expect(await slots.acquire(roomy, "l5:1", admission("l5", limits, later + 10))).toMatchObject({ limit: "requestsPerMinute" });
      }));

    it("counts a request once, however many acquisitions it makes (failovers, re-sends)", () =>
      withFixture(async ({ slots }) => {
        const limits = { requestsPerMinute: 2 };
        const once = admission("same", limits);
        const first = lease(await slots.acquire(roomy, "same:1", once));
        // The caller flags a later acquisition of the same request (a failover's).
        const second = lease(await slots.acquire(roomy, "same:2", { ...once, admitted: true }));
        await Promise.all([first.release(), second.release()]);
        expect(lease(await slots.acquire(roomy, "other:1", admission("other", limits))).accountId).toBe("acct");
        expect(await slots.acquire(roomy, "third:1", admission("third", limits))).toMatchObject({ limit: "requestsPerMinute" });
      }));

    it("counts only requests that took a slot", () =>
      withFixture(async ({ slots }) => {
        const limits = { requestsPerMinute: 1 };
        const busy: SlotCandidate[] = [{ id: "busy", concurrency: 1, priority: 1 }];
        const holder = lease(await slots.acquire(busy, "holder", undefined));
        expect(await slots.acquire(busy, "waiting:1", admission("waiting", limits))).toBeNull();
        await holder.release();
        expect(lease(await slots.acquire(busy, "waiting:2", admission("waiting", limits))).accountId).toBe("busy");
      }));

    it("tokensPerMinute: charged tokens fill the sliding minute", () =>
      withFixture(async ({ slots, settle }) => {
        const limits = { tokensPerMinute: 100 };
        const first = lease(await slots.acquire(roomy, "t1:1", admission("t1", limits)));
        await first.release({ tokens: 60, costUsd: 0, at: T0 });
        await settle();
        const second = lease(await slots.acquire(roomy, "t2:1", admission("t2", limits, T0 + 1_000)));
        await second.release({ tokens: 60, costUsd: 0, at: T0 + 1_000 });
        await settle();
        const refused = await slots.acquire(roomy, "t3:1", admission("t3", limits, T0 + 2_000));
        expect(refused).toMatchObject({ limit: "tokensPerMinute" });
        expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
        expect((refused as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(60_000);
      }));

    it("budgets: refused once the spend has reached the budget; the request that crosses it completes; Retry-After is the window's end", () =>
      withFixture(async ({ slots, settle }) => {
        const limits = { costPerDayUsd: 0.05 };
        for (let index = 0; index < 3; index++) {
          const taken = lease(await slots.acquire(roomy, `b${index}:1`, admission(`b${index}`, limits)));
          await taken.release({ tokens: 18, costUsd: 0.018, at: T0 });
          await settle();
        }
        const windows = budgetWindows(T0, "UTC");
        expect(await slots.acquire(roomy, "b3:1", admission("b3", limits))).toEqual({ limit: "costPerDayUsd", retryAfterMs: windows.dayEnd - T0 });
        // The next day starts afresh; a lifetime budget never does.
        const tomorrow = windows.dayEnd + 1_000;
        expect(lease(await slots.acquire(roomy, "b4:1", admission("b4", limits, tomorrow))).accountId).toBe("acct");
        expect(await slots.acquire(roomy, "b5:1", admission("b5", { costTotalUsd: 0.05 }, tomorrow))).toEqual({ limit: "costTotalUsd", retryAfterMs: null });
        expect(lease(await slots.acquire(roomy, "b6:1", admission("b6", { costPerMonthUsd: 0.06 }, tomorrow))).accountId).toBe("acct");
        expect(await slots.acquire(roomy, "b7:1", admission("b7", { costPerWeekUsd: 0.05 }, tomorrow))).toMatchObject({ limit: "costPerWeekUsd" });
      }));

    it("counters gone: cold until an admission brings the spend rebuilt from the usage log, which then counts", () =>
      withFixture(async (fixture) => {
        const limits = { costPerDayUsd: 0.05 };
        const taken = lease(await fixture.slots.acquire(roomy, "c0:1", admission("c0", limits)));
        await taken.release({ tokens: 18, costUsd: 0.018, at: T0 });
        await fixture.settle();
        await fixture.forget();
        const slots = fixture.slots;
        expect(await slots.acquire(roomy, "c1:1", admission("c1", limits, T0, { seed: undefined }))).toBe("cold");
        const rebuilt = { dayUsd: 0.05, weekUsd: 0.05, monthUsd: 0.05, totalUsd: 0.05 };
        expect(await slots.acquire(roomy, "c1:2", admission("c1", limits, T0, { seed: rebuilt }))).toMatchObject({ limit: "costPerDayUsd" });
        // Once rebuilt, a later seed is ignored: the counters are the truth.
        expect(await slots.acquire(roomy, "c2:1", admission("c2", limits, T0, { seed: undefined }))).toMatchObject({ limit: "costPerDayUsd" });
      }));

    it("a waiter refused for its key's limit leaves the queue", () =>
      withFixture(async ({ slots }) => {
        const busy: SlotCandidate[] = [{ id: "queued", concurrency: 1, priority: 1 }];
        const holder = lease(await slots.acquire(busy, "holder", undefined));
        const turn = { queue: "group:9", ticket: "w:1", join: true, limit: 10 };
        expect(await slots.acquireInTurn(busy, "w:1", turn, admission("w", { requestsPerMinute: 1 }))).toBe("queued");
        const other = lease(await slots.acquire(roomy, "x:1", admission("x", { requestsPerMinute: 1 })));
        expect(await slots.acquireInTurn(busy, "w:1", turn, admission("w", { requestsPerMinute: 1 }))).toMatchObject({ limit: "requestsPerMinute" });
        expect((await slots.countWaiting(["group:9"])).get("group:9")).toBe(0);
        await Promise.all([holder.release(), other.release()]);
      }));

    it("concurrency: a key's requests in flight beyond it are busy until one ends; a request's own lease holds across its acquisitions", () =>
      withFixture(async ({ slots }) => {
        const limits = { concurrency: 1 };
        const first = lease(await slots.acquire(roomy, "k1:1", admission("k1", limits)));
        expect(await slots.acquire(roomy, "k2:1", admission("k2", limits))).toBe("busy");
        // The same request failing over to another account keeps its place.
        await first.release();
        const again = lease(await slots.acquire(roomy, "k1:2", admission("k1", limits)));
        await again.release();
        expect(await slots.acquire(roomy, "k2:2", admission("k2", limits))).toBe("busy");
        await slots.releaseLease(keyLeaseHolder("7"), "k1");
        expect(lease(await slots.acquire(roomy, "k2:3", admission("k2", limits))).accountId).toBe("acct");
      }));

    if (options.shared) {
      it("shares a key's counters between processes", () =>
        withFixture(async ({ slots, peer, settle }) => {
          const limits = { requestsPerMinute: 2, costPerDayUsd: 0.03 };
          const mine = lease(await slots.acquire(roomy, "s1:1", admission("s1", limits)));
          await mine.release({ tokens: 1, costUsd: 0.018, at: T0 });
          await settle();
          const theirs = lease(await peer!.acquire(roomy, "s2:1", admission("s2", limits)));
          await theirs.release({ tokens: 1, costUsd: 0.018, at: T0 });
          await settle();
          expect(await slots.acquire(roomy, "s3:1", admission("s3", limits))).toMatchObject({ limit: "costPerDayUsd" });
        }));
    }
  });
}
