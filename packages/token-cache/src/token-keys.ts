/**
 * The one place Redis key names are built. Every key of one cache key shares the hash tag
 * `{<cacheKey>}`, so scripts touching several of them run on Redis Cluster and a cache key's token and
 * lock live on the same node.
 */
export class TokenKeys {
  /** Pub/sub channel carrying "refresh finished" announcements; the message is the cache key. */
  readonly refreshedChannel: string;

  /** @param prefix prepended to every key and channel; default `"subrelay:token:"`. */
  constructor(readonly prefix = "subrelay:token:") {
    this.refreshedChannel = `${prefix}refreshed`;
  }

  /** Hash holding the cached token (`v` version, `d` payload) or an invalidation marker (`v`, `i`). */
  token(cacheKey: string): string {
    return `${this.prefix}{${cacheKey}}:token`;
  }

  /** String holding the refresh lock's owner token. */
  lock(cacheKey: string): string {
    return `${this.prefix}{${cacheKey}}:lock`;
  }
}
