import { describe, expect, it } from "vitest";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { AccountStateRecorder, type AccountStateVerdict } from "./account-state-recorder";

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const forbidden: AccountStateVerdict = { kind: "forbidden", reason: "banned" };

/** A recorder over a database that counts its writes, and a clock the test moves. */
function recorder(memoMs?: number) {
  const clock = { now: 1_000_000 };
  const writes: Array<{ accountId: string; verdict: AccountStateVerdict }> = [];
  const pushed: string[] = [];
  const states = new AccountStateRecorder({
    logger,
    memoMs,
    now: () => clock.now,
    write: (accountId, verdict) => {
      writes.push({ accountId, verdict });
      return Promise.resolve({ id: accountId } as AccountSnapshot);
    },
    push: (snapshot) => {
      pushed.push(snapshot.id);
      return Promise.resolve();
    },
  });
  return { states, clock, writes, pushed };
}

describe("AccountStateRecorder", () => {
  it("writes a burst of one state once", async () => {
    const { states, writes, pushed } = recorder();
    await Promise.all([states.record("a", forbidden), states.record("a", forbidden), states.record("a", forbidden)]);
    await states.record("a", forbidden);
    expect(writes).toHaveLength(1);
    expect(pushed).toEqual(["a"]);
  });

  it("records a forbidden account again once the memo's bound has passed (a reset made through another replica)", async () => {
    const { states, clock, writes } = recorder(30_000);
    await states.record("a", forbidden);
    // Another replica's admin reset: this process is not told, its memo still says "forbidden".
    clock.now += 29_999;
    await states.record("a", forbidden);
    expect(writes).toHaveLength(1);
    clock.now += 1;
    await states.record("a", forbidden);
    expect(writes).toHaveLength(2);
    // And the new record is remembered for a bound again.
    await states.record("a", forbidden);
    expect(writes).toHaveLength(2);
  });

  it("bounds rate limits the same way, and still writes a later end at once", async () => {
    const { states, clock, writes } = recorder(30_000);
    const limited = (until: number): AccountStateVerdict => ({ kind: "rate_limited", until, reason: "429" });
    const end = clock.now + 3_600_000;
    await states.record("a", limited(end));
    await states.record("a", limited(end));
    expect(writes).toHaveLength(1);
    await states.record("a", limited(end + 5_000));
    expect(writes).toHaveLength(2);
    clock.now += 30_000;
    await states.record("a", limited(end));
    expect(writes).toHaveLength(3);
  });

  it("forgets an account's states after a reset through this process", async () => {
    const { states, writes } = recorder();
    await states.record("a", forbidden);
    states.forget("a");
    await states.record("a", forbidden);
    expect(writes).toHaveLength(2);
  });

  it("logs a failed write and lets the next record try again", async () => {
    const warned: unknown[] = [];
    let fail = true;
    const writes: string[] = [];
    const states = new AccountStateRecorder({
      logger: { ...logger, warn: (fields: unknown) => void warned.push(fields) },
      write: (accountId) => {
        writes.push(accountId);
        return fail ? Promise.reject(new Error("database down")) : Promise.resolve(null);
      },
      push: () => Promise.resolve(),
    });
    await states.record("a", forbidden);
    expect(warned).toHaveLength(1);
    fail = false;
    await states.record("a", forbidden);
    expect(writes).toEqual(["a", "a"]);
    expect(warned).toHaveLength(1);
  });
});
