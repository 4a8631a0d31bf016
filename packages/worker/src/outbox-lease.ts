/**
 * The right to consume the scheduler outbox: at most one holder at a time across every replica sharing
 * it. A holder that stops renewing (crashed, partitioned, paused) loses it after its TTL, so another
 * replica takes over within `ttlMs + one acquire attempt`.
 */
export interface OutboxLease {
  /** Takes the lease if nobody holds it; true when this instance holds it now (already holding counts). */
  tryAcquire(): Promise<boolean>;
  /** Extends the lease if this instance still holds it; false when it was lost (expired or taken over). */
  renew(): Promise<boolean>;
  /** Gives the lease up if this instance holds it (never deletes another holder's lease). */
  release(): Promise<void>;
}
