import Anthropic from "@anthropic-ai/sdk";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, claudeReply, jsonFixture, listedAccount, ManualClock, startTestGateway, type TestGateway, schedulerSnapshotPushed } from "./harness";

const MODEL = "claude-opus-4-5";
const hour = 3_600_000;
const day = 24 * hour;

interface AccountRow {
  id: string;
  rateLimitedUntil: number | null;
  overloadedUntil: number | null;
  cooldowns?: Record<string, number> | null;
}

/**
 * Cool-downs per verdict class (issue 15 item 3), on both backends with a hand-moved clock: configured in
 * the environment (here COOLDOWN_SERVER_ERROR=30s, COOLDOWN_TIMEOUT=20s, the default COOLDOWN_MAX of an hour),
 * overridden per account, and every one capped. Each test seeds its own group whose accounts have their own
 * base URL (`/<prefix>`), so the fake upstream tells them apart.
 */
describe.each(backends)("cool-downs (%s)", (backend) => {
  let harness: TestGateway;
  const clock = new ManualClock();

  beforeAll(async () => {
    harness = await startTestGateway({
      backend,
      env: { COOLDOWN_SERVER_ERROR: "30s", COOLDOWN_TIMEOUT: "20s" },
      overrides: { now: clock.now },
    });
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const accountOf = (id: string) => listedAccount<AccountRow>(harness, id);
  const snapshotPushed = (accountId: string, predicate: (snapshot: AccountSnapshot) => boolean) =>
    schedulerSnapshotPushed(harness.gateway, accountId, predicate);

  /** A group of a failing account `a` (priority 1) and a healthy spare `b`, and a client of its key. */
  const seedPair = async (prefix: string) => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { name: "a", type: "apikey", priority: 1, credentials: { apiKey: `sk-ant-${prefix}-a` }, baseUrl: base(`${prefix}-a`) },
        { name: "b", type: "apikey", priority: 2, credentials: { apiKey: `sk-ant-${prefix}-b` }, baseUrl: base(`${prefix}-b`) },
      ],
    });
    harness.upstream.on("POST", `/${prefix}-b/v1/messages`, claudeReply);
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    const ask = () => client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    const [a] = seeded.accountIds as [string, string];
    return { a, ask, toA: () => harness.upstream.requestsTo(`/${prefix}-a/v1/messages`).length };
  };

  it("a Claude 429 with a reset header 5 days out benches the account only for COOLDOWN_MAX", async () => {
    const { a, ask, toA } = await seedPair("cap");
    let limited = true;
    harness.upstream.on("POST", "/cap-a/v1/messages", (request) =>
      limited
        ? {
            status: 429,
            headers: {
              "anthropic-ratelimit-unified-status": "rejected",
              "anthropic-ratelimit-unified-reset": String(Math.floor((clock.now() + 5 * day) / 1000)),
            },
            json: jsonFixture("claude", "error-rate-limit.json"),
          }
        : claudeReply(request),
    );
    const recorded = snapshotPushed(a, (snapshot) => (snapshot.rateLimitedUntil ?? 0) > clock.now());

    await expect(ask()).resolves.toMatchObject({ type: "message" });
    await recorded;
    expect((await accountOf(a)).rateLimitedUntil).toBe(clock.now() + hour);

    // Benched for the hour, then back by itself.
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(toA()).toBe(1);
    limited = false;
    clock.advance(hour + 1);
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(toA()).toBe(2);
  });

  it("COOLDOWN_SERVER_ERROR=30s cools an account after a 500: it gets no request until then", async () => {
    const { a, ask, toA } = await seedPair("c500");
    let failing = true;
    harness.upstream.on("POST", "/c500-a/v1/messages", (request) =>
      failing ? { status: 500, json: jsonFixture("claude", "error-api.json") } : claudeReply(request),
    );
    const recorded = snapshotPushed(a, (snapshot) => (snapshot.overloadedUntil ?? 0) > clock.now());

    await expect(ask()).resolves.toMatchObject({ type: "message" });
    await recorded;
    expect((await accountOf(a)).overloadedUntil).toBe(clock.now() + 30_000);

    failing = false;
    clock.advance(29_000);
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(toA()).toBe(1);
    clock.advance(1_001);
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(toA()).toBe(2);
  });

  it("COOLDOWN_TIMEOUT=20s cools an account whose upstream cannot be reached", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        // Nothing listens on port 1: the connection is refused, no answer at all.
        { name: "a", type: "apikey", priority: 1, credentials: { apiKey: "sk-ant-unreachable-a" }, baseUrl: "http://127.0.0.1:1" },
        { name: "b", type: "apikey", priority: 2, credentials: { apiKey: "sk-ant-unreachable-b" }, baseUrl: base("net-b") },
      ],
    });
    harness.upstream.on("POST", "/net-b/v1/messages", claudeReply);
    const [a] = seeded.accountIds as [string, string];
    const client = new Anthropic({ apiKey: seeded.key, baseURL: harness.url, maxRetries: 0 });
    const recorded = snapshotPushed(a, (snapshot) => (snapshot.overloadedUntil ?? 0) > clock.now());

    await expect(client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] })).resolves.toMatchObject({
      type: "message",
    });
    await recorded;
    expect((await accountOf(a)).overloadedUntil).toBe(clock.now() + 20_000);
  });

  it("an account's own cooldowns beat the environment's", async () => {
    const { a, ask, toA } = await seedPair("own");
    const patched = await harness.admin<AccountRow>("PATCH", `/admin/accounts/${a}`, { cooldowns: { serverError: 5_000, max: 2 * hour } });
    expect(patched.status).toBe(200);
    expect(patched.body.cooldowns).toEqual({ serverError: 5_000, max: 2 * hour });
    expect((await accountOf(a)).cooldowns).toEqual({ serverError: 5_000, max: 2 * hour });
    let failing = true;
    harness.upstream.on("POST", "/own-a/v1/messages", (request) =>
      failing ? { status: 500, json: jsonFixture("claude", "error-api.json") } : claudeReply(request),
    );
    const recorded = snapshotPushed(a, (snapshot) => (snapshot.overloadedUntil ?? 0) > clock.now());

    await expect(ask()).resolves.toMatchObject({ type: "message" });
    await recorded;
    expect((await accountOf(a)).overloadedUntil).toBe(clock.now() + 5_000);

    failing = false;
    clock.advance(5_001);
    await expect(ask()).resolves.toMatchObject({ type: "message" });
    expect(toA()).toBe(2);
  });

  it("the admin API refuses a bad cooldowns value with problems, and null clears them", async () => {
    const { a } = await seedPair("bad");
    const cases: Array<{ cooldowns: unknown; field: string }> = [
      { cooldowns: { serverError: "soon" }, field: "cooldowns.serverError" },
      { cooldowns: { timeout: -1 }, field: "cooldowns.timeout" },
      { cooldowns: { rateLimit: 1.5 }, field: "cooldowns.rateLimit" },
      { cooldowns: { max: 0 }, field: "cooldowns.max" },
      { cooldowns: { overloaded: 366 * day }, field: "cooldowns.overloaded" },
      { cooldowns: { later: 1_000 }, field: "cooldowns.later" },
      { cooldowns: [1_000], field: "cooldowns" },
      { cooldowns: "30s", field: "cooldowns" },
    ];
    for (const { cooldowns, field } of cases) {
      const patched = await harness.admin<{ error: { problems?: Array<{ field: string }> } }>("PATCH", `/admin/accounts/${a}`, { cooldowns });
      expect(patched.status, JSON.stringify(cooldowns)).toBe(400);
      expect(patched.body.error.problems?.map((problem) => problem.field)).toContain(field);
    }
    const created = await harness.admin<{ error: { problems?: Array<{ field: string }> } }>("POST", "/admin/accounts", {
      name: "bad-cooldowns",
      platform: "claude",
      type: "apikey",
      credentials: { apiKey: "sk-ant-bad-cooldowns" },
      groupIds: [1],
      cooldowns: { overloaded: "1m" },
    });
    expect(created.status).toBe(400);
    expect(created.body.error.problems?.map((problem) => problem.field)).toContain("cooldowns.overloaded");

    expect((await harness.admin<AccountRow>("PATCH", `/admin/accounts/${a}`, { cooldowns: { overloaded: 0 } })).body.cooldowns).toEqual({ overloaded: 0 });
    expect((await harness.admin<AccountRow>("PATCH", `/admin/accounts/${a}`, { cooldowns: null })).body.cooldowns).toBeNull();
  });

  it("an account created with cooldowns keeps them", async () => {
    const { groupId } = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-created-first" } }] });
    const created = await harness.admin<AccountRow & { id: string }>("POST", "/admin/accounts", {
      name: "created-with-cooldowns",
      platform: "claude",
      type: "apikey",
      credentials: { apiKey: "sk-ant-created-cooldowns" },
      groupIds: [groupId],
      cooldowns: { serverError: 5_000, max: 2 * hour },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.cooldowns).toEqual({ serverError: 5_000, max: 2 * hour });
    expect((await accountOf(created.body.id)).cooldowns).toEqual({ serverError: 5_000, max: 2 * hour });
  });
});
