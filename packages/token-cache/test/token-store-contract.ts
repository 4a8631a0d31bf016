import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TokenStore } from "../src/token-store";

/** Two handles onto one shared store, as two processes would have, and a way to dispose of them. */
export interface StoreSetup {
  store: TokenStore;
  peer: TokenStore;
  cleanup: () => Promise<void>;
}

/** The TokenStore contract; every implementation runs it. */
export function describeTokenStoreContract(name: string, setup: () => Promise<StoreSetup>): void {
  describe(`TokenStore contract: ${name}`, () => {
    let store: TokenStore;
    let peer: TokenStore;
    let cleanup: () => Promise<void>;
    const key = "claude:account:1";
    const hour = 3_600_000;

    beforeEach(async () => {
      ({ store, peer, cleanup } = await setup());
    });
    afterEach(async () => {
      await cleanup();
    });

    it("misses an unknown key and returns what was set, without a refresh token", async () => {
      expect(await store.getToken(key)).toEqual({ state: "miss" });
      expect(await store.setTokenIfNewer(key, { accessToken: "at-1", expiresAt: 1_900_000_000_000, tokenVersion: 3 }, hour)).toBe("written");
      expect(await peer.getToken(key)).toEqual({
        state: "hit",
        token: { accessToken: "at-1", expiresAt: 1_900_000_000_000, tokenVersion: 3 },
      });
      await store.setTokenIfNewer(key, { accessToken: "at-2", tokenVersion: 4 }, hour);
      expect(await store.getToken(key)).toEqual({ state: "hit", token: { accessToken: "at-2", tokenVersion: 4 } });
      expect(await store.getToken("claude:account:2")).toEqual({ state: "miss" });
    });

    it("refuses an older version, overwrites an equal or newer one", async () => {
      await store.setTokenIfNewer(key, { accessToken: "at-5", tokenVersion: 5 }, hour);
      expect(await peer.setTokenIfNewer(key, { accessToken: "at-4", tokenVersion: 4 }, hour)).toBe("stale");
      expect(await store.getToken(key)).toMatchObject({ token: { accessToken: "at-5" } });
      expect(await peer.setTokenIfNewer(key, { accessToken: "at-5b", tokenVersion: 5 }, hour)).toBe("written");
      expect(await peer.setTokenIfNewer(key, { accessToken: "at-6", tokenVersion: 6 }, hour)).toBe("written");
      expect(await store.getToken(key)).toMatchObject({ token: { accessToken: "at-6", tokenVersion: 6 } });
    });

    it("a late invalidation of an older version keeps the newer token (a 401 on the old token)", async () => {
      await store.setTokenIfNewer(key, { accessToken: "at-7", tokenVersion: 7 }, hour);
      await peer.invalidateToken(key, 6, hour);
      expect(await store.getToken(key)).toEqual({ state: "hit", token: { accessToken: "at-7", tokenVersion: 7 } });
      await peer.invalidateToken(key, 7, hour);
      await store.invalidateToken(key, 5, hour);
      // A marker at a higher version is kept too.
      expect(await store.getToken(key)).toEqual({ state: "invalidated", tokenVersion: 7 });
    });

    it("invalidates at the served version and refuses that version and older afterwards", async () => {
      await store.setTokenIfNewer(key, { accessToken: "at-7", tokenVersion: 7 }, hour);
      await peer.invalidateToken(key, 7, hour);
      expect(await store.getToken(key)).toEqual({ state: "invalidated", tokenVersion: 7 });
      expect(await store.setTokenIfNewer(key, { accessToken: "at-7", tokenVersion: 7 }, hour)).toBe("invalidated");
      expect(await store.setTokenIfNewer(key, { accessToken: "at-3", tokenVersion: 3 }, hour)).toBe("invalidated");
      expect(await store.setTokenIfNewer(key, { accessToken: "at-8", tokenVersion: 8 }, hour)).toBe("written");
      expect(await peer.getToken(key)).toMatchObject({ state: "hit", token: { accessToken: "at-8" } });
      await store.invalidateToken("claude:account:9", 4, hour);
      expect(await store.getToken("claude:account:9")).toEqual({ state: "invalidated", tokenVersion: 4 });
    });

    it("an acquire re-sent by the owner (after a reconnect) answers acquired; another owner still waits", async () => {
      expect(await store.acquireLock(key, "owner-a", 10_000)).toBe(true);
      expect(await store.acquireLock(key, "owner-a", 10_000)).toBe(true);
      expect(await peer.acquireLock(key, "owner-a", 10_000)).toBe(true);
      expect(await peer.acquireLock(key, "owner-b", 10_000)).toBe(false);
      expect(await store.releaseLock(key, "owner-a")).toBe(true);
      expect(await peer.acquireLock(key, "owner-b", 10_000)).toBe(true);
    });

    it("gives the lock to one owner; only the owner extends or releases it", async () => {
      expect(await store.acquireLock(key, "owner-a", 10_000)).toBe(true);
      expect(await peer.acquireLock(key, "owner-b", 10_000)).toBe(false);
      expect(await peer.extendLock(key, "owner-b", 10_000)).toBe(false);
      expect(await peer.releaseLock(key, "owner-b")).toBe(false);
      expect(await peer.acquireLock(key, "owner-b", 10_000)).toBe(false);
      expect(await store.extendLock(key, "owner-a", 10_000)).toBe(true);
      expect(await store.releaseLock(key, "owner-a")).toBe(true);
      expect(await store.extendLock(key, "owner-a", 10_000)).toBe(false);
      expect(await peer.acquireLock(key, "owner-b", 10_000)).toBe(true);
      expect(await store.acquireLock("claude:account:2", "owner-a", 10_000)).toBe(true);
    });

    it("wakes every waiter on any handle when the lock is released", async () => {
      await store.acquireLock(key, "owner-a", 10_000);
      const waits = [
        ...Array.from({ length: 50 }, () => peer.waitForRefresh(key, 10_000)),
        ...Array.from({ length: 50 }, () => store.waitForRefresh(key, 10_000)),
      ];
      // Barrier: a wait on an unlocked key issued after the others returns after their lock checks ran.
      expect(await peer.waitForRefresh("barrier", 10_000)).toBe("unlocked");
      expect(await store.waitForRefresh("barrier", 10_000)).toBe("unlocked");
      await store.releaseLock(key, "owner-a");
      const results = await Promise.all(waits);
      expect(new Set(results)).toEqual(new Set(["announced"]));
    });

    it("answers 'unlocked' at once when nobody holds the lock", async () => {
      expect(await peer.waitForRefresh(key, 10_000)).toBe("unlocked");
    });

    it("times out when the holder never announces, and is not woken by another key", async () => {
      await store.acquireLock(key, "owner-a", 10_000);
      await store.acquireLock("claude:account:2", "owner-a", 10_000);
      const wait = peer.waitForRefresh(key, 150);
      await store.releaseLock("claude:account:2", "owner-a");
      expect(await wait).toBe("timeout");
    });

    it("stops waiting with the signal's reason when the signal aborts", async () => {
      await store.acquireLock(key, "owner-a", 10_000);
      const controller = new AbortController();
      const wait = peer.waitForRefresh(key, 10_000, controller.signal);
      const reason = new Error("caller left");
      controller.abort(reason);
      await expect(wait).rejects.toBe(reason);
      const aborted = AbortSignal.abort(reason);
      await expect(peer.waitForRefresh(key, 10_000, aborted)).rejects.toBe(reason);
    });
  });
}
