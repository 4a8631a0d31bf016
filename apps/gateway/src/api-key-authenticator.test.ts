import { hashApiKey } from "@subrelay/db";
import { describe, expect, it } from "vitest";
import { ApiKeyAuthenticator, type StoredApiKey } from "./api-key-authenticator";

const REAL = `sr-${"A1b2C3d4E5".repeat(4)}`;
const stored: StoredApiKey = { apiKeyId: "1", groupId: 1, platform: "claude", mode: "single", status: "active", expiresAt: null };

/** An authenticator over a store that knows REAL, counting the lookups it is asked for. */
function counted(options: { maxEntries?: number; maxNegativeEntries?: number } = {}) {
  const asked: string[] = [];
  let clock = 0;
  const authenticator = new ApiKeyAuthenticator({
    ...options,
    now: () => clock,
    lookup: async (keyHash) => {
      asked.push(keyHash);
      return keyHash === hashApiKey(REAL) ? stored : null;
    },
  });
  return { authenticator, asked, advance: (ms: number) => (clock += ms) };
}

/** A well-shaped key the store does not know. */
function madeUp(index: number): string {
  return `sr-${String(index).padStart(40, "0")}`;
}

describe("ApiKeyAuthenticator", () => {
  it("hands out the key's name and limits with its grant, cached together", async () => {
    const limits = { requestsPerMinute: 5, allowedIps: ["10.0.0.0/8"] };
    let lookups = 0;
    const authenticator = new ApiKeyAuthenticator({
      now: () => 0,
      lookup: () => {
        lookups += 1;
        return Promise.resolve({ ...stored, name: "ci", limits });
      },
    });
    expect(await authenticator.authenticate(REAL)).toEqual({ apiKeyId: "1", groupId: 1, platform: "claude", mode: "single", name: "ci", limits });
    expect((await authenticator.authenticate(REAL)).limits).toBe(limits);
    expect(lookups).toBe(1);
  });

  it("refuses a 15 KB string without hashing, caching or looking it up", async () => {
    const { authenticator, asked } = counted();
    const huge = `sr-${"x".repeat(15 * 1024)}`;
    for (let index = 0; index < 3; index++) {
      await expect(authenticator.authenticate(huge)).rejects.toMatchObject({ code: "authentication", message: "Invalid API key." });
    }
    for (const bogus of [`${REAL}x`, REAL.slice(0, -1), `sk-${REAL.slice(3)}`, `${REAL.slice(0, -1)}!`, ` ${REAL}`]) {
      await expect(authenticator.authenticate(bogus)).rejects.toMatchObject({ code: "authentication" });
    }
    expect(asked).toEqual([]);
    expect(await authenticator.authenticate(REAL)).toMatchObject({ apiKeyId: "1" });
    expect(asked).toEqual([hashApiKey(REAL)]);
  });

  it("asks the store by digest and caches by it: the key itself reaches neither", async () => {
    const { authenticator, asked } = counted();
    await authenticator.authenticate(REAL);
    await authenticator.authenticate(REAL);
    expect(asked).toEqual([hashApiKey(REAL)]);
    const held = JSON.stringify([...(authenticator as unknown as { cache: Map<string, unknown> }).cache.keys()]);
    expect(held).not.toContain(REAL);
  });

  it("keeps unknown keys in a small cache of their own: a flood of them does not push a known key out", async () => {
    const { authenticator, asked } = counted({ maxEntries: 10, maxNegativeEntries: 5 });
    await authenticator.authenticate(REAL);
    for (let index = 0; index < 100; index++) {
      await expect(authenticator.authenticate(madeUp(index))).rejects.toMatchObject({ code: "authentication" });
    }
    asked.length = 0;
    expect(await authenticator.authenticate(REAL)).toMatchObject({ apiKeyId: "1" });
    expect(asked).toEqual([]);
    // The newest unknown keys are still remembered as unknown (no lookup), the oldest were dropped.
    await expect(authenticator.authenticate(madeUp(99))).rejects.toMatchObject({ code: "authentication" });
    expect(asked).toEqual([]);
    await expect(authenticator.authenticate(madeUp(0))).rejects.toMatchObject({ code: "authentication" });
    expect(asked).toEqual([hashApiKey(madeUp(0))]);
  });

  it("looks an unknown key up again after the negative TTL, a known one after the TTL", async () => {
    const { authenticator, asked, advance } = counted();
    await expect(authenticator.authenticate(madeUp(1))).rejects.toMatchObject({ code: "authentication" });
    await authenticator.authenticate(REAL);
    advance(4_999);
    await expect(authenticator.authenticate(madeUp(1))).rejects.toMatchObject({ code: "authentication" });
    expect(asked).toHaveLength(2);
    advance(1);
    await expect(authenticator.authenticate(madeUp(1))).rejects.toMatchObject({ code: "authentication" });
    expect(asked).toHaveLength(3);
    advance(25_000);
    await authenticator.authenticate(REAL);
    expect(asked).toHaveLength(4);
  });
});
