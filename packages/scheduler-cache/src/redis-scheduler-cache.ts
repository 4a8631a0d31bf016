import { randomUUID } from "node:crypto";
import { parseAccountRecord } from "./account-record";
import { parseBucket } from "./bucket";
import { SchedulerCacheError } from "./scheduler-cache-error";
import { SchedulerKeys } from "./scheduler-keys";
import {
  callSchedulerScript,
  registerSchedulerScripts,
  type SchedulerRedis,
  type SchedulerScriptName,
} from "./scheduler-scripts";
import {
  parseActivateSnapshotReply,
  parseAllocateVersionReply,
  parseBucketListReply,
  parseFlagReply,
  parseReadSnapshotReply,
} from "./script-replies";
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
  stateVersionArgument,
} from "./validation";

export interface RedisSchedulerCacheOptions {
  /** Put in front of every key. Default `"subrelay:"`. */
  prefix?: string;
  /**
   * How long a superseded version (and records of accounts the new version dropped) stays readable after a
   * newer one activates, in ms, so that readers mid-read complete. Default 60_000.
   */
  graceMs?: number;
  /**
   * How long a written but not yet activated version lives, in ms: a writer that dies between writing and
   * activating leaves nothing behind past this. A writer slower than this fails with `staging_expired`.
   * Default 300_000.
   */
  pendingTtlMs?: number;
  /** Lock owner tokens. Default `crypto.randomUUID`. */
  createToken?: () => string;
  /**
   * Test hook: awaited by `setSnapshot` after the version is allocated and written, before it is activated.
   * Lets a test reorder concurrent activations deterministically.
   */
  beforeActivate?: (bucket: SchedulerBucket, version: number) => Promise<void>;
}

const miss = (version: number): SchedulerSnapshot => ({ hit: false, version, accounts: [] });

/**
 * SchedulerCache on Redis (a single server or a Cluster: every script touches keys of one hash tag).
 * Costs: getSnapshot and getSnapshotStamp 2 and 1 round trips whatever the bucket size; setSnapshot 3
 * (allocate, write, activate) plus one per lost activation race (beginSnapshot 1, commitSnapshot 2); setAccount, deleteAccount and
 * updateLastUsed 2 (account, then every bucket listing it, sent together).
 */
export class RedisSchedulerCache implements RevalidatingSchedulerCache {
  readonly #redis: SchedulerRedis;
  readonly #keys: SchedulerKeys;
  readonly #graceMs: number;
  readonly #pendingTtlMs: number;
  readonly #createToken: () => string;
  readonly #beforeActivate: RedisSchedulerCacheOptions["beforeActivate"];

  constructor(redis: SchedulerRedis, options: RedisSchedulerCacheOptions = {}) {
    this.#redis = redis;
    this.#keys = new SchedulerKeys(options.prefix ?? "subrelay:");
    this.#graceMs = options.graceMs ?? 60_000;
    this.#pendingTtlMs = options.pendingTtlMs ?? 300_000;
    assertNonNegativeInteger(this.#graceMs, "graceMs");
    assertPositiveInteger(this.#pendingTtlMs, "pendingTtlMs");
    this.#createToken = options.createToken ?? randomUUID;
    this.#beforeActivate = options.beforeActivate;
    registerSchedulerScripts(redis);
  }

  async getSnapshot(bucket: SchedulerBucket): Promise<SchedulerSnapshot> {
    const keys = this.#keys.bucket(bucketKeyOf(bucket));
    const [activeText] = await this.#redis.hmget(keys.meta, "active");
    const version = Number(activeText ?? 0);
    if (version === 0) return miss(0);
    // The version's list outlives its supersession by graceMs, so this read is consistent even if a newer
    // version activated since the line above.
    const reply = parseReadSnapshotReply(
      await this.#script("readSnapshot", [keys.version(version), keys.accounts, keys.lastUsed], []),
    );
    if (reply.outcome !== "found") return miss(version);
    const accounts = reply.records.map((record, index) => {
      const lastUsed = reply.lastUsed[index];
      return parseAccountRecord(record, lastUsed === null || lastUsed === undefined ? null : Number(lastUsed));
    });
    return { hit: true, version, accounts };
  }

  async getSnapshotStamp(bucket: SchedulerBucket): Promise<SnapshotStamp | null> {
    const keys = this.#keys.bucket(bucketKeyOf(bucket));
    const [activeText, changesText] = await this.#redis.hmget(keys.meta, "active", "changes");
    const version = Number(activeText ?? 0);
    if (version === 0) return null;
    return { version, changes: Number(changesText ?? 0) };
  }

  async setSnapshot(bucket: SchedulerBucket, accounts: AccountSnapshot[]): Promise<{ version: number; activated: boolean }> {
    accountIdsOf(accounts);
    return this.commitSnapshot(await this.beginSnapshot(bucket), accounts);
  }

  async beginSnapshot(bucket: SchedulerBucket): Promise<SnapshotTicket> {
    const keys = this.#keys.bucket(bucketKeyOf(bucket));
    const allocation = parseAllocateVersionReply(await this.#script("allocateVersion", [keys.meta], []));
    return { bucket, ...allocation };
  }

  async commitSnapshot(ticket: SnapshotTicket, accounts: AccountSnapshot[]): Promise<{ version: number; activated: boolean }> {
    const { bucket, version, sequence } = ticket;
    const bucketString = bucketKeyOf(bucket);
    assertTicket(ticket);
    const ids = accountIdsOf(accounts);
    const records = accounts.map((account) => JSON.stringify(account));
    const keys = this.#keys.bucket(bucketString);
    // The account index is written before activation, so a setAccount racing the activation already finds
    // this bucket; an index entry left by a version that loses is harmless (it changes nothing visible).
    const [staged] = await Promise.all([
      this.#script("stageSnapshot", [keys.version(version), keys.staged(version), keys.meta], [
        this.#pendingTtlMs,
        ids.length,
        ...ids,
        ...records,
        version,
      ]),
      this.#redis.sadd(this.#keys.buckets, bucketString),
      ...ids.map((id, index) => {
        const accountKeys = this.#keys.account(id);
        return this.#script("indexAccount", [accountKeys.account, accountKeys.buckets], [bucketString, records[index]!]);
      }),
    ]);
    if (!parseFlagReply("stage-snapshot", staged)) return { version, activated: false };
    await this.#beforeActivate?.(bucket, version);
    let expected = ticket.active;
    for (;;) {
      const reply = parseActivateSnapshotReply(
        await this.#script(
          "activateSnapshot",
          [
            keys.meta,
            keys.version(version),
            keys.staged(version),
            keys.accounts,
            keys.changed,
            keys.orphans,
            keys.lastUsed,
            keys.version(expected),
          ],
          [version, expected, sequence, this.#graceMs],
        ),
      );
      switch (reply.outcome) {
        case "activated":
          return { version, activated: true };
        case "superseded":
          return { version, activated: false };
        case "previous_changed":
          // Another writer activated in between; each retry sees a strictly newer version, so this ends.
          expected = reply.active;
          break;
        case "staging_expired":
          throw new SchedulerCacheError(`snapshot version ${version} expired before it was activated`, {
            code: "staging_expired",
          });
      }
    }
  }

  async getAccount(id: string): Promise<AccountSnapshot | null> {
    assertAccountId(id);
    const [record, lastUsed] = await this.#redis.hmget(this.#keys.account(id).account, "record", "lastUsed");
    if (record === null || record === undefined) return null;
    return parseAccountRecord(record, lastUsed === null || lastUsed === undefined ? null : Number(lastUsed));
  }

  async setAccount(account: AccountSnapshot): Promise<void> {
    assertAccount(account);
    const record = JSON.stringify(account);
    const accountKeys = this.#keys.account(account.id);
    const buckets = parseBucketListReply(
      "set-account",
      await this.#script("setAccount", [accountKeys.account, accountKeys.buckets], [record, stateVersionArgument(account)]),
    );
    await Promise.all(
      this.#bucketKeysOf(buckets).map((keys) =>
        this.#script("setBucketAccount", [keys.meta, keys.accounts, keys.changed, keys.orphans], [
          account.id,
          record,
          this.#graceMs,
          stateVersionArgument(account),
        ]),
      ),
    );
  }

  async deleteAccount(id: string): Promise<void> {
    assertAccountId(id);
    const accountKeys = this.#keys.account(id);
    const buckets = await this.#redis.smembers(accountKeys.buckets);
    await Promise.all(
      this.#bucketKeysOf(buckets).map(async (keys) =>
        parseFlagReply("delete-bucket-account", await this.#script("deleteBucketAccount", [keys.meta, keys.accounts, keys.changed], [id])),
      ),
    );
    // Last, so that a failure above leaves the index for a retry to find.
    await this.#redis.del(accountKeys.account, accountKeys.buckets);
  }

  async updateLastUsed(updates: Map<string, number>): Promise<void> {
    for (const [id, at] of updates) {
      assertAccountId(id);
      assertNonNegativeInteger(at, "lastUsedAt");
    }
    const entries = [...updates];
    const bucketsPerAccount = await Promise.all(
      entries.map(async ([id, at]) => {
        const accountKeys = this.#keys.account(id);
        return parseBucketListReply(
          "update-account-last-used",
          await this.#script("updateAccountLastUsed", [accountKeys.account, accountKeys.buckets], [at]),
        );
      }),
    );
    const perBucket = new Map<string, Array<string | number>>();
    entries.forEach(([id, at], index) => {
      for (const bucket of bucketsPerAccount[index]!) {
        let pairs = perBucket.get(bucket);
        if (!pairs) perBucket.set(bucket, (pairs = []));
        pairs.push(id, at);
      }
    });
    await Promise.all(
      [...perBucket].flatMap(([bucket, pairs]) => {
        if (parseBucket(bucket) === null) return [];
        const keys = this.#keys.bucket(bucket);
        return [this.#script("updateLastUsed", [keys.accounts, keys.lastUsed], pairs)];
      }),
    );
  }

  async tryLockBucket(bucket: SchedulerBucket, ttlMs: number): Promise<string | null> {
    const keys = this.#keys.bucket(bucketKeyOf(bucket));
    assertPositiveInteger(ttlMs, "ttlMs");
    const token = this.#createToken();
    const acquired = parseFlagReply("try-lock-bucket", await this.#script("tryLockBucket", [keys.lock], [token, ttlMs]));
    return acquired ? token : null;
  }

  async unlockBucket(bucket: SchedulerBucket, token: string): Promise<boolean> {
    const keys = this.#keys.bucket(bucketKeyOf(bucket));
    return parseFlagReply("unlock-bucket", await this.#script("unlockBucket", [keys.lock], [token]));
  }

  async listBuckets(): Promise<SchedulerBucket[]> {
    const members = await this.#redis.smembers(this.#keys.buckets);
    return members.map(parseBucket).filter((bucket): bucket is SchedulerBucket => bucket !== null);
  }

  async getOutboxWatermark(): Promise<number> {
    const value = await this.#redis.get(this.#keys.outboxWatermark);
    return value === null ? 0 : Number(value);
  }

  async setOutboxWatermark(id: number): Promise<void> {
    assertNonNegativeInteger(id, "outbox watermark");
    await this.#script("setWatermark", [this.#keys.outboxWatermark], [id]);
  }

  /** Bucket keys for index entries; malformed entries (never written by this package) are skipped. */
  #bucketKeysOf(buckets: readonly string[]) {
    return buckets.filter((bucket) => parseBucket(bucket) !== null).map((bucket) => this.#keys.bucket(bucket));
  }

  #script(name: SchedulerScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return callSchedulerScript(this.#redis, name, keys, args);
  }
}
