import { describeKeyCountersContract } from "./key-counters.contract";
import { MemoryConcurrencySlots } from "./concurrency-slots";

let slots = new MemoryConcurrencySlots();
describeKeyCountersContract(
  "MemoryConcurrencySlots",
  async () => {
    slots = new MemoryConcurrencySlots();
    return {
      get slots() {
        return slots;
      },
      // A restarted process: new slots, no counters.
      forget: () => {
        slots = new MemoryConcurrencySlots();
        return Promise.resolve();
      },
      settle: () => Promise.resolve(),
      cleanup: () => Promise.resolve(),
    };
  },
  { shared: false },
);
