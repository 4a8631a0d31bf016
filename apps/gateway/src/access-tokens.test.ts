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
