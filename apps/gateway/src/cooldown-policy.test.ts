import { describe, expect, it } from "vitest";
import { CooldownPolicy } from "./cooldown-policy";

const now = 1_800_000_000_000;
const hour = 3_600_000;

describe("CooldownPolicy", () => {
  it("caps an upstream reset at now + COOLDOWN_MAX, or the account's own max", () => {
    const policy = new CooldownPolicy({ maxMs: hour });
    const weekly = { kind: "rate_limited", until: now + 5 * 24 * hour, untilFrom: "upstream", reason: "429" } as const;
    expect(policy.adjust(weekly, undefined, now)).toMatchObject({ until: now + hour });
    expect(policy.adjust(weekly, { max: 2 * hour }, now)).toMatchObject({ until: now + 2 * hour });
    // A reset without untilFrom is the upstream's: kept (under the cap), never replaced.
    expect(policy.adjust({ kind: "rate_limited", until: now + 5_000, reason: "429" }, { rateLimit: 1 }, now)).toMatchObject({ until: now + 5_000 });
  });

  it("replaces a provider's fallback by the configured cool-down, the account's first", () => {
    const policy = new CooldownPolicy({ overloadedMs: 45_000, rateLimitMs: 120_000, maxMs: hour });
    const overloaded = { kind: "overloaded", until: now + 60_000, untilFrom: "fallback", reason: "529" } as const;
    expect(policy.adjust(overloaded, undefined, now)).toMatchObject({ until: now + 45_000 });
    expect(policy.adjust(overloaded, { overloaded: 10_000 }, now)).toMatchObject({ until: now + 10_000 });
    const limited = { kind: "rate_limited", until: now + 60_000, untilFrom: "fallback", reason: "429" } as const;
    expect(policy.adjust(limited, undefined, now)).toMatchObject({ until: now + 120_000 });
    // Unconfigured: the provider's own fallback stays.
    expect(new CooldownPolicy().adjust(limited, undefined, now)).toMatchObject({ until: now + 60_000 });
    // A cool-down of 0 records nothing.
    const none = policy.adjust(overloaded, { overloaded: 0 }, now);
    expect(policy.state(none, { overloaded: 0 }, now)).toBeNull();
  });

  it("cools a 5xx or a network failure only when configured, as an overload, capped", () => {
    const policy = new CooldownPolicy({ serverErrorMs: 30_000, timeoutMs: 0, maxMs: hour });
    const status = { kind: "server", cause: "status", reason: "500" } as const;
    const network = { kind: "server", cause: "network", reason: "network: ECONNREFUSED" } as const;
    expect(policy.state(status, undefined, now)).toEqual({ kind: "overloaded", until: now + 30_000, untilFrom: "fallback", reason: "500" });
    expect(policy.state(network, undefined, now)).toBeNull();
    expect(policy.state(network, { timeout: 20_000 }, now)).toMatchObject({ until: now + 20_000 });
    expect(policy.state(status, { serverError: 0 }, now)).toBeNull();
    expect(policy.state(status, { serverError: 2 * hour }, now)).toMatchObject({ until: now + hour });
    expect(new CooldownPolicy().state(status, undefined, now)).toBeNull();
    // A malformed snapshot field is ignored, not trusted.
    expect(policy.state(status, { serverError: "soon", max: -1 }, now)).toMatchObject({ until: now + 30_000 });
  });

  it("records forbidden as it is and nothing for client or auth verdicts", () => {
    const policy = new CooldownPolicy();
    expect(policy.state({ kind: "forbidden", reason: "banned" }, undefined, now)).toEqual({ kind: "forbidden", reason: "banned" });
    expect(policy.state({ kind: "client", reason: "400" }, undefined, now)).toBeNull();
    expect(policy.state({ kind: "auth", reason: "401" }, undefined, now)).toBeNull();
  });
});
