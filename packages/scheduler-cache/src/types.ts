/** How a group schedules: `single` holds accounts of the group's platform only; `mixed` pools accounts of several platforms. */
export type SchedulerMode = "single" | "mixed";

/** A scheduling bucket: the candidate accounts of one group for one platform and mode. */
export interface SchedulerBucket {
  /** Non-negative integer group id. */
  groupId: number;
  /** Non-empty platform name (`"claude"`, `"openai"`, `"gemini"`). */
  platform: string;
  mode: SchedulerMode;
}

/** One exhausted upstream window of an account: what it limits (a scope), its name, its end (epoch ms). */
export interface ScopedRateLimit {
  scope: string;
  window?: string;
  until: number;
  reason?: string;
}

/** What scheduling needs to know about an account. Never carries secrets. */
export interface AccountSnapshot {
  id: string;
  platform: string;
  /** Lower is preferred. */
  priority: number;
  /** Requests this account may serve at once. */
  concurrency: number;
  status: "active" | "error" | "disabled";
  schedulable: boolean;
  /** Epoch ms until which the account is rate limited. */
  rateLimitedUntil?: number;
  /** Epoch ms until which the account is cooling down. */
  tempUnschedulableUntil?: number;
  /** Epoch ms until which the upstream said it was overloaded. */
  overloadedUntil?: number;
  /** Models the account serves; absent or empty: any model. */
  models?: string[];
  /**
   * Client model name -> the upstream model name this account is sent instead (a key ending in `*` matches
   * every name it is a prefix of; an exact key wins, then the longest prefix). Absent: names pass unchanged.
   */
  modelMap?: Readonly<Record<string, string>>;
  /**
   * The upstream windows that are exhausted per scope (`"family:opus"`, `"model:<id>"`, ...): selection skips the
   * account only for requests a scope in force covers, until `until` (epoch ms). Absent or empty: none.
   */
  rateLimits?: ScopedRateLimit[];
  /** Epoch ms of the last request served (moves forward only). */
  lastUsedAt?: number;
  /**
   * Version of this state, a non-negative safe integer that moves up with every change of the account's
   * state (the database bumps it in the transaction that writes the change's outbox row). `setAccount`
   * refuses a record older than the one held, and an activation keeps the newer of its record and one a
   * concurrent `setAccount` wrote. Absent: unversioned, written whatever is held (last write wins).
   */
  stateVersion?: number;
  [extra: string]: unknown;
}

/** The shared scheduler cache. Implemented by RedisSchedulerCache and MemorySchedulerCache. */
export interface SchedulerCache {
  /**
   * The active snapshot of a bucket. `hit` is true only when the bucket is ready, a version is active and
   * every member's account record is present; otherwise the caller rebuilds from the database.
   */
  getSnapshot(bucket: SchedulerBucket): Promise<{ hit: boolean; version: number; accounts: AccountSnapshot[] }>;
  /**
   * Writes a new version of the bucket's snapshot and activates it if it is newer than the active one.
   * A loser reports `activated: false` and cleans up its own keys. The active version never decreases.
   * The version is allocated here, after the caller read `accounts`: a caller that reads the database should
   * use `beginSnapshot` before its read and `commitSnapshot` after, so that activations follow read order.
   * Same as `commitSnapshot(await beginSnapshot(bucket), accounts)`.
   */
  setSnapshot(bucket: SchedulerBucket, accounts: AccountSnapshot[]): Promise<{ version: number; activated: boolean }>;
  /**
   * Allocates the bucket's next snapshot version (and its update sequence), to be called *before* the
   * database read whose result `commitSnapshot` writes. Versions are handed out in call order, so a read
   * that started after another's allocation always activates over it, and a read that started before a
   * change can never activate over a snapshot allocated after that change was committed. A ticket never
   * committed only leaves a gap in the version numbers.
   */
  beginSnapshot(bucket: SchedulerBucket): Promise<SnapshotTicket>;
  /**
   * Writes the ticket's version with `accounts` and activates it if no newer version is active; otherwise
   * reports `activated: false` and cleans up its own keys. Records a `setAccount`/`deleteAccount` touched
   * after the ticket was allocated are kept unless the committed record has a higher `stateVersion`.
   * Commit each ticket once (a re-sent activation is safe; a second commit of one ticket is refused as
   * superseded or `staging_expired`).
   */
  commitSnapshot(ticket: SnapshotTicket, accounts: AccountSnapshot[]): Promise<{ version: number; activated: boolean }>;
  getAccount(id: string): Promise<AccountSnapshot | null>;
  /**
   * Updates one account's state for every bucket that lists it, without a rebuild. A record whose
   * `stateVersion` is lower than the held record's is refused (nothing changes).
   */
  setAccount(account: AccountSnapshot): Promise<void>;
  deleteAccount(id: string): Promise<void>;
  /** Sets `lastUsedAt` per account id; only ever moves a value forward. */
  updateLastUsed(updates: Map<string, number>): Promise<void>;
  /** Takes the bucket's rebuild lock; resolves to an owner token, or null if another holds it. */
  tryLockBucket(bucket: SchedulerBucket, ttlMs: number): Promise<string | null>;
  /** Releases the lock if `token` owns it; false if not the owner (the lock is left alone). */
  unlockBucket(bucket: SchedulerBucket, token: string): Promise<boolean>;
  listBuckets(): Promise<SchedulerBucket[]>;
  getOutboxWatermark(): Promise<number>;
  /** Never moves backwards. */
  setOutboxWatermark(id: number): Promise<void>;
}

/** A snapshot version allocated by `beginSnapshot`; pass it unchanged to `commitSnapshot`. */
export interface SnapshotTicket {
  readonly bucket: SchedulerBucket;
  /** The version `commitSnapshot` activates. */
  readonly version: number;
  /** The version that was active when this one was allocated (0: none). */
  readonly active: number;
  /** The bucket's update sequence when this version was allocated. */
  readonly sequence: number;
}

/** What `getSnapshot` resolves to. `accounts` is in the order the snapshot was written. */
export interface SchedulerSnapshot {
  hit: boolean;
  /** The active version (0 when the bucket has none); meaningful even on a miss. */
  version: number;
  accounts: AccountSnapshot[];
}

/**
 * The cheap identity of a bucket's active snapshot. Two reads with equal stamps return equal data, except
 * for `lastUsedAt`, which `updateLastUsed` changes without moving the stamp (it moves on every request).
 */
export interface SnapshotStamp {
  /** The active version. */
  version: number;
  /** Bumped whenever `setAccount` or `deleteAccount` changes a record the bucket holds. */
  changes: number;
}

/** A SchedulerCache that can tell, in one cheap call, whether a bucket's snapshot changed. */
export interface RevalidatingSchedulerCache extends SchedulerCache {
  /** The active snapshot's stamp, or null when the bucket has no active version. One round trip. */
  getSnapshotStamp(bucket: SchedulerBucket): Promise<SnapshotStamp | null>;
}
