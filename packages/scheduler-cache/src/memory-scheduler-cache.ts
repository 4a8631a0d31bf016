// The port is asynchronous; these methods are async so that validation errors reject instead of throwing.
/* eslint-disable @typescript-eslint/require-await */
import { randomUUID } from "node:crypto";
import { parseAccountRecord } from "./account-record";
import { parseBucket } from "./bucket";
import type {
  AccountSnapshot,
  RevalidatingSchedulerCache,
  SchedulerBucket,
  SchedulerSnapshot,
  SnapshotStamp,
  SnapshotTicket,
} from "./types";
import {
  accountIdsOf,
  assertAccount,
  assertAccountId,
  assertNonNegativeInteger,
  assertPositiveInteger,
  assertTicket,
  bucketKeyOf,
} from "./validation";

export interface MemorySchedulerCacheOptions {
  /** Clock in epoch ms, for lock expiry and the grace of removed members. Default `Date.now`. */
  now?: () => number;
  /** How long records of accounts a new version dropped stay readable, in ms. Default 60_000. */
  graceMs?: number;
  /** Lock owner tokens. Default `crypto.randomUUID`. */
  createToken?: () => string;
  /**
   * Test hook: awaited by `setSnapshot` after the version is allocated and written, before it is activated.
   * Lets a test reorder concurrent activations deterministically.
   */
  beforeActivate?: (bucket: SchedulerBucket, version: number) => Promise<void>;
}

interface BucketState {
  nextVersion: number;
  active: number;
  /** Member ids of the active version, in order. */
  members: string[];
  changes: number;
  /** Sequence of setAccount/deleteAccount calls touching the bucket; guards rebuilds against lost updates. */
  sequence: number;
  records: Map<string, string>;
  changedAt: Map<string, number>;
  lastUsed: Map<string, number>;
  /** Records a newer version dropped, with the time they may be collected. */
  orphans: Map<string, number>;
}

interface AccountState {
  record: string | undefined;
  lastUsed: number | undefined;
  buckets: Set<string>;
}

/** True when both records carry a stateVersion and `record`'s is lower than `than`'s. */
function isOlder(record: string, than: string): boolean {
  const version = (JSON.parse(record) as AccountSnapshot).stateVersion;
  const other = (JSON.parse(than) as AccountSnapshot).stateVersion;
  return typeof version === "number" && typeof other === "number" && version < other;
}

const yieldToOthers = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * An in-process SchedulerCache with the same semantics as RedisSchedulerCache, for tests and single-process
 * deployments. Records are stored serialised, so callers never share objects with the cache.
 */
export class MemorySchedulerCache implements RevalidatingSchedulerCache {
  readonly #now: () => number;
  readonly #graceMs: number;
  readonly #createToken: () => string;
  readonly #beforeActivate: MemorySchedulerCacheOptions["beforeActivate"];
  readonly #buckets = new Map<string, BucketState>();
  readonly #accounts = new Map<string, AccountState>();
  readonly #locks = new Map<string, { token: string; expiresAt: number }>();
  #watermark = 0;

  constructor(options: MemorySchedulerCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#graceMs = options.graceMs ?? 60_000;
    assertNonNegativeInteger(this.#graceMs, "graceMs");
    this.#createToken = options.createToken ?? randomUUID;
    this.#beforeActivate = options.beforeActivate;
  }

  async getSnapshot(bucket: SchedulerBucket): Promise<SchedulerSnapshot> {
    const state = this.#buckets.get(bucketKeyOf(bucket));
    if (!state || state.active === 0) return { hit: false, version: 0, accounts: [] };
    const accounts: AccountSnapshot[] = [];
    for (const id of state.members) {
      const record = state.records.get(id);
      if (record === undefined) return { hit: false, version: state.active, accounts: [] };
      accounts.push(parseAccountRecord(record, state.lastUsed.get(id)));
    }
    return { hit: true, version: state.active, accounts };
  }

  async getSnapshotStamp(bucket: SchedulerBucket): Promise<SnapshotStamp | null> {
    const state = this.#buckets.get(bucketKeyOf(bucket));
    if (!state || state.active === 0) return null;
    return { version: state.active, changes: state.changes };
  }

  async setSnapshot(bucket: SchedulerBucket, accounts: AccountSnapshot[]): Promise<{ version: number; activated: boolean }> {
    accountIdsOf(accounts);
    return this.commitSnapshot(await this.beginSnapshot(bucket), accounts);
  }

  async beginSnapshot(bucket: SchedulerBucket): Promise<SnapshotTicket> {
    const state = this.#bucket(bucketKeyOf(bucket));
    return { bucket, version: ++state.nextVersion, active: state.active, sequence: state.sequence };
  }

  async commitSnapshot(ticket: SnapshotTicket, accounts: AccountSnapshot[]): Promise<{ version: number; activated: boolean }> {
    const { bucket, version, sequence: sequenceAtStart } = ticket;
    const key = bucketKeyOf(bucket);
    assertTicket(ticket);
    const ids = accountIdsOf(accounts);
    const staged = new Map(accounts.map((account) => [account.id, JSON.stringify(account)]));
    const state = this.#bucket(key);
    if (version <= state.active) return { version, activated: false };
    for (const [id, record] of staged) {
      const account = this.#account(id);
      account.buckets.add(key);
      account.record ??= record;
    }
    // Writers interleave here in Redis; do the same so the compare-and-set is exercised.
    await (this.#beforeActivate ? this.#beforeActivate(bucket, version) : yieldToOthers());
    if (version < state.active) return { version, activated: false };
    if (version === state.active) return { version, activated: true };
    const now = this.#now();
    for (const id of ids) {
      state.orphans.delete(id);
      const record = staged.get(id)!;
      if ((state.changedAt.get(id) ?? 0) > sequenceAtStart) {
        // A setAccount touched the id after allocation: keep its record unless ours has a higher stateVersion.
        const held = state.records.get(id);
        if (held === undefined || !isOlder(held, record)) continue;
      }
      state.records.set(id, record);
    }
    const kept = new Set(ids);
    for (const id of state.members) if (!kept.has(id)) state.orphans.set(id, now + this.#graceMs);
    for (const [id, deadline] of state.orphans) {
      if (deadline > now) continue;
      state.orphans.delete(id);
      state.records.delete(id);
      state.changedAt.delete(id);
      state.lastUsed.delete(id);
    }
    state.active = version;
    state.members = ids;
    return { version, activated: true };
  }

  async getAccount(id: string): Promise<AccountSnapshot | null> {
    assertAccountId(id);
    const account = this.#accounts.get(id);
    if (account?.record === undefined) return null;
    return parseAccountRecord(account.record, account.lastUsed);
  }

  async setAccount(snapshot: AccountSnapshot): Promise<void> {
    assertAccount(snapshot);
    const record = JSON.stringify(snapshot);
    const account = this.#account(snapshot.id);
    if (account.record !== undefined && isOlder(record, account.record)) return;
    account.record = record;
    for (const key of account.buckets) {
      const state = this.#bucket(key);
      const held = state.records.get(snapshot.id);
      if (held !== undefined && isOlder(record, held)) continue;
      state.changedAt.set(snapshot.id, ++state.sequence);
      // Written even when absent: a staged version may list the account and will keep this newer record.
      if (!state.records.has(snapshot.id) && !state.orphans.has(snapshot.id)) {
        state.orphans.set(snapshot.id, this.#now() + this.#graceMs);
      }
      state.records.set(snapshot.id, record);
      state.changes += 1;
    }
  }

  async deleteAccount(id: string): Promise<void> {
    assertAccountId(id);
    const account = this.#accounts.get(id);
    if (!account) return;
    for (const key of account.buckets) {
      const state = this.#bucket(key);
      state.changedAt.set(id, ++state.sequence);
      if (!state.records.delete(id)) continue;
      state.changes += 1;
    }
    this.#accounts.delete(id);
  }

  async updateLastUsed(updates: Map<string, number>): Promise<void> {
    for (const [id, at] of updates) {
      assertAccountId(id);
      assertNonNegativeInteger(at, "lastUsedAt");
    }
    for (const [id, at] of updates) {
      const account = this.#accounts.get(id);
      if (!account) continue;
      if (account.record !== undefined) account.lastUsed = Math.max(account.lastUsed ?? 0, at);
      for (const key of account.buckets) {
        const state = this.#bucket(key);
        if (!state.records.has(id)) continue;
        state.lastUsed.set(id, Math.max(state.lastUsed.get(id) ?? 0, at));
      }
    }
  }

  async tryLockBucket(bucket: SchedulerBucket, ttlMs: number): Promise<string | null> {
    const key = bucketKeyOf(bucket);
    assertPositiveInteger(ttlMs, "ttlMs");
    const now = this.#now();
    const held = this.#locks.get(key);
    const token = this.#createToken();
    if (held && held.expiresAt > now) return held.token === token ? token : null;
    this.#locks.set(key, { token, expiresAt: now + ttlMs });
    return token;
  }

  async unlockBucket(bucket: SchedulerBucket, token: string): Promise<boolean> {
    const key = bucketKeyOf(bucket);
    const held = this.#locks.get(key);
    if (!held || held.expiresAt <= this.#now() || held.token !== token) return false;
    this.#locks.delete(key);
    return true;
  }

  async listBuckets(): Promise<SchedulerBucket[]> {
    const buckets: SchedulerBucket[] = [];
    for (const key of this.#buckets.keys()) {
      const bucket = parseBucket(key);
      if (bucket) buckets.push(bucket);
    }
    return buckets;
  }

  async getOutboxWatermark(): Promise<number> {
    return this.#watermark;
  }

  async setOutboxWatermark(id: number): Promise<void> {
    assertNonNegativeInteger(id, "outbox watermark");
    this.#watermark = Math.max(this.#watermark, id);
  }

  #bucket(key: string): BucketState {
    let state = this.#buckets.get(key);
    if (!state) {
      state = {
        nextVersion: 0,
        active: 0,
        members: [],
        changes: 0,
        sequence: 0,
        records: new Map(),
        changedAt: new Map(),
        lastUsed: new Map(),
        orphans: new Map(),
      };
      this.#buckets.set(key, state);
    }
    return state;
  }

  #account(id: string): AccountState {
    let account = this.#accounts.get(id);
    if (!account) {
      account = { record: undefined, lastUsed: undefined, buckets: new Set() };
      this.#accounts.set(id, account);
    }
    return account;
  }
}
