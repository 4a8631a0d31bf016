import { describe, expect, it } from "vitest";
import type { ConcurrencySlots, SlotCandidate, SlotLease } from "./concurrency-slots";

export interface SlotsFixture {
  slots: ConcurrencySlots;
  /** Another process's view of the same slots (shared implementations only). */
  peer?: ConcurrencySlots;
  cleanup(): Promise<void>;
}

const candidate = (id: string, concurrency = 2, priority = 1): SlotCandidate => ({ id, concurrency, priority });

/** What every ConcurrencySlots must do; run against the in-memory one and the Redis one. */
export function describeConcurrencySlotsContract(
  name: string,
  create: () => Promise<SlotsFixture>,
  options: { shared: boolean },
): void {
  describe(`ConcurrencySlots contract: ${name}`, () => {
    async function withSlots(test: (fixture: SlotsFixture) => Promise<void>): Promise<void> {
      const fixture = await create();
      try {
        await test(fixture);
      } finally {
        await fixture.cleanup();
      }
    }

    it("spreads load: the least loaded candidate of the best tier wins, ties keep the given order", () =>
      withSlots(async ({ slots }) => {
        const both = [candidate("a", 2), candidate("b", 4)];
        const taken: string[] = [];
        for (let index = 0; index < 6; index++) taken.push((await slots.acquire(both, `lease-${index}`))!.accountId);
        // a 0/2 = b 0/4 -> a; then b (0 < 1/2); b 1/4 < 1/2 -> b; a 1/2 = b 2/4 -> a; then b, b.
        expect(taken).toEqual(["a", "b", "b", "a", "b", "b"]);
        expect(await slots.acquire(both, "lease-full")).toBeNull();
      }));

    it("uses a worse priority tier only when the best one is full", () =>
      withSlots(async ({ slots }) => {
        const tiers = [candidate("first", 1, 1), candidate("second", 1, 1), candidate("backup", 5, 9)];
        const taken: string[] = [];
        for (let index = 0; index < 3; index++) taken.push((await slots.acquire(tiers, `lease-${index}`))!.accountId);
        expect(taken).toEqual(["first", "second", "backup"]);
      }));

    it("frees a slot on release, once however often release is called", () =>
      withSlots(async ({ slots }) => {
        const one = [candidate("solo", 2)];
        const first = (await slots.acquire(one, "lease-1"))!;
        const second = (await slots.acquire(one, "lease-2"))!;
        expect(await slots.acquire(one, "lease-3")).toBeNull();
        await first.release();
        await first.release();
        const third = await slots.acquire(one, "lease-3");
        expect(third?.accountId).toBe("solo");
        // The double release did not free second's slot too.
        expect(await slots.acquire(one, "lease-4")).toBeNull();
        await Promise.all([second.release(), third!.release()]);
      }));

    it("frees released slots for acquisitions made right after, in the same turn of the event loop", () =>
      withSlots(async ({ slots }) => {
        const one = [candidate("busy", 1)];
        for (let round = 0; round < 20; round++) {
          const lease: SlotLease | null = await slots.acquire(one, `lease-${round}`);
          expect(lease?.accountId).toBe("busy");
          // Not awaited, as the relay does it: the next acquisition must still see the slot free.
          void lease!.release();
        }
      }));

    it("takes no second slot for a call repeated with the same lease id (a re-send), and answers the same account", () =>
      withSlots(async ({ slots }) => {
        const two = [candidate("a", 1), candidate("b", 1)];
        const first = await slots.acquire(two, "sent-twice");
        const again = await slots.acquire(two, "sent-twice");
        expect([first?.accountId, again?.accountId]).toEqual(["a", "a"]);
        // b is still free: the repeat did not take it.
        expect((await slots.acquire(two, "other"))?.accountId).toBe("b");
        await again!.release();
        expect((await slots.acquire(two, "after"))?.accountId).toBe("a");
      }));

    if (options.shared) {
      it("shares counts between processes", () =>
        withSlots(async ({ slots, peer }) => {
          const lease = await slots.acquire([candidate("shared", 1)], "mine");
          expect(await peer!.acquire([candidate("shared", 1)], "theirs")).toBeNull();
          await lease!.release();
          expect((await peer!.acquire([candidate("shared", 1)], "theirs"))?.accountId).toBe("shared");
        }));
    }
  });
}
