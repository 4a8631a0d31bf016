import type { OutboxLease } from "./outbox-lease";

/**
 * The embedded mode's lease: one process, one consumer, so the lease is always granted. Exists so the
 * consumer runs the same code path with or without Redis.
 */
export class MemoryOutboxLease implements OutboxLease {
  tryAcquire(): Promise<boolean> {
    return Promise.resolve(true);
  }

  renew(): Promise<boolean> {
    return Promise.resolve(true);
  }

  release(): Promise<void> {
    return Promise.resolve();
  }
}
