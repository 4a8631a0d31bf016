/**
 * The coalescer people write first: a Map of in-flight promises. No cancellation, no `shared`, a
 * forgotten key can be evicted by a late finisher, and a sync throw escapes `do` — the baseline only.
 */
export class NaiveCoalescer<T> {
  readonly #promises = new Map<string, Promise<T>>();

  do(key: string, fn: () => T | PromiseLike<T>): Promise<T> {
    const existing = this.#promises.get(key);
    if (existing !== undefined) return existing;
    const promise = Promise.resolve(fn()).finally(() => this.#promises.delete(key));
    this.#promises.set(key, promise);
    return promise;
  }
}
