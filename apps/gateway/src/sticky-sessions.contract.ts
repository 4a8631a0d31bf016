import { describe, expect, it } from "vitest";
import { sessionKeyOf, type StickySessions } from "./sticky-sessions";

export interface StickyFixtureOptions {
  /** Bindings kept per group. */
  maxPerGroup: number;
  ttlMs: number;
  /** The clock the store reads, epoch ms. */
  now: () => number;
}

export interface StickyFixture {
  sticky: StickySessions;
  cleanup(): Promise<void>;
}

const HOUR = 60 * 60_000;

/** What every StickySessions must do; run against the in-memory one and the Redis one. */
export function describeStickySessionsContract(
  name: string,
  create: (options: StickyFixtureOptions) => Promise<StickyFixture>,
): void {
  describe(`StickySessions contract: ${name}`, () => {
    async function withSticky(
      options: Partial<StickyFixtureOptions>,
      test: (fixture: StickyFixture, clock: { now: number }) => Promise<void>,
    ): Promise<void> {
      const clock = { now: Date.UTC(2030, 0, 1) };
      const fixture = await create({ maxPerGroup: 10_000, ttlMs: HOUR, now: () => clock.now, ...options });
      try {
        await test(fixture, clock);
      } finally {
        await fixture.cleanup();
      }
    }

    it("binds, reads, re-binds and deletes a session; one session id binds separately per group and scope", () =>
      withSticky({}, async ({ sticky }) => {
        const key = sessionKeyOf("1", "claude:anthropic", "conversation-1");
        expect(await sticky.get(key)).toBeNull();
        await sticky.set(key, "7");
        expect(await sticky.get(key)).toBe("7");
        await sticky.set(key, "8");
        expect(await sticky.get(key)).toBe("8");
        const otherGroup = sessionKeyOf("2", "claude:anthropic", "conversation-1");
        const otherScope = sessionKeyOf("1", "openai:openai", "conversation-1");
        expect(await sticky.get(otherGroup)).toBeNull();
        expect(await sticky.get(otherScope)).toBeNull();
        await sticky.set(otherGroup, "9");
        expect(await sticky.get(key)).toBe("8");
        await sticky.delete(key);
        expect(await sticky.get(key)).toBeNull();
        expect(await sticky.get(otherGroup)).toBe("9");
      }));

    it("a binding ends a TTL after its last use; a read slides it", () =>
      withSticky({ ttlMs: 1_000 }, async ({ sticky }, clock) => {
        const used = sessionKeyOf("1", "claude:anthropic", "used");
        const idle = sessionKeyOf("1", "claude:anthropic", "idle");
        await sticky.set(used, "a");
        await sticky.set(idle, "b");
        clock.now += 600;
        expect(await sticky.get(used)).toBe("a");
        clock.now += 600;
        expect(await sticky.get(used)).toBe("a");
        expect(await sticky.get(idle)).toBeNull();
        clock.now += 1_000;
        expect(await sticky.get(used)).toBeNull();
      }));

    it("keeps at most maxPerGroup bindings per group: 5,000 more sessions than the cap push out the least recently used", () =>
      withSticky({ maxPerGroup: 1_000 }, async ({ sticky }, clock) => {
        const cap = 1_000;
        const total = 5_000 + cap;
        const key = (index: number) => sessionKeyOf("1", "claude:anthropic", `session-${index}`);
        const elsewhere = sessionKeyOf("2", "claude:anthropic", "session-0");
        await sticky.set(elsewhere, "other-group");
        const first = key(0);
        await sticky.set(first, "first");
        for (let start = 1; start < total; start += 500) {
          clock.now += 1;
          // The first session stays in use: the least recently used go, not the first written.
          expect(await sticky.get(first)).toBe("first");
          const batch = Array.from({ length: Math.min(500, total - start) }, (_, offset) => start + offset);
          await Promise.all(batch.map((index) => sticky.set(key(index), `account-${index}`)));
        }
        const survivors: Array<string | null> = [];
        for (let start = 0; start < total; start += 500) {
          const batch = Array.from({ length: Math.min(500, total - start) }, (_, offset) => start + offset);
          survivors.push(...(await Promise.all(batch.map((index) => sticky.get(key(index))))));
        }
        expect(survivors.filter((value) => value !== null)).toHaveLength(cap);
        expect(survivors[0]).toBe("first");
        expect(survivors[total - 1]).toBe(`account-${total - 1}`);
        expect(survivors[1]).toBeNull();
        // Another group's bindings are not pushed out by this one's.
        expect(await sticky.get(elsewhere)).toBe("other-group");
      }));
  });
}
