import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TokenManager, type TokenManagerOptions } from "../src/token-manager";
import { TokenRefreshError } from "../src/token-refresh-error";
import type { TokenMetrics } from "../src/token-metrics";
import type { TokenStore } from "../src/token-store";
import type { TokenAccount } from "../src/types";
import {
  deferred,
  FakeAccounts,
  FakeRefresher,
  InstrumentedTokenStore,
  permanentError,
  recordingLogger,
  transientError,
} from "./fixtures";
import type { StoreSetup } from "./token-store-contract";

const minute = 60_000;
const hour = 60 * minute;

/** TokenManager rules 1-11, run against every TokenStore implementation. */
export function describeTokenManagerContract(name: string, setup: () => Promise<StoreSetup>): void {
  describe(`TokenManager rules: ${name}`, () => {
    let shared: StoreSetup;
    let store: InstrumentedTokenStore;
    let peer: TokenStore;
    let clock: number;
    let accounts: FakeAccounts;
    let refresher: FakeRefresher;
    const key = "claude:account:a1";

    function account(credentials: TokenAccount["credentials"]): TokenAccount {
      return { id: "a1", platform: "claude", credentials };
    }
    function manager(options: Partial<TokenManagerOptions> = {}): TokenManager {
      return new TokenManager({ accounts, refreshers: { claude: refresher }, store, now: () => clock, ...options });
    }
    const issued = (call: number) => ({ accessToken: `new-at-${call}`, refreshToken: `new-rt-${call}`, expiresAt: clock + 8 * hour });

    beforeEach(async () => {
      shared = await setup();
      store = new InstrumentedTokenStore(shared.store);
      peer = shared.peer;
      clock = Date.now();
      refresher = new FakeRefresher((_account, call) => issued(call));
    });
    afterEach(async () => {
      await shared.cleanup();
    });

    it("rule 1: a cache hit touches neither the database nor the lock", async () => {
      const valid = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 4 });
      accounts = new FakeAccounts(valid);
      await peer.setTokenIfNewer(key, { accessToken: "cached-at", expiresAt: clock + hour, tokenVersion: 4 }, hour);
      const tokens = manager();
      expect(await tokens.getAccessToken(valid)).toBe("cached-at");
      expect(await tokens.getAccessToken(valid)).toBe("cached-at");
      expect(accounts.gets).toBe(0);
      expect(store.count("acquireLock")).toBe(0);
      expect(refresher.calls).toHaveLength(0);
    });

    it("rule 2: caches a token that is not near expiry with TTL = expiry - cacheSkew, capped as specified", async () => {
      accounts = new FakeAccounts();
      const tokens = manager({ cacheSkewMs: 5 * minute, failureTtlMs: minute, refreshSkewMs: 3 * minute });
      const ttls: number[] = [];
      store.hooks.setTokenIfNewer = (_key, _token, ttlMs) => void ttls.push(ttlMs);
      expect(await tokens.getAccessToken(account({ accessToken: "far", expiresAt: clock + hour }))).toBe("far");
      expect(ttls).toEqual([hour - 5 * minute]);
      expect(await peer.getToken(key)).toMatchObject({ state: "hit", token: { accessToken: "far" } });
      expect(accounts.gets).toBe(0);

      // Less than cacheSkew left (but more than refreshSkew): until the refresh skew begins, not to expiry.
      const other = { id: "a2", platform: "claude", credentials: { accessToken: "near", expiresAt: clock + 4 * minute } };
      await tokens.getAccessToken(other);
      expect(ttls[1]).toBe(minute);

      // Unknown expiry and already expired are refreshed (rule 3); the refreshed token's TTL follows the same rule.
      refresher.respond = () => ({ accessToken: "no-expiry" });
      accounts.accounts.set("a3", { id: "a3", platform: "claude", credentials: { accessToken: "x", refreshToken: "r" } });
      await tokens.getAccessToken({ id: "a3", platform: "claude", credentials: { accessToken: "x", refreshToken: "r" } });
      expect(ttls[2]).toBe(30 * minute);

      // Expired token kept after a transient failure cannot be served; a valid one is cached for failureTtl (rule 8).
      refresher.respond = () => Promise.reject(transientError());
      const expiring = { id: "a4", platform: "claude", credentials: { accessToken: "soon", refreshToken: "r", expiresAt: clock + 2 * minute } };
      accounts.accounts.set("a4", structuredClone(expiring));
      expect(await tokens.getAccessToken(expiring)).toBe("soon");
      expect(ttls[3]).toBe(minute);
    });

    it("rule 3: near expiry, refreshes once, merges, stamps a higher version, saves, caches and announces", async () => {
      const old = account({
        accessToken: "old-at",
        refreshToken: "rt-1",
        expiresAt: clock + minute,
        tokenVersion: 7,
        scope: "user:inference",
        accountUuid: "u-1",
      });
      accounts = new FakeAccounts(old);
      const gate = deferred();
      refresher.respond = async () => {
        await gate.promise;
        return { accessToken: "new-at", expiresAt: clock + 8 * hour, scope: "user:inference user:profile" };
      };
      const tokens = manager();
      await peer.acquireLock("unrelated", "x", 10_000);
      const callers = Array.from({ length: 50 }, () => tokens.getAccessToken(old));
      await refresher.started.promise;
      // Another process arriving now must wait for this process's announcement, not refresh.
      const waitedOn = peer.waitForRefresh(key, 10_000);
      gate.resolve();
      expect(new Set(await Promise.all(callers))).toEqual(new Set(["new-at"]));
      expect(await waitedOn).not.toBe("timeout");
      expect(refresher.calls).toHaveLength(1);
      const saved = accounts.saved[0]!.credentials;
      expect(saved).toMatchObject({
        accessToken: "new-at",
        refreshToken: "rt-1",
        accountUuid: "u-1",
        scope: "user:inference user:profile",
        expiresAt: clock + 8 * hour,
      });
      expect(saved.tokenVersion).toBeGreaterThan(7);
      expect(await peer.getToken(key)).toEqual({
        state: "hit",
        token: { accessToken: "new-at", expiresAt: clock + 8 * hour, tokenVersion: saved.tokenVersion },
      });
      expect(await peer.acquireLock(key, "after", 1_000)).toBe(true);
    });

    it("getToken tells when the token it serves expires: from the cache, the account, or a refresh", async () => {
      const fresh = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 4 });
      accounts = new FakeAccounts(fresh);
      const tokens = manager();
      // Not cached yet: the account's own token, which is then cached.
      expect(await tokens.getToken(fresh)).toEqual({ accessToken: "at-1", expiresAt: clock + hour, tokenVersion: 4 });
      expect(await tokens.getToken(fresh)).toEqual({ accessToken: "at-1", expiresAt: clock + hour, tokenVersion: 4 });
      expect(accounts.gets).toBe(0);
      // Near expiry: refreshed, and the new expiry reported.
      const expiring = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock + minute, tokenVersion: 5 });
      await tokens.invalidate(expiring);
      accounts = new FakeAccounts(expiring);
      const refreshed = manager();
      expect(await refreshed.getToken(expiring)).toEqual({ accessToken: "new-at-1", expiresAt: clock + 8 * hour, tokenVersion: expect.any(Number) });
      expect(await refreshed.getAccessToken(expiring)).toBe("new-at-1");
    });

    it("rule 3: an unknown expiry counts as near expiry", async () => {
      const unknown = account({ accessToken: "old-at", refreshToken: "rt-1" });
      accounts = new FakeAccounts(unknown);
      expect(await manager().getAccessToken(unknown)).toBe("new-at-1");
      expect(refresher.calls).toHaveLength(1);
    });

    it("rule 3: refreshIfNeeded coalesces on cache key + window, never sharing a result across windows", async () => {
      const old = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock + 30_000 });
      accounts = new FakeAccounts(old);
      const gate = deferred();
      refresher.respond = async (_account, call) => {
        if (call === 1) await gate.promise;
        // The first refresh yields a 30-minute token: enough for a 1-minute window, not for a 1-hour one.
        return { accessToken: `new-at-${call}`, expiresAt: clock + (call === 1 ? 30 * minute : 2 * hour) };
      };
      const tokens = manager();
      const short = [tokens.refreshIfNeeded(old, minute), tokens.refreshIfNeeded(old, minute)];
      await refresher.started.promise;
      const long = tokens.refreshIfNeeded(old, hour);
      gate.resolve();
      const [first, second] = await Promise.all(short);
      expect(first).toMatchObject({ refreshed: true, lockHeld: true, account: { credentials: { accessToken: "new-at-1" } } });
      expect(second!.account.credentials.accessToken).toBe("new-at-1");
      const longResult = await long;
      expect(longResult.refreshed).toBe(true);
      expect(longResult.account.credentials.expiresAt! - clock).toBeGreaterThan(hour);
      expect(refresher.calls).toHaveLength(2);
      // Not needed: neither a lock nor a refresh.
      const locks = store.count("acquireLock");
      expect(await tokens.refreshIfNeeded(longResult.account, minute)).toMatchObject({ refreshed: false, lockHeld: false });
      expect(store.count("acquireLock")).toBe(locks);
    });

    it("rule 4: waits for another process's announcement instead of refreshing", async () => {
      const old = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock - 1 });
      accounts = new FakeAccounts(old);
      await peer.acquireLock(key, "other-process", 30_000);
      const waiting = deferred();
      store.hooks.waitForRefresh = () => waiting.resolve();
      const metrics: string[] = [];
      const tokens = manager({ metrics: { lockWait: (_platform, result) => void metrics.push(result) } });
      const token = tokens.getAccessToken(old);
      await waiting.promise;
      await peer.setTokenIfNewer(key, { accessToken: "theirs", expiresAt: clock + hour, tokenVersion: 9 }, hour);
      await peer.releaseLock(key, "other-process");
      expect(await token).toBe("theirs");
      expect(refresher.calls).toHaveLength(0);
      expect(metrics).toHaveLength(1);
    });

    it("rule 4: after lockWaitMs, uses the account's token when valid, else fails transiently without refreshing", async () => {
      const old = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock - 1 });
      accounts = new FakeAccounts(old);
      await peer.acquireLock(key, "other-process", 30_000);
      const tokens = manager({ lockWaitMs: 100 });
      const error = await tokens.getAccessToken(old).catch((caught: unknown) => caught);
      expect(TokenRefreshError.isInstance(error) && error.code).toBe("lock_timeout");
      expect(TokenRefreshError.isInstance(error) && error.permanent).toBe(false);
      await accounts.saveCredentials("a1", { accessToken: "saved-by-them", refreshToken: "rt-2", expiresAt: clock + hour, tokenVersion: 3 });
      expect(await tokens.getAccessToken(old)).toBe("saved-by-them");
      expect(refresher.calls).toHaveLength(0);
    });

    it("rule 5: a refresh that outlives the lock TTL extends the lock it owns", async () => {
      const old = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock - 1 });
      accounts = new FakeAccounts(old);
      const gate = deferred();
      refresher.respond = async () => {
        await gate.promise;
        return issued(1);
      };
      const extended = deferred();
      let extensions = 0;
      store.hooks.extendLock = () => {
        if (++extensions === 4) extended.resolve();
      };
      const tokens = manager({ lockTtlMs: 90 });
      const token = tokens.getAccessToken(old);
      await extended.promise;
      // Four extensions at ttl/3 apart: the original 90 ms TTL has run out, yet the lock is still ours.
      expect(await peer.acquireLock(key, "other-process", 1_000)).toBe(false);
      const owner = store.calls.find((call) => call.method === "acquireLock")!.args[1];
      expect(store.calls.filter((call) => call.method === "extendLock").every((call) => call.args[1] === owner)).toBe(true);
      gate.resolve();
      expect(await token).toBe("new-at-1");
      expect(await peer.acquireLock(key, "other-process", 1_000)).toBe(true);
    });

    for (const order of ["refresh first", "stale write first"] as const) {
      it(`rule 6 / race: a request-path write of the old version and a refresh, ${order}: the cache ends new`, async () => {
        const stale = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 1 });
        accounts = new FakeAccounts(stale);
        const tokens = manager();
        const staleWriteReached = deferred();
        const releaseStaleWrite = deferred();
        store.hooks.setTokenIfNewer = async (_key, token) => {
          if (token.accessToken !== "old-at") return;
          staleWriteReached.resolve();
          await releaseStaleWrite.promise;
        };
        // The request read the account (version 1) before the refresh and is about to cache it.
        const request = tokens.getAccessToken(stale);
        await staleWriteReached.promise;
        if (order === "refresh first") {
          await tokens.refreshIfNeeded(stale, 2 * hour);
          releaseStaleWrite.resolve();
          // Refused: the request serves the newer cached token instead of its own copy.
          expect(await request).toBe("new-at-1");
        } else {
          releaseStaleWrite.resolve();
          expect(await request).toBe("old-at");
          await tokens.refreshIfNeeded(stale, 2 * hour);
        }
        expect(await peer.getToken(key)).toMatchObject({ state: "hit", token: { accessToken: "new-at-1" } });
        expect(await tokens.getAccessToken(stale)).toBe("new-at-1");
        expect(accounts.gets).toBe(1);
      });
    }

    it("rule 7: a permanent failure after another writer rotated the refresh token returns that writer's token", async () => {
      const old = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock - 1, tokenVersion: 1 });
      accounts = new FakeAccounts(old);
      refresher.respond = async () => {
        await accounts.saveCredentials("a1", { accessToken: "other-at", refreshToken: "rt-2", expiresAt: clock + hour, tokenVersion: 2 });
        throw permanentError();
      };
      expect(await manager().getAccessToken(old)).toBe("other-at");
      expect(refresher.calls).toHaveLength(1);
    });

    it("rule 8: transient failure serves the valid token for failureTtl only; permanent failure throws once", async () => {
      const expiring = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock + minute });
      accounts = new FakeAccounts(expiring);
      refresher.respond = () => Promise.reject(transientError());
      const tokens = manager({ failureTtlMs: 20_000 });
      expect(await tokens.getAccessToken(expiring)).toBe("old-at");
      expect(await tokens.getAccessToken(expiring)).toBe("old-at");
      expect(refresher.calls).toHaveLength(1);
      const ttl = store.calls.find((call) => call.method === "setTokenIfNewer")!.args[2];
      expect(ttl).toBe(20_000);
      await expect(tokens.refreshIfNeeded(expiring, 5 * minute)).rejects.toMatchObject({ code: "server", permanent: false });

      const expired = { id: "a2", platform: "claude", credentials: { accessToken: "dead", refreshToken: "rt", expiresAt: clock - 1 } };
      accounts.accounts.set("a2", structuredClone(expired));
      await expect(tokens.getAccessToken(expired)).rejects.toMatchObject({ name: "TokenRefreshError", permanent: false });

      refresher.respond = () => Promise.reject(permanentError());
      refresher.calls = [];
      const revoked = { id: "a3", platform: "claude", credentials: { accessToken: "dead", refreshToken: "rt", expiresAt: clock - 1 } };
      accounts.accounts.set("a3", structuredClone(revoked));
      const error = await tokens.getAccessToken(revoked).catch((caught: unknown) => caught);
      expect(TokenRefreshError.isInstance(error) && error.permanent).toBe(true);
      expect(refresher.calls).toHaveLength(1);
    });

    it("rule 10: a cancelled caller stops waiting; the refresh finishes for the others and is saved after all left", async () => {
      const old = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock - 1 });
      accounts = new FakeAccounts(old);
      const gate = deferred();
      refresher.respond = async () => {
        await gate.promise;
        return issued(1);
      };
      const tokens = manager();
      const leaving = new AbortController();
      const staying = new AbortController();
      const first = tokens.getAccessToken(old, { signal: leaving.signal });
      const second = tokens.getAccessToken(old, { signal: staying.signal });
      await refresher.started.promise;
      const reason = new Error("client disconnected");
      leaving.abort(reason);
      await expect(first).rejects.toBe(reason);
      gate.resolve();
      expect(await second).toBe("new-at-1");

      // Every caller leaves while the endpoint is answering: the rotated credentials are still saved and cached.
      const another = { id: "a2", platform: "claude", credentials: { accessToken: "x", refreshToken: "rt-9", expiresAt: clock - 1 } };
      accounts.accounts.set("a2", structuredClone(another));
      const slow = deferred();
      refresher.started = deferred<number>();
      refresher.respond = async () => {
        await slow.promise;
        return { accessToken: "late-at", refreshToken: "late-rt", expiresAt: clock + hour };
      };
      const saved = deferred();
      accounts.onSave = (id) => id === "a2" && saved.resolve();
      const alone = new AbortController();
      const lone = tokens.getAccessToken(another, { signal: alone.signal });
      await refresher.started.promise;
      alone.abort(reason);
      await expect(lone).rejects.toBe(reason);
      expect(refresher.signals.at(-1)!.aborted).toBe(false);
      slow.resolve();
      await saved.promise;
      expect(accounts.accounts.get("a2")!.credentials).toMatchObject({ accessToken: "late-at", refreshToken: "late-rt" });
      expect(await tokens.getAccessToken(another)).toBe("late-at");
      expect(refresher.calls).toHaveLength(2);
    });

    it("invalidate: the next call refreshes even though the token looks valid, and the old token is not cached again", async () => {
      const valid = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 5 });
      accounts = new FakeAccounts(valid);
      const tokens = manager();
      expect(await tokens.getAccessToken(valid)).toBe("at-1");
      await tokens.invalidate(valid);
      expect(await tokens.getAccessToken(valid)).toBe("new-at-1");
      expect(refresher.calls).toHaveLength(1);
      expect(await tokens.getAccessToken(valid)).toBe("new-at-1");
    });

    it("a late 401 on the old token keeps the token just refreshed (invalidate with the served version)", async () => {
      const valid = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 5 });
      accounts = new FakeAccounts(valid);
      const tokens = manager();
      // R1 and R2 are both served the old token.
      const first = await tokens.getToken(valid);
      const second = await tokens.getToken(valid);
      expect(first).toEqual({ accessToken: "at-1", expiresAt: clock + hour, tokenVersion: 5 });
      expect(second.tokenVersion).toBe(5);
      // R1's 401: invalidated, refreshed once.
      await tokens.invalidate(valid, first.tokenVersion);
      const fresh = await tokens.getToken(valid);
      expect(fresh.accessToken).toBe("new-at-1");
      expect(fresh.tokenVersion).toBeGreaterThan(5);
      // R2's 401 on the old token arrives late, with an account read from a directory that predates the
      // refresh: the fresh token stays, and no second rotation follows.
      await tokens.invalidate(valid, second.tokenVersion);
      expect(await tokens.getToken(valid)).toEqual(fresh);
      expect(refresher.calls).toHaveLength(1);
      // A 401 on the fresh token does invalidate it.
      await tokens.invalidate(valid, fresh.tokenVersion);
      expect((await tokens.getToken(valid)).accessToken).toBe("new-at-2");
      expect(refresher.calls).toHaveLength(2);
    });

    /** The store, with cache reads that answer what they saw only once `lag` settles (a slow round trip). */
    function lagging(lag: Promise<unknown>): TokenStore {
      return {
        getToken: async (lookupKey) => {
          const seen = await store.getToken(lookupKey);
          await lag;
          return seen;
        },
        setTokenIfNewer: (...args) => store.setTokenIfNewer(...args),
        invalidateToken: (...args) => store.invalidateToken(...args),
        acquireLock: (...args) => store.acquireLock(...args),
        extendLock: (...args) => store.extendLock(...args),
        releaseLock: (...args) => store.releaseLock(...args),
        waitForRefresh: (...args) => store.waitForRefresh(...args),
      };
    }

    it("a getToken after invalidate does not share a cache read that began before the invalidation", async () => {
      const valid = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 5 });
      accounts = new FakeAccounts(valid);
      await peer.setTokenIfNewer(key, { accessToken: "at-1", expiresAt: clock + hour, tokenVersion: 5 }, hour);
      const lag = deferred();
      const tokens = manager({ store: lagging(lag.promise) });
      // Another request's read of the cache is under way (it saw at-1) when a 401 on at-1 comes in.
      const early = tokens.getToken(valid);
      await tokens.invalidate(valid, 5);
      const retry = tokens.getToken(valid);
      lag.resolve();
      expect((await early).accessToken).toBe("at-1");
      expect((await retry).accessToken).toBe("new-at-1");
      expect(refresher.calls).toHaveLength(1);
    });

    it("newerThan: callers refused one token share one refresh; later ones get its token without refreshing", async () => {
      const valid = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 5 });
      accounts = new FakeAccounts(valid);
      await peer.setTokenIfNewer(key, { accessToken: "at-1", expiresAt: clock + hour, tokenVersion: 5 }, hour);
      const gate = deferred();
      refresher.respond = async (_account, call) => {
        await gate.promise;
        return issued(call);
      };
      const lag = deferred();
      const tokens = manager({ store: lagging(lag.promise) });
      // A read that saw at-1 is still under way: it must not satisfy callers past version 5.
      const early = tokens.getToken(valid);
      const herd = Array.from({ length: 20 }, () => tokens.getToken(valid, { newerThan: 5 }));
      lag.resolve();
      await refresher.started.promise;
      gate.resolve();
      const served = await Promise.all(herd);
      expect(new Set(served.map((token) => token.accessToken))).toEqual(new Set(["new-at-1"]));
      expect(served[0]!.tokenVersion).toBeGreaterThan(5);
      expect((await early).accessToken).toBe("at-1");
      // Past 5 again, after the refresh (a late 401 on at-1, an account copy from before): no second refresh.
      expect((await tokens.getToken(valid, { newerThan: 5 })).accessToken).toBe("new-at-1");
      expect(refresher.calls).toHaveLength(1);
      // Past the fresh token's version: one more refresh.
      expect((await tokens.getToken(valid, { newerThan: served[0]!.tokenVersion })).accessToken).toBe("new-at-2");
      expect(refresher.calls).toHaveLength(2);
    });

    it("newerThan: a token another process refreshed into the database is served without refreshing", async () => {
      const valid = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 5 });
      accounts = new FakeAccounts({ ...valid, credentials: { accessToken: "elsewhere-at", refreshToken: "rt-2", expiresAt: clock + hour, tokenVersion: 6 } });
      const tokens = manager();
      expect(await tokens.getToken(valid, { newerThan: 5 })).toMatchObject({ accessToken: "elsewhere-at", tokenVersion: 6 });
      expect(refresher.calls).toHaveLength(0);
    });

    it("newerThan: a refresh that fails never serves the refused token", async () => {
      const valid = account({ accessToken: "at-1", refreshToken: "rt-1", expiresAt: clock + hour, tokenVersion: 5 });
      accounts = new FakeAccounts(valid);
      refresher.respond = () => Promise.reject(transientError());
      const tokens = manager();
      await expect(tokens.getToken(valid, { newerThan: 5 })).rejects.toMatchObject({ code: "server" });
    });

    it("a lock acquire re-sent after a reconnect: the owner refreshes and does not wait for itself", async () => {
      const expired = account({ accessToken: "old-at", refreshToken: "rt-1", expiresAt: clock - 1 });
      accounts = new FakeAccounts(expired);
      // The first send of the acquire reached the store but its reply was lost; the client re-sends it.
      store.hooks.acquireLock = async (lockKey, owner, ttlMs) => {
        await shared.store.acquireLock(lockKey, owner, ttlMs);
      };
      const tokens = manager({ lockWaitMs: 100 });
      expect(await tokens.getAccessToken(expired)).toBe("new-at-1");
      expect(store.count("waitForRefresh")).toBe(0);
      expect(refresher.calls).toHaveLength(1);
      // The lock was released: another owner takes it at once.
      expect(await peer.acquireLock(key, "after", 1_000)).toBe(true);
    });

    it("rule 11: token values never reach logs, metrics or error messages", async () => {
      const secrets = ["secret-at-1", "secret-rt-1", "secret-at-2", "secret-rt-2"];
      const logger = recordingLogger();
      const recorded: unknown[] = [];
      const metrics: TokenMetrics = {
        cacheHit: (...args) => void recorded.push(args),
        cacheMiss: (...args) => void recorded.push(args),
        refresh: (...args) => void recorded.push(args),
        lockWait: (...args) => void recorded.push(args),
        storeError: (...args) => void recorded.push(args),
      };
      const old = account({ accessToken: "secret-at-1", refreshToken: "secret-rt-1", expiresAt: clock - 1 });
      accounts = new FakeAccounts(old);
      let mode: "transient" | "permanent" | "ok" = "transient";
      refresher.respond = () => {
        if (mode === "ok") return { accessToken: "secret-at-2", refreshToken: "secret-rt-2", expiresAt: clock + hour };
        return Promise.reject(mode === "transient" ? transientError() : permanentError());
      };
      const tokens = manager({ logger, metrics });
      const errors: unknown[] = [];
      errors.push(await tokens.getAccessToken(old).catch((caught: unknown) => caught));
      mode = "permanent";
      errors.push(await tokens.getAccessToken(old).catch((caught: unknown) => caught));
      mode = "ok";
      await tokens.getAccessToken(old);
      expect(logger.entries.length).toBeGreaterThan(0);
      expect(recorded.length).toBeGreaterThan(0);
      const text = JSON.stringify([logger.entries, recorded, errors.map((error) => [String(error), (error as Error).stack])]);
      for (const secret of secrets) expect(text).not.toContain(secret);
    });
  });
}
