import { describe, expect, it } from "vitest";
import { describeTokenStoreContract } from "../test/token-store-contract";
import { MemoryTokenStore } from "./memory-token-store";

describeTokenStoreContract("MemoryTokenStore", () => {
  const store = new MemoryTokenStore();
  return Promise.resolve({ store, peer: store, cleanup: () => Promise.resolve() });
});

describe("MemoryTokenStore TTLs", () => {
  it("expires tokens, invalidation markers and locks by its clock", async () => {
    let clock = 1_000;
    const store = new MemoryTokenStore({ now: () => clock });
    await store.setTokenIfNewer("k", { accessToken: "at", tokenVersion: 1 }, 100);
    await store.invalidateToken("j", 5, 50);
    await store.acquireLock("k", "owner", 200);
    clock = 1_099;
    expect((await store.getToken("k")).state).toBe("hit");
    expect((await store.getToken("j")).state).toBe("miss");
    clock = 1_100;
    expect((await store.getToken("k")).state).toBe("miss");
    expect(await store.acquireLock("k", "other", 200)).toBe(false);
    clock = 1_200;
    expect(await store.extendLock("k", "owner", 200)).toBe(false);
    expect(await store.acquireLock("k", "other", 200)).toBe(true);
  });
});
