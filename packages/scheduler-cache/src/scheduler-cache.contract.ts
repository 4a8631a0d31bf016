import { describe, expect, it } from "vitest";
import { SchedulerCacheError } from "./scheduler-cache-error";
import type { AccountSnapshot, RevalidatingSchedulerCache, SchedulerBucket } from "./types";

/** What a contract test may ask of the implementation it runs against. */
export interface ContractCacheOptions {
  beforeActivate?: (bucket: SchedulerBucket, version: number) => Promise<void>;
  createToken?: () => string;
  /**
   * Deliver every activation and lock command twice, the way ioredis re-sends a command after a reconnect
   * when the first delivery ran but its reply was lost. Only meaningful for a cache with a transport; the
   * memory cache ignores it.
   */
  resendCommands?: boolean;
}

export type ContractCacheFactory = (options?: ContractCacheOptions) => Promise<RevalidatingSchedulerCache>;

export function account(id: string, overrides: Partial<AccountSnapshot> = {}): AccountSnapshot {
  return { id, platform: "claude", priority: 1, concurrency: 3, status: "active", schedulable: true, ...overrides };
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const bucket: SchedulerBucket = { groupId: 7, platform: "claude", mode: "single" };
const otherBucket: SchedulerBucket = { groupId: 8, platform: "claude", mode: "mixed" };

/**
 * The SchedulerCache contract. `createCache` returns a fresh, empty cache each call (its own key prefix for
 * Redis); the caller's test file owns cleanup.
 */
export function describeSchedulerCacheContract(name: string, createCache: ContractCacheFactory): void {
  describe(`SchedulerCache contract: ${name}`, () => {
    it("misses a bucket that never had a snapshot", async () => {
      const cache = await createCache();
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: false, version: 0, accounts: [] });
      expect(await cache.getSnapshotStamp(bucket)).toBeNull();
    });

    it("reads back the written accounts in order under the version it activated", async () => {
      const cache = await createCache();
      const accounts = [account("b", { models: ["opus"], rateLimitedUntil: 1_700_000_000_000 }), account("a"), account("c")];
      expect(await cache.setSnapshot(bucket, accounts)).toEqual({ version: 1, activated: true });
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 1, accounts });
      expect(await cache.getSnapshot(otherBucket)).toEqual({ hit: false, version: 0, accounts: [] });
    });

    it("treats an empty snapshot as a hit, so empty buckets are not rebuilt on every request", async () => {
      const cache = await createCache();
      await cache.setSnapshot(bucket, []);
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 1, accounts: [] });
    });

    it("replaces the member list with each new version", async () => {
      const cache = await createCache();
      await cache.setSnapshot(bucket, [account("a"), account("b")]);
      const second = await cache.setSnapshot(bucket, [account("c"), account("a", { priority: 9 })]);
      expect(second).toEqual({ version: 2, activated: true });
      const snapshot = await cache.getSnapshot(bucket);
      expect(snapshot.version).toBe(2);
      expect(snapshot.accounts.map((item) => [item.id, item.priority])).toEqual([["c", 1], ["a", 9]]);
    });

    it("never activates an older version over a newer one: the loser reports activated: false", async () => {
      const holdFirst = deferred();
      const cache = await createCache({
        beforeActivate: async (_bucket, version) => {
          if (version === 1) await holdFirst.promise;
        },
      });
      const first = cache.setSnapshot(bucket, [account("old")]);
      const second = await cache.setSnapshot(bucket, [account("new")]);
      holdFirst.resolve();
      expect(second).toEqual({ version: 2, activated: true });
      expect(await first).toEqual({ version: 1, activated: false });
      const snapshot = await cache.getSnapshot(bucket);
      expect(snapshot.version).toBe(2);
      expect(snapshot.accounts.map((item) => item.id)).toEqual(["new"]);
    });

    it("50 concurrent setSnapshot: a polling reader never sees the version decrease; the highest one wins", async () => {
      // Writers start and activate after differing numbers of event-loop turns, so activations arrive out of
      // allocation order (some lose the compare-and-set) while the reader polls in between.
      const turns = async (count: number) => {
        for (let turn = 0; turn < count; turn += 1) await nextTurn();
      };
      const cache = await createCache({ beforeActivate: (_bucket, version) => turns((version * 3) % 5) });
      let writing = true;
      const observed: Array<{ version: number; ids: string[] }> = [];
      const reader = (async () => {
        while (writing) {
          const snapshot = await cache.getSnapshot(bucket);
          if (snapshot.hit) observed.push({ version: snapshot.version, ids: snapshot.accounts.map((item) => item.id) });
          await nextTurn();
        }
      })();
      const results = await Promise.all(
        Array.from({ length: 50 }, async (_, writer) => {
          const ids = [`writer-${writer}-a`, `writer-${writer}-b`];
          await turns((writer * 7) % 4);
          const result = await cache.setSnapshot(bucket, ids.map((id) => account(id)));
          return { ...result, ids };
        }),
      );
      writing = false;
      await reader;

      const versions = results.map((result) => result.version).sort((left, right) => left - right);
      expect(versions).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
      const idsByVersion = new Map(results.map((result) => [result.version, result.ids]));
      expect(observed.length).toBeGreaterThan(0);
      for (let index = 0; index < observed.length; index += 1) {
        const read = observed[index]!;
        expect(read.ids).toEqual(idsByVersion.get(read.version));
        if (index > 0) expect(read.version).toBeGreaterThanOrEqual(observed[index - 1]!.version);
      }
      const final = await cache.getSnapshot(bucket);
      expect(final.version).toBe(50);
      expect(final.accounts.map((item) => item.id)).toEqual(idsByVersion.get(50));
      expect(results.find((result) => result.version === 50)?.activated).toBe(true);
      expect(new Set(observed.map((read) => read.version)).size).toBeGreaterThan(1);
      expect((await cache.getSnapshotStamp(bucket))?.version).toBe(50);
    });

    it("1,000 version switches under a tight read loop: no hit with a missing or empty member list", async () => {
      const cache = await createCache();
      // Member sets shift every version, so records of dropped members come and go during the run. Records are
      // the newest state of each account (a read may pair version n's list with version n+1's records).
      const idsOf = (version: number) => Array.from({ length: 4 }, (_, index) => `member-${(version + index) % 9}`);
      let switching = true;
      let reads = 0;
      let hits = 0;
      const problems: string[] = [];
      const reader = (async () => {
        while (switching) {
          const snapshot = await cache.getSnapshot(bucket);
          reads += 1;
          if (snapshot.hit) {
            hits += 1;
            const ids = snapshot.accounts.map((item) => item.id);
            const expected = idsOf(snapshot.version);
            if (ids.join() !== expected.join()) problems.push(`v${snapshot.version}: [${ids.join()}]`);
          }
          await nextTurn();
        }
      })();
      for (let version = 1; version <= 1_000; version += 1) {
        const result = await cache.setSnapshot(bucket, idsOf(version).map((id) => account(id, { version })));
        expect(result).toEqual({ version, activated: true });
      }
      switching = false;
      await reader;
      expect(problems).toEqual([]);
      expect(reads).toBeGreaterThan(0);
      expect(hits).toBeGreaterThan(0);
    });

    it("setAccount updates the record in every bucket that lists it, without a rebuild, and moves the stamp", async () => {
      const cache = await createCache();
      await cache.setSnapshot(bucket, [account("shared"), account("solo")]);
      await cache.setSnapshot(otherBucket, [account("shared")]);
      const stampBefore = await cache.getSnapshotStamp(bucket);
      const limited = account("shared", { rateLimitedUntil: 1_800_000_000_000, schedulable: false });
      await cache.setAccount(limited);
      const first = await cache.getSnapshot(bucket);
      const second = await cache.getSnapshot(otherBucket);
      expect(first).toEqual({ hit: true, version: 1, accounts: [limited, account("solo")] });
      expect(second).toEqual({ hit: true, version: 1, accounts: [limited] });
      const stampAfter = await cache.getSnapshotStamp(bucket);
      expect(stampAfter?.version).toBe(stampBefore?.version);
      expect(stampAfter?.changes).toBeGreaterThan(stampBefore!.changes);
      expect(await cache.getAccount("shared")).toEqual(limited);
    });

    it("keeps a setAccount that lands while a rebuild is being written (no lost update)", async () => {
      const reachedActivation = deferred();
      const proceed = deferred();
      const cache = await createCache({
        beforeActivate: async (_bucket, version) => {
          if (version !== 2) return;
          reachedActivation.resolve();
          await proceed.promise;
        },
      });
      await cache.setSnapshot(bucket, [account("a"), account("b")]);
      const rebuild = cache.setSnapshot(bucket, [account("a", { priority: 5 }), account("b", { priority: 5 })]);
      await reachedActivation.promise;
      const errored = account("a", { status: "error", schedulable: false });
      await cache.setAccount(errored);
      proceed.resolve();
      expect(await rebuild).toEqual({ version: 2, activated: true });
      const snapshot = await cache.getSnapshot(bucket);
      expect(snapshot.accounts).toEqual([errored, account("b", { priority: 5 })]);
    });

    it("a re-sent activation reports activated and leaves the version it activated readable", async () => {
      const cache = await createCache({ resendCommands: true });
      const accounts = [account("a"), account("b")];
      expect(await cache.setSnapshot(bucket, accounts)).toEqual({ version: 1, activated: true });
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 1, accounts });
      expect(await cache.setSnapshot(bucket, [account("b")])).toEqual({ version: 2, activated: true });
      for (let read = 0; read < 3; read += 1) {
        expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 2, accounts: [account("b")] });
      }
    });

    it("a setAccount for an account new to the bucket, between staging and activation, is in every read of that version", async () => {
      const reachedActivation = deferred();
      const proceed = deferred();
      const cache = await createCache({
        beforeActivate: async (_bucket, version) => {
          if (version !== 2) return;
          reachedActivation.resolve();
          await proceed.promise;
        },
      });
      await cache.setSnapshot(bucket, [account("a")]);
      const rebuild = cache.setSnapshot(bucket, [account("a"), account("newcomer", { priority: 4 })]);
      await reachedActivation.promise;
      const limited = account("newcomer", { priority: 4, schedulable: false, rateLimitedUntil: 1_800_000_000_000 });
      await cache.setAccount(limited);
      // The active version (1) does not list the newcomer: it still reads as before.
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 1, accounts: [account("a")] });
      proceed.resolve();
      expect(await rebuild).toEqual({ version: 2, activated: true });
      for (let read = 0; read < 3; read += 1) {
        expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 2, accounts: [account("a"), limited] });
      }
      expect(await cache.getAccount("newcomer")).toEqual(limited);
    });

    it("tryLockBucket is safe to re-send: the same owner token is answered acquired, another owner is refused", async () => {
      let next = "owner-1";
      const cache = await createCache({ createToken: () => next });
      expect(await cache.tryLockBucket(bucket, 60_000)).toBe("owner-1");
      expect(await cache.tryLockBucket(bucket, 60_000)).toBe("owner-1");
      next = "owner-2";
      expect(await cache.tryLockBucket(bucket, 60_000)).toBeNull();
      expect(await cache.unlockBucket(bucket, "owner-1")).toBe(true);
      expect(await cache.tryLockBucket(bucket, 60_000)).toBe("owner-2");

      const resent = await createCache({ resendCommands: true });
      const token = await resent.tryLockBucket(bucket, 60_000);
      expect(typeof token).toBe("string");
      expect(await resent.tryLockBucket(bucket, 60_000)).toBeNull();
      expect(await resent.unlockBucket(bucket, token!)).toBe(true);
    });

    it("setAccount refuses a record older than the one held: push v2 then v1, v2 stays in every bucket", async () => {
      const cache = await createCache();
      await cache.setSnapshot(bucket, [account("a", { stateVersion: 1 }), account("b")]);
      await cache.setSnapshot(otherBucket, [account("a", { stateVersion: 1 })]);
      const disabled = account("a", { stateVersion: 2, status: "disabled", schedulable: false });
      await cache.setAccount(disabled);
      const stamp = await cache.getSnapshotStamp(bucket);
      await cache.setAccount(account("a", { stateVersion: 1 }));
      expect(await cache.getAccount("a")).toEqual(disabled);
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 1, accounts: [disabled, account("b")] });
      expect(await cache.getSnapshot(otherBucket)).toEqual({ hit: true, version: 1, accounts: [disabled] });
      expect(await cache.getSnapshotStamp(bucket)).toEqual(stamp);
      // The same version again, and a newer one, are written.
      const again = account("a", { stateVersion: 2, status: "disabled", schedulable: false, priority: 4 });
      await cache.setAccount(again);
      expect((await cache.getSnapshot(bucket)).accounts[0]).toEqual(again);
      const active = account("a", { stateVersion: 3 });
      await cache.setAccount(active);
      expect((await cache.getSnapshot(otherBucket)).accounts).toEqual([active]);
    });

    it("an activation keeps the newer of its record and one a racing setAccount wrote, by stateVersion", async () => {
      const reachedActivation = deferred();
      const proceed = deferred();
      const cache = await createCache({
        beforeActivate: async (_bucket, version) => {
          if (version !== 2) return;
          reachedActivation.resolve();
          await proceed.promise;
        },
      });
      await cache.setSnapshot(bucket, [account("a", { stateVersion: 1 }), account("b", { stateVersion: 1 })]);
      const newer = account("a", { stateVersion: 3, status: "disabled", schedulable: false });
      const rebuild = cache.setSnapshot(bucket, [newer, account("b", { stateVersion: 1 })]);
      await reachedActivation.promise;
      // A late push of an older state of a, and a push of a newer state of b, land between staging and activation.
      await cache.setAccount(account("a", { stateVersion: 2, priority: 7 }));
      const limited = account("b", { stateVersion: 2, rateLimitedUntil: 1_800_000_000_000 });
      await cache.setAccount(limited);
      proceed.resolve();
      expect(await rebuild).toEqual({ version: 2, activated: true });
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 2, accounts: [newer, limited] });
    });

    it("activations follow read order: a read begun before a change never activates over one begun after it", async () => {
      const cache = await createCache();
      let database = account("a", { stateVersion: 1 });
      const read = () => [database];
      await cache.setSnapshot(bucket, read());
      // The gateway's miss-rebuild allocates, then reads "active"; it is slow to write.
      const gatewayTicket = await cache.beginSnapshot(bucket);
      const staleRead = read();
      // An admin disables the account; the outbox consumer rebuilds from a read after the change.
      database = account("a", { stateVersion: 2, status: "disabled", schedulable: false });
      const consumerTicket = await cache.beginSnapshot(bucket);
      expect(consumerTicket.version).toBeGreaterThan(gatewayTicket.version);
      expect(await cache.commitSnapshot(consumerTicket, read())).toEqual({ version: consumerTicket.version, activated: true });
      // The gateway's stale read is refused.
      expect(await cache.commitSnapshot(gatewayTicket, staleRead)).toEqual({ version: gatewayTicket.version, activated: false });
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: consumerTicket.version, accounts: [database] });
      // In the other order the later read wins too.
      const first = await cache.beginSnapshot(bucket);
      const second = await cache.beginSnapshot(bucket);
      expect((await cache.commitSnapshot(first, [account("a", { stateVersion: 2 })])).activated).toBe(true);
      expect((await cache.commitSnapshot(second, read())).activated).toBe(true);
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: second.version, accounts: [database] });
    });

    it("committing a ticket twice changes nothing the second time: the active list stays readable", async () => {
      const cache = await createCache();
      const ticket = await cache.beginSnapshot(bucket);
      expect(await cache.commitSnapshot(ticket, [account("a")])).toEqual({ version: 1, activated: true });
      expect(await cache.commitSnapshot(ticket, [account("b")])).toEqual({ version: 1, activated: false });
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 1, accounts: [account("a")] });
      const rejection = await cache.commitSnapshot({ ...ticket, version: 0 }, []).then(() => null, (error: unknown) => error);
      expect(SchedulerCacheError.isInstance(rejection) && rejection.code).toBe("invalid_argument");
    });

    it("getAccount returns the record a snapshot brought, then the one setAccount wrote; null when unknown", async () => {
      const cache = await createCache();
      expect(await cache.getAccount("a")).toBeNull();
      await cache.setSnapshot(bucket, [account("a", { priority: 2 })]);
      expect(await cache.getAccount("a")).toEqual(account("a", { priority: 2 }));
      await cache.setAccount(account("a", { priority: 3 }));
      await cache.setSnapshot(bucket, [account("a", { priority: 2 })]);
      expect(await cache.getAccount("a")).toEqual(account("a", { priority: 3 }));
      await cache.setAccount(account("loner"));
      expect(await cache.getAccount("loner")).toEqual(account("loner"));
      expect(await cache.getSnapshot(bucket)).toMatchObject({ hit: true, accounts: [account("a", { priority: 2 })] });
    });

    it("deleteAccount makes buckets that list the account miss until rebuilt without it", async () => {
      const cache = await createCache();
      await cache.setSnapshot(bucket, [account("a"), account("gone")]);
      const stampBefore = await cache.getSnapshotStamp(bucket);
      await cache.deleteAccount("gone");
      expect(await cache.getAccount("gone")).toBeNull();
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: false, version: 1, accounts: [] });
      expect((await cache.getSnapshotStamp(bucket))!.changes).toBeGreaterThan(stampBefore!.changes);
      await cache.setSnapshot(bucket, [account("a")]);
      expect(await cache.getSnapshot(bucket)).toEqual({ hit: true, version: 2, accounts: [account("a")] });
      await cache.deleteAccount("never-existed");
    });

    it("updateLastUsed only moves lastUsedAt forward and does not move the stamp", async () => {
      const cache = await createCache();
      await cache.setSnapshot(bucket, [account("a"), account("b", { lastUsedAt: 500 })]);
      const stampBefore = await cache.getSnapshotStamp(bucket);
      await cache.updateLastUsed(new Map([["a", 1_000], ["b", 400], ["unknown", 7]]));
      await cache.updateLastUsed(new Map([["a", 900]]));
      const snapshot = await cache.getSnapshot(bucket);
      expect(snapshot.accounts.map((item) => [item.id, item.lastUsedAt])).toEqual([["a", 1_000], ["b", 500]]);
      expect((await cache.getAccount("a"))?.lastUsedAt).toBe(1_000);
      expect((await cache.getAccount("b"))?.lastUsedAt).toBe(500);
      expect(await cache.getAccount("unknown")).toBeNull();
      expect(await cache.getSnapshotStamp(bucket)).toEqual(stampBefore);
      await cache.updateLastUsed(new Map([["b", 2_000]]));
      expect((await cache.getSnapshot(bucket)).accounts[1]?.lastUsedAt).toBe(2_000);
    });

    it("a bucket lock has one owner; a wrong token does not free it; the owner's unlock frees it at once", async () => {
      const cache = await createCache();
      const token = await cache.tryLockBucket(bucket, 60_000);
      expect(typeof token).toBe("string");
      expect(await cache.tryLockBucket(bucket, 60_000)).toBeNull();
      expect(await cache.tryLockBucket(otherBucket, 60_000)).not.toBeNull();
      expect(await cache.unlockBucket(bucket, "not-the-owner")).toBe(false);
      expect(await cache.tryLockBucket(bucket, 60_000)).toBeNull();
      expect(await cache.unlockBucket(bucket, token!)).toBe(true);
      expect(await cache.unlockBucket(bucket, token!)).toBe(false);
      const next = await cache.tryLockBucket(bucket, 60_000);
      expect(next).not.toBeNull();
      expect(next).not.toBe(token);
    });

    it("lists every bucket that had a snapshot written", async () => {
      const cache = await createCache();
      expect(await cache.listBuckets()).toEqual([]);
      await cache.setSnapshot(bucket, [account("a")]);
      await cache.setSnapshot(otherBucket, []);
      const listed = await cache.listBuckets();
      expect(listed).toHaveLength(2);
      expect(listed).toEqual(expect.arrayContaining([bucket, otherBucket]));
    });

    it("the outbox watermark starts at 0 and never moves backwards", async () => {
      const cache = await createCache();
      expect(await cache.getOutboxWatermark()).toBe(0);
      await cache.setOutboxWatermark(5);
      await cache.setOutboxWatermark(3);
      expect(await cache.getOutboxWatermark()).toBe(5);
      await cache.setOutboxWatermark(9_007_199_254_740_991);
      expect(await cache.getOutboxWatermark()).toBe(9_007_199_254_740_991);
    });

    it("rejects malformed buckets, accounts and arguments with a SchedulerCacheError", async () => {
      const cache = await createCache();
      const rejection = async (promise: Promise<unknown>) => {
        const error: unknown = await promise.then(() => undefined, (caught: unknown) => caught);
        expect(SchedulerCacheError.isInstance(error)).toBe(true);
        return (error as SchedulerCacheError).code;
      };
      expect(await rejection(cache.getSnapshot({ groupId: -1, platform: "claude", mode: "single" }))).toBe("invalid_bucket");
      expect(await rejection(cache.getSnapshot({ groupId: 1, platform: "a{b}", mode: "single" }))).toBe("invalid_bucket");
      // Valid buckets' keys are remembered; a wrongly typed bucket with the same key is still refused.
      await cache.getSnapshot({ groupId: 1, platform: "claude", mode: "single" });
      expect(await rejection(cache.getSnapshot({ groupId: "1" as unknown as number, platform: "claude", mode: "single" }))).toBe("invalid_bucket");
      expect(await rejection(cache.setSnapshot(bucket, [account("x"), account("x")]))).toBe("invalid_account");
      expect(await rejection(cache.setAccount(account("")))).toBe("invalid_account");
      expect(await rejection(cache.setAccount(account("a", { stateVersion: -1 })))).toBe("invalid_account");
      expect(await rejection(cache.setAccount(account("a", { stateVersion: 1.5 })))).toBe("invalid_account");
      expect(await rejection(cache.tryLockBucket(bucket, 0))).toBe("invalid_argument");
      expect(await rejection(cache.setOutboxWatermark(-1))).toBe("invalid_argument");
      expect(await rejection(cache.updateLastUsed(new Map([["a", Number.NaN]])))).toBe("invalid_argument");
    });
  });
}
