import { describe, expect, it } from "vitest";
import {
  deferred,
  FakeAccounts,
  FakeRefresher,
  InstrumentedTokenStore,
  permanentError,
  recordingLogger,
  transientError,
  UnreachableTokenStore,
} from "../test/fixtures";
import { describeTokenManagerContract } from "../test/token-manager-contract";
import { MemoryTokenStore } from "./memory-token-store";
import { TokenManager } from "./token-manager";
import { TokenRefreshError } from "./token-refresh-error";

describeTokenManagerContract("MemoryTokenStore", () => {
  const store = new MemoryTokenStore();
  return Promise.resolve({ store, peer: store, cleanup: () => Promise.resolve() });
});

/** The wait an unknown lock state makes before re-reading, passed at once (these tests have no other process). */
const noWait = () => Promise.resolve();

describe("TokenManager without a reachable store (rule 9)", () => {
  it("serves from the database, refreshes once per key per process, and warns at most once per interval", async () => {
    let clock = Date.now();
    const old = { id: "a1", platform: "claude", credentials: { accessToken: "old", refreshToken: "rt", expiresAt: clock - 1 } };
    const accounts = new FakeAccounts(old);
    const gate = deferred();
    const refresher = new FakeRefresher(async () => {
      await gate.promise;
      return { accessToken: "new", expiresAt: clock + 8 * 3_600_000 };
    });
    const store = new UnreachableTokenStore();
    const logger = recordingLogger();
    const storeErrors: string[] = [];
    const tokens = new TokenManager({
      accounts,
      refreshers: { claude: refresher },
      store,
      now: () => clock,
      sleep: noWait,
      logger,
      warningIntervalMs: 10_000,
      metrics: { storeError: (operation) => void storeErrors.push(operation) },
    });
    // Different windows would be different flights: the per-process mutex still allows one refresh.
    const callers = [
      ...Array.from({ length: 20 }, () => tokens.getAccessToken(old)),
      tokens.refreshIfNeeded(old, 3_600_000).then((result) => result.account.credentials.accessToken),
    ];
    await refresher.started.promise;
    gate.resolve();
    expect(new Set(await Promise.all(callers))).toEqual(new Set(["new"]));
    expect(refresher.calls).toHaveLength(1);
    expect(storeErrors).toEqual(expect.arrayContaining(["getToken", "acquireLock", "setTokenIfNewer"]));
    expect(storeErrors.length).toBeGreaterThan(3);
    expect(logger.entries.filter((entry) => entry.level === "warn")).toHaveLength(1);
    clock += 10_000;
    await tokens.invalidate(old);
    const warnings = logger.entries.filter((entry) => entry.level === "warn");
    expect(warnings).toHaveLength(2);
    expect(warnings[1]!.fields.suppressedWarnings).toBeGreaterThan(0);
  });

  it("when the store fails while waiting for another process, re-reads the account and refreshes only if still needed", async () => {
    const clock = Date.now();
    const old = { id: "a1", platform: "claude", credentials: { accessToken: "old", refreshToken: "rt", expiresAt: clock - 1 } };
    const accounts = new FakeAccounts(old);
    const store = new InstrumentedTokenStore(new MemoryTokenStore());
    await store.acquireLock("claude:account:a1", "other-process", 30_000);
    store.hooks.waitForRefresh = () => {
      throw new Error("subscriber connection lost");
    };
    const refresher = new FakeRefresher(() => ({ accessToken: "mine", expiresAt: clock + 3_600_000 }));
    const tokens = new TokenManager({ accounts, refreshers: { claude: refresher }, store, now: () => clock, sleep: noWait });
    // The other process already saved its result: used without a refresh.
    await accounts.saveCredentials("a1", { accessToken: "theirs", refreshToken: "rt-2", expiresAt: clock + 3_600_000 });
    expect(await tokens.getAccessToken(old)).toBe("theirs");
    expect(refresher.calls).toHaveLength(0);
    // Nothing saved yet: refreshes without the lock rather than failing the caller.
    const other = { id: "a2", platform: "claude", credentials: { accessToken: "old", refreshToken: "rt", expiresAt: clock - 1 } };
    accounts.accounts.set("a2", structuredClone(other));
    await store.acquireLock("claude:account:a2", "other-process", 30_000);
    expect(await tokens.getAccessToken(other)).toBe("mine");
    expect(refresher.calls).toHaveLength(1);
  });

  it("still reports refresh failures as TokenRefreshError, never as a store error", async () => {
    const clock = Date.now();
    const old = { id: "a1", platform: "claude", credentials: { accessToken: "old", refreshToken: "rt", expiresAt: clock - 1 } };
    const tokens = new TokenManager({
      accounts: new FakeAccounts(old),
      refreshers: { claude: new FakeRefresher(() => Promise.reject(transientError())) },
      store: new UnreachableTokenStore(),
      now: () => clock,
      sleep: noWait,
    });
    const error = await tokens.getAccessToken(old).catch((caught: unknown) => caught);
    expect(TokenRefreshError.isInstance(error) && error.code).toBe("server");
  });

  it("rejects an account whose platform has no refresher, permanently", async () => {
    const tokens = new TokenManager({ accounts: new FakeAccounts(), refreshers: {} });
    const error = await tokens
      .getAccessToken({ id: "x", platform: "nope", credentials: { accessToken: "a" } })
      .catch((caught: unknown) => caught);
    expect(TokenRefreshError.isInstance(error) && error.permanent).toBe(true);
  });
});

describe("TokenManager when a refresh leaves no valid token", () => {
  it("fails transiently with no_valid_token, not lock_timeout", async () => {
    const clock = Date.now();
    const old = { id: "a1", platform: "claude", credentials: { accessToken: "old", refreshToken: "rt", expiresAt: clock - 1 } };
    // The platform answers with a token that has already expired: there is nothing to serve.
    const refresher = new FakeRefresher(() => Promise.resolve({ accessToken: "stale", expiresAt: clock - 1 }));
    const tokens = new TokenManager({
      accounts: new FakeAccounts(old),
      refreshers: { claude: refresher },
      store: new MemoryTokenStore(),
      now: () => clock,
    });
    const error = await tokens.getToken(old).catch((caught: unknown) => caught);
    expect(TokenRefreshError.isInstance(error) && error.code).toBe("no_valid_token");
    expect(TokenRefreshError.isInstance(error) && error.permanent).toBe(false);
    expect(refresher.calls).toHaveLength(1);
  });
});

describe("TokenManager and the refresh skew (injected clock)", () => {
  it("never serves a cached token inside its last refreshSkewMs: the next call refreshes", async () => {
    const minute = 60_000;
    let clock = Date.now();
    const near = { id: "a1", platform: "claude", credentials: { accessToken: "near", refreshToken: "rt", expiresAt: clock + 4 * minute } };
    const accounts = new FakeAccounts(near);
    const refresher = new FakeRefresher(() => ({ accessToken: "new", refreshToken: "rt-2", expiresAt: clock + 8 * 60 * minute }));
    const store = new MemoryTokenStore({ now: () => clock });
    const tokens = new TokenManager({
      accounts,
      refreshers: { claude: refresher },
      store,
      now: () => clock,
      refreshSkewMs: 3 * minute,
      cacheSkewMs: 5 * minute,
    });
    // 4 min left, more than the refresh skew: served and cached.
    expect(await tokens.getAccessToken(near)).toBe("near");
    expect(await store.getToken("claude:account:a1")).toMatchObject({ state: "hit", token: { accessToken: "near" } });
    clock += minute - 1;
    expect(await tokens.getAccessToken(near)).toBe("near");
    expect(refresher.calls).toHaveLength(0);
    // Now inside the refresh skew (3 min left): no cached hit, a refresh.
    clock += 1;
    expect(await tokens.getAccessToken(near)).toBe("new");
    expect(refresher.calls).toHaveLength(1);
  });
});

describe("TokenManager when saveCredentials fails (the rotated refresh token must not be lost)", () => {
  const hour = 3_600_000;
  /** Saves fail while `failures` > 0; every attempt is counted. */
  class FailingAccounts extends FakeAccounts {
    failures = 0;
    attempts = 0;
    override saveCredentials(...args: Parameters<FakeAccounts["saveCredentials"]>): Promise<boolean> {
      this.attempts++;
      if (this.failures > 0) {
        this.failures--;
        return Promise.reject(new Error("connection terminated"));
      }
      return super.saveCredentials(...args);
    }
  }

  function setup(failures: number) {
    const clock = Date.now();
    const stale = { id: "a1", platform: "claude", credentials: { accessToken: "at-0", refreshToken: "rt-0", expiresAt: clock - 1 } };
    const accounts = new FailingAccounts(stale);
    accounts.failures = failures;
    const sentRefreshTokens: unknown[] = [];
    const refresher = new FakeRefresher((account, call) => {
      sentRefreshTokens.push(account.credentials.refreshToken);
      return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresAt: clock + 8 * hour };
    });
    // The two in-lock retries (after attempts 1 and 2) run at once; the background retry waits for the test
    // to open `background`.
    let background = deferred();
    const tokens = new TokenManager({
      accounts,
      refreshers: { claude: refresher },
      store: new MemoryTokenStore(),
      now: () => clock,
      saveRetryDelaysMs: [1, 2],
      sleep: () => (accounts.attempts < 3 ? Promise.resolve() : background.promise),
    });
    return { stale, accounts, refresher, sentRefreshTokens, tokens, open: () => { background.resolve(); background = deferred(); } };
  }

  it("retries the save while holding the lock", async () => {
    const { stale, accounts, refresher, tokens } = setup(2);
    expect(await tokens.getAccessToken(stale)).toBe("at-1");
    expect(accounts.attempts).toBe(3);
    expect(accounts.accounts.get("a1")!.credentials.refreshToken).toBe("rt-1");
    expect(refresher.calls).toHaveLength(1);
  });

  it("keeps unsaved credentials, refreshes from them (never from the stale stored ones), and writes them eventually", async () => {
    const { stale, accounts, sentRefreshTokens, tokens, open } = setup(4);
    expect(await tokens.getAccessToken(stale)).toBe("at-1");
    // Three attempts under the lock failed: the database still has rt-0, which the endpoint rotated away.
    expect(accounts.attempts).toBe(3);
    expect(accounts.accounts.get("a1")!.credentials.refreshToken).toBe("rt-0");
    // A 401 forces the next refresh before the background retry ran: it must use rt-1, not the stored rt-0.
    await tokens.invalidate(stale, (await tokens.getToken(stale)).tokenVersion);
    expect(await tokens.getAccessToken(stale)).toBe("at-2");
    expect(sentRefreshTokens).toEqual(["rt-0", "rt-1"]);
    expect(accounts.accounts.get("a1")!.credentials.refreshToken).toBe("rt-2");
    open();

    // And a save that keeps failing under the lock is written by the background retry.
    const second = setup(3);
    expect(await second.tokens.getAccessToken(second.stale)).toBe("at-1");
    expect(second.accounts.accounts.get("a1")!.credentials.refreshToken).toBe("rt-0");
    const written = deferred();
    second.accounts.onSave = () => written.resolve();
    second.open();
    await written.promise;
    expect(second.accounts.accounts.get("a1")!.credentials.refreshToken).toBe("rt-1");
    expect(second.sentRefreshTokens).toEqual(["rt-0"]);
  });
});

describe("TokenManager when whether another process holds the lock is unknown (issue 12, item 1)", () => {
  const hour = 3_600_000;

  /** Two processes' TokenManagers over one database: their shared store answers nothing about the lock. */
  function setup() {
    const clock = Date.now();
    const stale = { id: "a1", platform: "claude", credentials: { accessToken: "at-0", refreshToken: "rt-0", expiresAt: clock - 1 } };
    const accounts = new FakeAccounts(stale);
    // The token endpoint spends a refresh token on arrival, as a rotating one does.
    let generation = 0;
    const sent: unknown[] = [];
    const firstReply = deferred();
    const refresher = new FakeRefresher(async (account) => {
      sent.push(account.credentials.refreshToken);
      if (account.credentials.refreshToken !== `rt-${generation}`) throw permanentError();
      generation++;
      const issued = { accessToken: `at-${generation}`, refreshToken: `rt-${generation}`, expiresAt: clock + 8 * hour };
      if (generation === 1) await firstReply.promise;
      return issued;
    });
    /** A process whose every wait (the n-th call to `sleep`) is what `waits(n)` returns. */
    const manager = (waits: (n: number) => Promise<void>) => {
      const store = new InstrumentedTokenStore(new MemoryTokenStore());
      store.hooks.acquireLock = () => Promise.reject(new Error("Command timed out"));
      store.hooks.waitForRefresh = () => Promise.reject(new Error("Command timed out"));
      let n = 0;
      return new TokenManager({ accounts, refreshers: { claude: refresher }, store, now: () => clock, sleep: () => waits(n++) });
    };
    return { stale, accounts, refresher, sent, firstReply, manager };
  }

  it("waits and re-reads the database instead of refreshing beside the other process", async () => {
    const { stale, accounts, refresher, sent, firstReply, manager } = setup();
    const aDone = deferred();
    const bWaiting = deferred();
    const a = manager(() => Promise.resolve());
    const b = manager(() => {
      bWaiting.resolve();
      return aDone.promise;
    });
    const fromA = a.getAccessToken(stale);
    await refresher.started.promise;
    const fromB = b.getAccessToken(stale);
    const bSettled = fromB.catch(() => undefined);
    // B either waits (the fix) or refreshes beside A at once and is refused.
    await Promise.race([bWaiting.promise, bSettled]);
    firstReply.resolve();
    expect(await fromA).toBe("at-1");
    aDone.resolve();
    expect(await fromB).toBe("at-1");
    expect(sent).toEqual(["rt-0"]);
    expect(accounts.accounts.get("a1")!.credentials.refreshToken).toBe("rt-1");
  });

  it("an invalid_grant while the other process's save is still on its way is not reported as permanent", async () => {
    const { stale, accounts, refresher, sent, firstReply, manager } = setup();
    const aDone = deferred();
    const bWaitingAgain = deferred();
    const a = manager(() => Promise.resolve());
    // B gives up its first wait while A's refresh is still in flight (as after lockWaitMs), and spends the
    // same refresh token: refused. Its re-read at once sees nothing new; the fix waits once more.
    const b = manager((n) => {
      if (n === 0) return Promise.resolve();
      bWaitingAgain.resolve();
      return aDone.promise;
    });
    const fromA = a.getAccessToken(stale);
    await refresher.started.promise;
    const fromB = b.getAccessToken(stale);
    await Promise.race([bWaitingAgain.promise, fromB.catch(() => undefined)]);
    expect(sent).toEqual(["rt-0", "rt-0"]);
    firstReply.resolve();
    expect(await fromA).toBe("at-1");
    aDone.resolve();
    expect(await fromB).toBe("at-1");
    expect(accounts.accounts.get("a1")!.credentials.refreshToken).toBe("rt-1");
  });

  it("a save finds the credentials it read replaced (an operator, or a holder it outlived): theirs stay", async () => {
    const clock = Date.now();
    const stale = { id: "a1", platform: "claude", credentials: { accessToken: "at-0", refreshToken: "rt-0", expiresAt: clock - 1 } };
    const accounts = new FakeAccounts(stale);
    const reply = deferred();
    const refresher = new FakeRefresher(async () => {
      await reply.promise;
      return { accessToken: "at-mine", refreshToken: "rt-mine", expiresAt: clock + 8 * hour };
    });
    const tokens = new TokenManager({ accounts, refreshers: { claude: refresher }, now: () => clock });
    const served = tokens.getAccessToken(stale);
    await refresher.started.promise;
    // Written without the lock and without a compare-and-set, as an operator's replacement is.
    const replaced = { accessToken: "at-operator", refreshToken: "rt-operator", expiresAt: clock + 8 * hour, tokenVersion: clock + 1 };
    await accounts.saveCredentials("a1", replaced);
    reply.resolve();
    expect(await served).toBe("at-operator");
    expect(accounts.accounts.get("a1")!.credentials).toEqual(replaced);
    expect(await tokens.getAccessToken(stale)).toBe("at-operator");
  });
});
