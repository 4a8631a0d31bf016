import { createHash, randomBytes } from "node:crypto";

/** Where sessions are kept, by the SHA-256 hex of their cookie value (`@subrelay/db`'s `AdminSessionRepository`). */
export interface AdminSessionStore {
  create(idHash: string, expiresAt: number): Promise<void>;
  /** The session's end (epoch ms) while it is open at `now`; null otherwise (an expired row may be deleted). */
  find(idHash: string, now: number): Promise<number | null>;
  delete(idHash: string): Promise<boolean>;
  deleteExpired(now: number): Promise<number>;
}

export interface AdminSessionsOptions {
  store: AdminSessionStore;
  /** How long a session lasts, ms (`ADMIN_SESSION_TTL`). */
  ttlMs: number;
  now?: () => number;
  /** A new session's cookie value; default 32 random bytes, base64url. */
  newSessionId?: () => string;
}

/** A session's cookie value: 32 bytes in base64url (43 characters), nothing else is looked up. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Console sessions: a random cookie value per sign-in, of which only a digest is stored. Every check reads
 * the store, so a session ended on one replica fails on every other at once.
 */
export class AdminSessions {
  readonly ttlMs: number;
  readonly #store: AdminSessionStore;
  readonly #now: () => number;
  readonly #newSessionId: () => string;

  constructor(options: AdminSessionsOptions) {
    this.#store = options.store;
    this.ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#newSessionId = options.newSessionId ?? (() => randomBytes(32).toString("base64url"));
  }

  /** Opens a session: its cookie value (shown to the signing-in browser only) and end, epoch ms. */
  async open(): Promise<{ sessionId: string; expiresAt: number }> {
    const now = this.#now();
    // Sessions are few (one per sign-in): ended ones are cleared here rather than on a timer.
    await this.#store.deleteExpired(now).catch(() => 0);
    const sessionId = this.#newSessionId();
    const expiresAt = now + this.ttlMs;
    await this.#store.create(digestOf(sessionId), expiresAt);
    return { sessionId, expiresAt };
  }

  /** The end (epoch ms) of the open session with this cookie value; null for none, an ended one or a malformed value. */
  async check(sessionId: string | undefined): Promise<number | null> {
    if (sessionId === undefined || !SESSION_ID.test(sessionId)) return null;
    return this.#store.find(digestOf(sessionId), this.#now());
  }

  /** Ends the session with this cookie value, if there is one. */
  async close(sessionId: string | undefined): Promise<void> {
    if (sessionId === undefined || !SESSION_ID.test(sessionId)) return;
    await this.#store.delete(digestOf(sessionId));
  }
}

function digestOf(sessionId: string): string {
  return createHash("sha256").update(sessionId).digest("hex");
}
