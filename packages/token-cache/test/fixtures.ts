import { matchesExpectation } from "../src/credentials-expectation";
import { TokenRefreshError } from "../src/token-refresh-error";
import type { TokenStore } from "../src/token-store";
import type { AccountStore, CredentialsExpectation, Logger, OAuthCredentials, TokenAccount, TokenRefresher } from "../src/types";

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An in-memory AccountStore that counts reads and writes. */
export class FakeAccounts implements AccountStore {
  readonly accounts = new Map<string, TokenAccount>();
  gets = 0;
  readonly saved: { id: string; credentials: OAuthCredentials }[] = [];
  onSave: ((id: string, credentials: OAuthCredentials) => void) | undefined;

  constructor(...accounts: TokenAccount[]) {
    for (const account of accounts) this.accounts.set(account.id, structuredClone(account));
  }

  get(id: string): Promise<TokenAccount | null> {
    this.gets++;
    const account = this.accounts.get(id);
    return Promise.resolve(account === undefined ? null : structuredClone(account));
  }

  /** A compare-and-set with `expected`, as the AccountStore contract asks. */
  saveCredentials(id: string, credentials: OAuthCredentials, expected?: CredentialsExpectation): Promise<boolean> {
    const account = this.accounts.get(id);
    if (account !== undefined && expected !== undefined && !matchesExpectation(account.credentials, expected)) {
      return Promise.resolve(false);
    }
    if (account !== undefined) account.credentials = structuredClone(credentials);
    this.saved.push({ id, credentials: structuredClone(credentials) });
    this.onSave?.(id, credentials);
    return Promise.resolve(true);
  }
}

/** A refresher whose every call is answered by `respond`; counts calls. */
export class FakeRefresher implements TokenRefresher {
  calls: TokenAccount[] = [];
  signals: AbortSignal[] = [];
  /** Resolved with the call number when a call starts. */
  started = deferred<number>();

  constructor(public respond: (account: TokenAccount, call: number) => Promise<OAuthCredentials> | OAuthCredentials) {}

  cacheKey(account: TokenAccount): string {
    return `${account.platform}:account:${account.id}`;
  }

  async refresh(account: TokenAccount, signal: AbortSignal): Promise<OAuthCredentials> {
    this.calls.push(structuredClone(account));
    this.signals.push(signal);
    const call = this.calls.length;
    this.started.resolve(call);
    return this.respond(account, call);
  }
}

export function permanentError(): TokenRefreshError {
  return new TokenRefreshError("refresh token rejected", { code: "invalid_grant", permanent: true, status: 400 });
}

export function transientError(): TokenRefreshError {
  return new TokenRefreshError("token endpoint failed", { code: "server", permanent: false, status: 503 });
}

export interface LogEntry {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const record = (level: string) => (fields: Record<string, unknown>, message: string) => {
    entries.push({ level, fields, message });
  };
  return { entries, debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") };
}

type Hooks = { [K in keyof TokenStore]?: (...args: Parameters<TokenStore[K]>) => Promise<void> | void };

/**
 * Wraps a TokenStore: records every call and lets a test run a hook (e.g. await a gate) before a call
 * reaches the real store.
 */
export class InstrumentedTokenStore implements TokenStore {
  readonly calls: { method: keyof TokenStore; args: unknown[] }[] = [];
  hooks: Hooks = {};

  constructor(readonly inner: TokenStore) {}

  count(method: keyof TokenStore): number {
    return this.calls.filter((call) => call.method === method).length;
  }

  async #call<K extends keyof TokenStore>(method: K, args: Parameters<TokenStore[K]>): Promise<Awaited<ReturnType<TokenStore[K]>>> {
    this.calls.push({ method, args });
    const hook = this.hooks[method];
    if (hook !== undefined) await hook(...args);
    const fn = this.inner[method] as (...fnArgs: Parameters<TokenStore[K]>) => ReturnType<TokenStore[K]>;
    return await (fn.apply(this.inner, args));
  }

  getToken(...args: Parameters<TokenStore["getToken"]>) {
    return this.#call("getToken", args);
  }
  setTokenIfNewer(...args: Parameters<TokenStore["setTokenIfNewer"]>) {
    return this.#call("setTokenIfNewer", args);
  }
  invalidateToken(...args: Parameters<TokenStore["invalidateToken"]>) {
    return this.#call("invalidateToken", args);
  }
  acquireLock(...args: Parameters<TokenStore["acquireLock"]>) {
    return this.#call("acquireLock", args);
  }
  extendLock(...args: Parameters<TokenStore["extendLock"]>) {
    return this.#call("extendLock", args);
  }
  releaseLock(...args: Parameters<TokenStore["releaseLock"]>) {
    return this.#call("releaseLock", args);
  }
  waitForRefresh(...args: Parameters<TokenStore["waitForRefresh"]>) {
    return this.#call("waitForRefresh", args);
  }
}

/** A store whose every call fails, as an unreachable Redis does. */
export class UnreachableTokenStore implements TokenStore {
  calls = 0;
  #fail(): Promise<never> {
    this.calls++;
    return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1"));
  }
  getToken = () => this.#fail();
  setTokenIfNewer = () => this.#fail();
  invalidateToken = () => this.#fail();
  acquireLock = () => this.#fail();
  extendLock = () => this.#fail();
  releaseLock = () => this.#fail();
  waitForRefresh = () => this.#fail();
}
