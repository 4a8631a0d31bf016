import type { UpstreamAccount } from "@subrelay/providers-core";
import type { AccessToken, TokenAccount } from "@subrelay/token-cache";
import { describe, expect, it } from "vitest";
import { AccessTokens } from "./access-tokens";

const account: UpstreamAccount = {
  id: "7",
  platform: "claude",
  type: "oauth",
  credentials: { accessToken: "from-db", refreshToken: "rt" },
};

/** A TokenManager stand-in that serves the tokens it is given in turn and counts the asks. */
function manager(tokens: AccessToken[]) {
  const asked: TokenAccount[] = [];
  return {
    asked,
    getToken: (tokenAccount: TokenAccount) => {
      asked.push(tokenAccount);
      return Promise.resolve(tokens[Math.min(asked.length, tokens.length) - 1]!);
    },
    invalidated: [] as (number | undefined)[],
    invalidate(_account: TokenAccount, failedVersion?: number) {
      this.invalidated.push(failedVersion);
      return Promise.resolve();
    },
  };
}

describe("AccessTokens", () => {
  it("reuses a token for a few seconds without asking the shared cache", async () => {
    let now = 1_000_000;
    const shared = manager([{ accessToken: "a", expiresAt: now + 3_600_000, tokenVersion: 1 }, { accessToken: "b", expiresAt: now + 3_600_000, tokenVersion: 1 }]);
    const tokens = new AccessTokens(shared, { now: () => now, localTtlMs: 5_000 });
    expect(await tokens.get(account)).toBe("a");
    now += 4_999;
    expect(await tokens.get(account)).toBe("a");
    expect(shared.asked).toHaveLength(1);
    now += 1;
    expect(await tokens.get(account)).toBe("b");
    expect(shared.asked).toHaveLength(2);
  });

  it("never keeps a token past its expiry, however long the local reuse", async () => {
    let now = 1_000_000;
    const shared = manager([{ accessToken: "ending", expiresAt: now + 2_000, tokenVersion: 1 }, { accessToken: "next", expiresAt: now + 3_600_000, tokenVersion: 1 }]);
    const tokens = new AccessTokens(shared, { now: () => now, localTtlMs: 5_000 });
    expect(await tokens.get(account)).toBe("ending");
    now += 1_999;
    expect(await tokens.get(account)).toBe("ending");
    now += 1;
    expect(await tokens.get(account)).toBe("next");
  });

  it("asks again at once after an invalidation", async () => {
    const now = 1_000_000;
    const shared = manager([{ accessToken: "refused", expiresAt: now + 3_600_000, tokenVersion: 1 }, { accessToken: "fresh", tokenVersion: 2 }]);
    const tokens = new AccessTokens(shared, { now: () => now });
    expect(await tokens.get(account)).toBe("refused");
    await tokens.invalidate(account);
    expect(await tokens.get(account)).toBe("fresh");
    expect(shared.asked.map((asked) => asked.id)).toEqual(["7", "7"]);
  });

  it("invalidates the shared cache at the version of the token that got the 401, not the account's", async () => {
    let now = 1_000_000;
    const shared = manager([
      { accessToken: "old", expiresAt: now + 3_600_000, tokenVersion: 5 },
      { accessToken: "new", expiresAt: now + 3_600_000, tokenVersion: 9 },
    ]);
    const tokens = new AccessTokens(shared, { now: () => now, localTtlMs: 5_000 });
    expect(await tokens.get(account)).toBe("old");
    now += 5_000;
    expect(await tokens.get(account)).toBe("new");
    // A late 401 on the old token: invalidated at version 5 (the store keeps the newer 9), and the
    // fresh token is kept here too.
    await tokens.invalidate(account, "old");
    expect(shared.invalidated).toEqual([5]);
    expect(await tokens.get(account)).toBe("new");
    expect(shared.asked).toHaveLength(2);
    await tokens.invalidate(account, "new");
    expect(shared.invalidated).toEqual([5, 9]);
  });

  it("skips the token kept here when the account carries newer credentials (an operator replaced them)", async () => {
    const now = 1_000_000;
    const shared = manager([
      { accessToken: "old", expiresAt: now + 3_600_000, tokenVersion: 5 },
      { accessToken: "replaced", expiresAt: now + 3_600_000, tokenVersion: 8 },
    ]);
    const tokens = new AccessTokens(shared, { now: () => now, localTtlMs: 5_000 });
    const stored = (tokenVersion: number): UpstreamAccount => ({
      ...account,
      credentials: { ...account.credentials, tokenVersion },
    });
    expect(await tokens.get(stored(5))).toBe("old");
    // Credentials of the version served, or older (a directory copy from before a refresh): reused.
    expect(await tokens.get(stored(5))).toBe("old");
    expect(await tokens.get(account)).toBe("old");
    expect(shared.asked).toHaveLength(1);
    // Newer credentials, within the local TTL: asked again at once, and the new token is kept.
    expect(await tokens.get(stored(8))).toBe("replaced");
    expect(shared.asked.map((asked) => asked.credentials.tokenVersion)).toEqual([5, 8]);
    expect(await tokens.get(stored(8))).toBe("replaced");
    expect(shared.asked).toHaveLength(2);
  });

  it("forget drops the token kept here at once", async () => {
    const now = 1_000_000;
    const shared = manager([
      { accessToken: "before", expiresAt: now + 3_600_000, tokenVersion: 1 },
      { accessToken: "after", expiresAt: now + 3_600_000, tokenVersion: 2 },
    ]);
    const tokens = new AccessTokens(shared, { now: () => now, localTtlMs: 5_000 });
    expect(await tokens.get(account)).toBe("before");
    tokens.forget("8");
    expect(await tokens.get(account)).toBe("before");
    tokens.forget(account.id);
    expect(await tokens.get(account)).toBe("after");
    expect(shared.asked).toHaveLength(2);
    expect(shared.invalidated).toEqual([]);
  });
});

/** A TokenManager stand-in whose asks stay open until the test answers them. */
function heldManager() {
  const asks: Array<{ newerThan: number | undefined; answer(token: AccessToken): void }> = [];
  return {
    asks,
    getToken: (_account: TokenAccount, options: { newerThan?: number } = {}) =>
      new Promise<AccessToken>((resolve) => asks.push({ newerThan: options.newerThan, answer: resolve })),
    invalidate: () => Promise.resolve(),
  };
}

describe("AccessTokens after upstream 401s", () => {
  const hour = 3_600_000;
  const now = 1_000_000;

  it("refreshes an account given up on again only after refusedHoldMs", async () => {
    let clock = now;
    const shared = heldManager();
    const tokens = new AccessTokens(shared, { now: () => clock, refusedHoldMs: 60_000 });
    const serve = async (accessToken: string, tokenVersion: number) => {
      const got = tokens.get(account);
      shared.asks.at(-1)!.answer({ accessToken, expiresAt: clock + hour, tokenVersion });
      return got;
    };
    await serve("v1", 1);
    tokens.recordRefusal(account, "v1");
    await serve("v2", 2);
    tokens.recordRefusal(account, "v2");
    await serve("v3", 3);
    expect(tokens.recordRefusal(account, "v3")).toBe(true);
    clock += 59_999;
    await expect(tokens.get(account)).rejects.toMatchObject({ code: "no_valid_token" });
    clock += 1;
    expect(await serve("v4", 4)).toBe("v4");
    expect(shared.asks).toHaveLength(4);
  });

  it("asks past the refused version, and does not keep the refused token a call that began before the 401 brings back", async () => {
    const shared = heldManager();
    const tokens = new AccessTokens(shared, { now: () => now });
    const early = tokens.get(account);
    const first = tokens.get(account);
    shared.asks[1]!.answer({ accessToken: "old", expiresAt: now + hour, tokenVersion: 5 });
    expect(await first).toBe("old");
    expect(tokens.recordRefusal(account, "old")).toBe(false);
    // The early call resolves only now, with the token just refused: its caller gets it, nobody else.
    shared.asks[0]!.answer({ accessToken: "old", expiresAt: now + hour, tokenVersion: 5 });
    expect(await early).toBe("old");
    const retry = tokens.get(account);
    expect(shared.asks[2]?.newerThan).toBe(5);
    shared.asks[2]!.answer({ accessToken: "fresh", expiresAt: now + hour, tokenVersion: 6 });
    expect(await retry).toBe("fresh");
    // Kept: a late 401 on the old token is served the fresh one without asking again.
    expect(tokens.recordRefusal(account, "old")).toBe(false);
    expect(await tokens.get(account)).toBe("fresh");
    expect(shared.asks).toHaveLength(3);
  });

  it("says the account needs an operator once tokens refreshed after a 401 are refused twice in a row", async () => {
    const shared = heldManager();
    const tokens = new AccessTokens(shared, { now: () => now });
    const serve = async (accessToken: string, tokenVersion: number) => {
      const got = tokens.get(account);
      shared.asks.at(-1)!.answer({ accessToken, expiresAt: now + hour, tokenVersion });
      return got;
    };
    expect(await serve("v5", 5)).toBe("v5");
    expect(tokens.recordRefusal(account, "v5")).toBe(false);
    expect(await serve("v6", 6)).toBe("v6");
    // Many requests refused the same refreshed token: one refusal in the streak.
    for (let index = 0; index < 20; index++) expect(tokens.recordRefusal(account, "v6")).toBe(false);
    expect(await serve("v7", 7)).toBe("v7");
    expect(tokens.recordRefusal(account, "v7")).toBe(true);
    expect(tokens.recordRefusal(account, "v7")).toBe(true);

    // Given up: no refresh is asked for a while, whoever picks the account meanwhile.
    await expect(tokens.get(account)).rejects.toMatchObject({ code: "no_valid_token" });
    expect(shared.asks).toHaveLength(3);

    // An accepted token ends the streak.
    tokens.accepted(account);
    expect(await serve("v8", 8)).toBe("v8");
    expect(tokens.recordRefusal(account, "v8")).toBe(false);
    expect(await serve("v9", 9)).toBe("v9");
    expect(tokens.recordRefusal(account, "v9")).toBe(true);
  });
});
