import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff-delay";
import { TokenBucket } from "./token-bucket";

describe("backoffDelay", () => {
  const options = { baseMs: 2_000, capMs: 30_000 };

  it("doubles from the base, jitters ±20 % and caps", () => {
    const mid = { ...options, random: () => 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((tries) => backoffDelay(tries, mid))).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(backoffDelay(1, { ...options, random: () => 0 })).toBe(1_600);
    expect(backoffDelay(2, { ...options, random: () => 0.999_999 })).toBe(4_800);
    expect(backoffDelay(5, { ...options, random: () => 0.999_999 })).toBe(30_000);
  });

  it("waits at least what the server asked, still capped", () => {
    expect(backoffDelay(1, { ...options, random: () => 0.5, retryAfterMs: 10_000 })).toBe(10_000);
    expect(backoffDelay(1, { ...options, random: () => 0.5, retryAfterMs: 120_000 })).toBe(30_000);
  });
});

describe("TokenBucket", () => {
  it("lets a burst through, then spaces reservations by 1 / rate and refills with time", () => {
    let now = 0;
    const bucket = new TokenBucket({ ratePerSecond: 4, now: () => now });
    expect([1, 2, 3, 4].map(() => bucket.reserve())).toEqual([0, 0, 0, 0]);
    expect(bucket.reserve()).toBe(250);
    expect(bucket.reserve()).toBe(500);
    now = 2_000;
    expect(bucket.reserve()).toBe(0);
  });
});
