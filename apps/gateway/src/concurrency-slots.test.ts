import { expect, it } from "vitest";
import { describeConcurrencySlotsContract } from "./concurrency-slots.contract";
import { MemoryConcurrencySlots } from "./concurrency-slots";

describeConcurrencySlotsContract(
  "MemoryConcurrencySlots",
  async () => ({ slots: new MemoryConcurrencySlots(), cleanup: () => Promise.resolve() }),
  { shared: false },
);

it("MemoryConcurrencySlots counts per instance: the embedded gateway is one process", async () => {
  const mine = new MemoryConcurrencySlots();
  const other = new MemoryConcurrencySlots();
  const only = [{ id: "x", concurrency: 1, priority: 1 }];
  await mine.acquire(only, "mine");
  expect(mine.inFlight("x")).toBe(1);
  expect((await other.acquire(only, "other"))?.accountId).toBe("x");
});
