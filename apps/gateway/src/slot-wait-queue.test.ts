import { describeSlotWaitContract } from "./slot-wait-queue.contract";
import { MemoryConcurrencySlots } from "./concurrency-slots";

describeSlotWaitContract("MemoryConcurrencySlots", async () => ({ slots: new MemoryConcurrencySlots(), cleanup: () => Promise.resolve() }), {
  shared: false,
});
