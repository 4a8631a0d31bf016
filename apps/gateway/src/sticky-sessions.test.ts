import { describeStickySessionsContract } from "./sticky-sessions.contract";
import { MemoryStickySessions } from "./sticky-sessions";

describeStickySessionsContract("MemoryStickySessions", async ({ maxPerGroup, ttlMs, now }) => ({
  sticky: new MemoryStickySessions({ maxPerGroup, ttlMs, now }),
  cleanup: async () => undefined,
}));
