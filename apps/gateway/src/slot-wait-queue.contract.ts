import { describe, expect, it } from "vitest";
import { Cancellation } from "./cancellation";
import type { QueueingSlots, SlotCandidate, SlotLease } from "./concurrency-slots";
import { SlotWaitQueue, groupQueue, type WaitOutcome, type WaitPlan } from "./slot-wait-queue";

export interface WaitFixture {
  slots: QueueingSlots;
  /** Another process's view of the same slots (shared implementations only). */
  peer?: QueueingSlots;
  cleanup(): Promise<void>;
}

const solo: SlotCandidate[] = [{ id: "solo", concurrency: 1, priority: 1 }];
/** No safety-net poll within a test: a waiter that gets its turn was woken by a release. */
const NO_POLL = { pollMs: 3_600_000 };
const plan = (overrides: Partial<WaitPlan> = {}): WaitPlan => ({ queue: groupQueue(1), limit: 100, timeoutMs: 60_000, ...overrides });

function lease(outcome: WaitOutcome | SlotLease | null | string): SlotLease {
  if (outcome && typeof outcome === "object" && "lease" in outcome) return outcome.lease;
  if (outcome && typeof outcome === "object" && "accountId" in outcome) return outcome;
  throw new Error(`expected a lease, got ${JSON.stringify(outcome)}`);
}

/** Starts a waiter and resolves `queued` once it waits. */
function waiter(queue: SlotWaitQueue, ticket: string, options: { plan?: WaitPlan; gone?: Cancellation } = {}) {
  let queued!: () => void;
  const waiting = new Promise<void>((resolve) => (queued = resolve));
  const outcome = queue.take(solo, ticket, options.plan ?? plan(), options.gone ?? new Cancellation(), queued);
  return { waiting, outcome };
}

/** What every QueueingSlots must do with a SlotWaitQueue over it; run against the in-memory one and the Redis one. */
export function describeSlotWaitContract(name: string, create: () => Promise<WaitFixture>, options: { shared: boolean }): void {
  describe(`slot wait queue contract: ${name}`, () => {
    async function withSlots(test: (fixture: WaitFixture) => Promise<void>): Promise<void> {
      const fixture = await create();
      try {
        await test(fixture);
      } finally {
        await fixture.cleanup();
      }
    }

    it("a waiter takes the slot a release frees, woken by the release (no poll)", () =>
      withSlots(async ({ slots }) => {
        const queue = new SlotWaitQueue(slots, NO_POLL);
        const held = lease(await slots.acquire(solo, "held"));
        const first = waiter(queue, "w1");
        await first.waiting;
        expect((await slots.countWaiting([groupQueue(1)])).get(groupQueue(1))).toBe(1);
        await held.release();
        expect(lease(await first.outcome).accountId).toBe("solo");
        expect((await slots.countWaiting([groupQueue(1)])).get(groupQueue(1))).toBe(0);
        expect((await slots.countInFlight(["solo"])).get("solo")).toBe(1);
        queue.close();
      }));

    it("serves waiters first come, first served, and a newcomer does not jump the queue", () =>
      withSlots(async ({ slots }) => {
        const queue = new SlotWaitQueue(slots, NO_POLL);
        let current = lease(await slots.acquire(solo, "held"));
        const waiters = [];
        for (const ticket of ["w1", "w2", "w3", "w4"]) {
          const one = waiter(queue, ticket);
          await one.waiting;
          waiters.push({ ticket, ...one });
        }
        const served: string[] = [];
        for (const [index, one] of waiters.entries()) {
          const releasing = current.release();
          if (index === 0) {
            // Right after the release, before the first waiter's turn: a newcomer finds waiters ahead of it.
            expect(await slots.acquireInTurn(solo, "newcomer", { queue: groupQueue(1), ticket: "newcomer", join: false, limit: 100 })).toBe(
              "queued",
            );
          }
          await releasing;
          current = lease(await one.outcome);
          served.push(one.ticket);
        }
        expect(served).toEqual(["w1", "w2", "w3", "w4"]);
        await current.release();
        queue.close();
      }));

    it("answers full past the queue's limit", () =>
      withSlots(async ({ slots }) => {
        const queue = new SlotWaitQueue(slots, NO_POLL);
        const held = lease(await slots.acquire(solo, "held"));
        const limited = plan({ limit: 2 });
        const first = waiter(queue, "w1", { plan: limited });
        const second = waiter(queue, "w2", { plan: limited });
        await Promise.all([first.waiting, second.waiting]);
        expect(await waiter(queue, "w3", { plan: limited }).outcome).toEqual({ refused: "full" });
        await held.release();
        await (await first.outcome as { lease: SlotLease }).lease.release();
        await lease(await second.outcome).release();
        queue.close();
      }));

    it("drops a waiter whose client leaves at once, and one whose wait times out", () =>
      withSlots(async ({ slots }) => {
        const queue = new SlotWaitQueue(slots, NO_POLL);
        const held = lease(await slots.acquire(solo, "held"));
        const gone = new Cancellation();
        const leaving = waiter(queue, "leaving", { gone });
        const staying = waiter(queue, "staying");
        await Promise.all([leaving.waiting, staying.waiting]);
        expect((await slots.countWaiting([groupQueue(1)])).get(groupQueue(1))).toBe(2);
        gone.abort();
        expect(await leaving.outcome).toEqual({ refused: "gone" });
        expect((await slots.countWaiting([groupQueue(1)])).get(groupQueue(1))).toBe(1);
        expect(queue.localWaiters(groupQueue(1))).toBe(1);

        const brief = waiter(queue, "brief", { plan: plan({ timeoutMs: 30 }) });
        expect(await brief.outcome).toEqual({ refused: "timeout" });
        expect((await slots.countWaiting([groupQueue(1)])).get(groupQueue(1))).toBe(1);

        // The one who left does not hold back the one behind it.
        await held.release();
        await lease(await staying.outcome).release();
        queue.close();
      }));

    it("with no timeout, takes a free slot or answers at once", () =>
      withSlots(async ({ slots }) => {
        const queue = new SlotWaitQueue(slots, NO_POLL);
        const first = await queue.take(solo, "a", plan({ timeoutMs: 0 }), new Cancellation());
        expect(await queue.take(solo, "b", plan({ timeoutMs: 0 }), new Cancellation())).toEqual({ refused: "timeout" });
        await lease(first).release();
        expect((await slots.countWaiting([groupQueue(1)])).get(groupQueue(1))).toBe(0);
        queue.close();
      }));

    if (options.shared) {
      it("wakes a waiter of another process when this one releases (no poll)", () =>
        withSlots(async ({ slots, peer }) => {
          const theirs = new SlotWaitQueue(peer!, NO_POLL);
          const held = lease(await slots.acquire(solo, "held"));
          const remote = waiter(theirs, "remote");
          await remote.waiting;
          expect((await slots.countWaiting([groupQueue(1)])).get(groupQueue(1))).toBe(1);
          await held.release();
          expect(lease(await remote.outcome).accountId).toBe("solo");
          theirs.close();
        }));
    }
  });
}
