/**
 * Every Redis key of the scheduler cache. Keys one script touches share a `{hash tag}`: the bucket string for
 * bucket keys (`<prefix>sched:{7:claude:single}:meta`), the account id for account keys.
 */
export interface BucketKeys {
  /** Hash: `active` version, `next` allocated version, `changes` stamp counter, `sequence` guard counter. */
  meta: string;
  /** List: a header element, then the member ids of one version in order. */
  version(version: number): string;
  /** Hash: id → record JSON written by one not-yet-activated version. */
  staged(version: number): string;
  /** Hash: id → latest record JSON of every account a live version lists. */
  accounts: string;
  /** Hash: id → `sequence` of the last setAccount/deleteAccount that touched it. */
  changed: string;
  /** Hash: id → epoch ms of last use, kept apart so per-request updates never rewrite records. */
  lastUsed: string;
  /** Sorted set: ids a newer version dropped, scored by the epoch ms their record may be collected. */
  orphans: string;
  /** String: the rebuild lock's owner token. */
  lock: string;
}

export interface AccountKeys {
  /** Hash: `record` JSON, `lastUsed` epoch ms. */
  account: string;
  /** Set: bucket strings of every snapshot that listed the account (may hold stale entries; never misses one). */
  buckets: string;
}

export class SchedulerKeys {
  /** Set of bucket strings that ever had a snapshot written. */
  readonly buckets: string;
  /** String: the outbox watermark. */
  readonly outboxWatermark: string;
  readonly #prefix: string;

  /** `prefix` goes in front of every key, e.g. `"subrelay:"`. */
  constructor(prefix: string) {
    this.#prefix = `${prefix}sched:`;
    this.buckets = `${this.#prefix}buckets`;
    this.outboxWatermark = `${this.#prefix}outbox-watermark`;
  }

  /** `bucket` must be a string parseBucket accepts (it holds no braces). */
  bucket(bucket: string): BucketKeys {
    const base = `${this.#prefix}{${bucket}}:`;
    return {
      meta: `${base}meta`,
      version: (version) => `${base}v:${version}`,
      staged: (version) => `${base}v:${version}:staged`,
      accounts: `${base}accounts`,
      changed: `${base}changed`,
      lastUsed: `${base}last-used`,
      orphans: `${base}orphans`,
      lock: `${base}lock`,
    };
  }

  account(id: string): AccountKeys {
    const base = `${this.#prefix}account:{${escapeHashTag(id)}}`;
    return { account: base, buckets: `${base}:buckets` };
  }
}

/** Braces in an id would move the hash tag; escaping them (injectively) keeps both account keys in one slot. */
function escapeHashTag(id: string): string {
  return /[{}%]/.test(id) ? id.replace(/[{}%]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`) : id;
}
