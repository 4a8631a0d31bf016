/** Something waiting on a caller's signal; told once when that signal aborts. */
export interface AbortWatcher {
  abandon(): void;
}

/**
 * One `abort` listener per caller signal, however many waits it covers. Node's `addEventListener` and
 * `removeEventListener` scan the listeners already attached, so 10,000 callers sharing one long-lived
 * signal would cost O(n²) (seconds) with a listener each.
 */
class AbortWatch {
  readonly watchers = new Set<AbortWatcher>();

  constructor(readonly signal: AbortSignal) {}

  handleEvent(): void {
    watches.delete(this.signal);
    // Snapshot: an abandoning watcher may synchronously run code that watches or unwatches this signal.
    const watchers = [...this.watchers];
    this.watchers.clear();
    for (const watcher of watchers) watcher.abandon();
  }
}

/** Weak, so a caller's signal that nobody else references is collected with its watch. */
const watches = new WeakMap<AbortSignal, AbortWatch>();

/** Calls `watcher.abandon()` when `signal` aborts, until {@link unwatchAbort}. `signal` must not be aborted yet. */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  let watch = watches.get(signal);
  if (watch === undefined) {
    watch = new AbortWatch(signal);
    watches.set(signal, watch);
    signal.addEventListener("abort", watch, { once: true });
  }
  watch.watchers.add(watcher);
}

/** Stops watching; detaches the listener from `signal` once nothing watches it, so long-lived signals do not leak. */
export function unwatchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  const watch = watches.get(signal);
  if (watch === undefined || !watch.watchers.delete(watcher) || watch.watchers.size > 0) return;
  watches.delete(signal);
  signal.removeEventListener("abort", watch);
}
