import type { Database } from "@subrelay/db";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import { MemorySchedulerCache } from "@subrelay/scheduler-cache";
import { MemoryTokenStore, TokenManager } from "@subrelay/token-cache";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { refreshCooldownReasonPrefix } from "./refresh-cooldown-reason";
import { ProactiveRefresher, type ProactiveRefresherOptions } from "./proactive-refresher";
import { createProviders } from "@subrelay/runtime";
import { deferred, postgresDatabase, refreshTokenOf, serveTokens, testConfig, tokenPath, truncateAll } from "./testing/worker-fixture";
import { WorkerMetrics } from "./worker-metrics";

const minute = 60_000;

describe("ProactiveRefresher", () => {
  let upstream: FakeUpstream;
  let database: Database;
  let dispose: () => Promise<void>;
  let store: MemoryTokenStore;
  let tokens: TokenManager;
  let scheduler: MemorySchedulerCache;
  let delays: number[];
  let groupId: number;
  const now = Date.now();

  beforeAll(async () => {
    ({ database, dispose } = await postgresDatabase());
  });
  afterAll(async () => {
    await dispose();
  });

  beforeEach(async () => {
    upstream = await FakeUpstream.start();
    await truncateAll(database);
    store = new MemoryTokenStore();
    const providers = createProviders(testConfig(upstream.url));
    tokens = new TokenManager({
      accounts: database.accounts,
      refreshers: Object.fromEntries(providers.all().map((provider) => [provider.platform, provider.refresher])),
      store,
    });
    scheduler = new MemorySchedulerCache();
    delays = [];
    groupId = (await database.groups.create({ name: "g", platform: "claude" })).id;
  });

  afterEach(async () => {
    await upstream.close();
  });

  function refresher(overrides: Partial<ProactiveRefresherOptions> = {}): ProactiveRefresher {
    return new ProactiveRefresher({
      accounts: database.accounts,
      tokens,
      scheduler,
      clearCooldown: (id) => database.accounts.clearTempUnschedulable(id, refreshCooldownReasonPrefix),
      windowMs: 30 * minute,
      random: () => 0.5,
      sleep: async (ms) => {
        delays.push(ms);
      },
      ...overrides,
    });
  }

  async function account(name: string, expiresInMs: number, platform = "claude"): Promise<string> {
    const created = await database.accounts.create({
      name,
      platform,
      type: "oauth",
      groupIds: platform === "claude" ? [groupId] : [],
      credentials: { accessToken: `at-${name}`, refreshToken: `rt-${name}`, expiresAt: now + expiresInMs },
    });
    return created.id;
  }

  async function outboxChanges(accountId: string): Promise<unknown[]> {
    const rows = await database.outbox.readAfter(0, 1000);
    return rows.filter((row) => row.accountId === accountId && row.event === "account.state").map((row) => row.payload?.change);
  }

  it("refreshes only the accounts whose token expires within the window, each once", async () => {
    serveTokens(upstream);
    const soon = await account("soon", 5 * minute);
    const inWindow = await account("in-window", 25 * minute);
    const later = await account("later", 2 * 60 * minute);
    await database.accounts.create({ name: "key", platform: "claude", type: "apikey", credentials: { apiKey: "sk-1" } });

    const summary = await refresher().runOnce();

    expect(upstream.requestsTo(tokenPath).map(refreshTokenOf).sort()).toEqual(["rt-in-window", "rt-soon"]);
    expect(summary).toMatchObject({ examined: 2, refreshed: 2, fresh: 0, cooledDown: 0, permanentFailures: 0 });
    const stored = await database.accounts.get(soon);
    expect(stored?.credentials).toMatchObject({ accessToken: "at:rt-soon", refreshToken: "rt-soon+" });
    expect((await database.accounts.get(inWindow))?.credentials.accessToken).toBe("at:rt-in-window");
    expect((await database.accounts.get(later))?.credentials.accessToken).toBe("at-later");

    // The new tokens are valid past the window: a second pass lists nothing and calls nobody.
    const again = await refresher().runOnce();
    expect(again.examined).toBe(0);
    expect(upstream.requestsTo(tokenPath)).toHaveLength(2);
  });

  it("pages through more accounts than one page holds (keyset pagination)", async () => {
    serveTokens(upstream);
    for (let index = 0; index < 7; index++) await account(`a${index}`, minute);
    const summary = await refresher({ pageSize: 3 }).runOnce();
    expect(summary.refreshed).toBe(7);
    expect(new Set(upstream.requestsTo(tokenPath).map(refreshTokenOf)).size).toBe(7);
  });

  it("retries a transient failure with jittered exponential backoff, then cools the account down", async () => {
    upstream.on("POST", tokenPath, { status: 503, json: { error: "unavailable" } });
    const id = await account("flaky", 5 * minute);
    const metrics = new WorkerMetrics();

    const summary = await refresher({ metrics, now: () => now }).runOnce();

    expect(upstream.requestsTo(tokenPath)).toHaveLength(3);
    // 2 s then 4 s; random() = 0.5 puts the ±20 % jitter at its midpoint.
    expect(delays).toEqual([2_000, 4_000]);
    expect(summary.cooledDown).toBe(1);
    const record = await database.accounts.getById(id);
    expect(record).toMatchObject({
      status: "active",
      tempUnschedulableUntil: now + 10 * minute,
      tempUnschedulableReason: "token refresh failing: server",
    });
    expect(await outboxChanges(id)).toEqual(["temp_unschedulable"]);
    expect((await scheduler.getAccount(id))?.tempUnschedulableUntil).toBe(now + 10 * minute);
    const text = await metrics.registry.metrics();
    expect(text).toContain('subrelay_worker_refreshes_total{platform="claude",outcome="retried"} 2');
    expect(text).toContain('subrelay_worker_refreshes_total{platform="claude",outcome="cooled_down"} 1');
  });

  it("logs each account's refresh with its account id, platform and outcome, never a token", async () => {
    serveTokens(upstream);
    const refreshed = await account("logged", 5 * minute);
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const at = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
    const logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };

    await refresher({ logger }).runOnce();
    upstream.on("POST", tokenPath, { status: 503, json: { error: "unavailable" } });
    const failing = await account("logged-failing", 5 * minute);
    await refresher({ logger }).runOnce();

    const outcomes = lines.filter((line) => line.fields.outcome !== undefined);
    expect(outcomes).toEqual([
      { level: "info", fields: { platform: "claude", accountId: refreshed, outcome: "refreshed" }, message: "proactive token refresh" },
      {
        level: "warn",
        fields: expect.objectContaining({ platform: "claude", accountId: failing, outcome: "cooled_down", code: "server" }) as unknown,
        message: "token refresh keeps failing; account cooling down",
      },
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/rt-logged|at:rt/);
  });

  it("jitters the backoff and caps it at 30 s", async () => {
    upstream.on("POST", tokenPath, { status: 500, json: {} });
    await account("flaky", minute);
    const randoms = [0, 0.999, 0.5, 0.5, 0.5];
    await refresher({ maxAttempts: 6, random: () => randoms.shift() ?? 0.5 }).runOnce();
    expect(upstream.requestsTo(tokenPath)).toHaveLength(6);
    expect(delays).toEqual([1_600, 4_798, 8_000, 16_000, 30_000]);
  });

  it("a permanent failure puts the account in error, writes an outbox row and invalidates its cached token", async () => {
    upstream.on("POST", tokenPath, { status: 400, json: { error: "invalid_grant", error_description: "Refresh token revoked" } });
    const id = await account("revoked", 5 * minute);
    // A still-valid token in the shared cache, as a gateway would have left it.
    await store.setTokenIfNewer(`claude:account:${id}`, { accessToken: "at-revoked", expiresAt: now + 5 * minute, tokenVersion: 0 }, 60_000);

    const summary = await refresher().runOnce();

    expect(summary.permanentFailures).toBe(1);
    expect(upstream.requestsTo(tokenPath)).toHaveLength(1);
    expect(delays).toEqual([]);
    const record = await database.accounts.getById(id);
    expect(record?.status).toBe("error");
    expect(record?.errorMessage).toContain("invalid_grant");
    expect(record?.errorMessage).not.toContain("rt-revoked");
    expect(await outboxChanges(id)).toEqual(["error"]);
    expect((await store.getToken(`claude:account:${id}`)).state).toBe("invalidated");
    expect((await scheduler.getAccount(id))?.status).toBe("error");
    // An errored account is no longer listed: the next pass leaves it alone.
    expect((await refresher().runOnce()).examined).toBe(0);
  });

  it("a success clears the cool-down the refresher set, but not one set for another reason", async () => {
    serveTokens(upstream);
    const cooled = await account("cooled", minute);
    const otherReason = await account("other", minute);
    await database.accounts.markTempUnschedulable(cooled, now + 10 * minute, "token refresh failing: server");
    await database.accounts.markTempUnschedulable(otherReason, now + 10 * minute, "upstream said 403");

    await refresher().runOnce();

    expect(await database.accounts.getById(cooled)).toMatchObject({ tempUnschedulableUntil: null, tempUnschedulableReason: null });
    expect(await database.accounts.getById(otherReason)).toMatchObject({ tempUnschedulableReason: "upstream said 403" });
    expect(await outboxChanges(cooled)).toEqual(["temp_unschedulable", "reset"]);
    expect(await outboxChanges(otherReason)).toEqual(["temp_unschedulable"]);
    const pushed = await scheduler.getAccount(cooled);
    expect(pushed).not.toBeNull();
    expect(pushed?.tempUnschedulableUntil).toBeUndefined();
  });

  it("runs at most `concurrency` refreshes at once per platform", async () => {
    const release = deferred();
    let inFlight = 0;
    let maxInFlight = 0;
    const arrived: string[] = [];
    const allArrived = deferred();
    upstream.on("POST", tokenPath, async (request) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      arrived.push(refreshTokenOf(request));
      if (arrived.length === 2) allArrived.resolve();
      await release.promise;
      inFlight--;
      return { json: { access_token: "new", refresh_token: "new-rt", expires_in: 3600 } };
    });
    for (let index = 0; index < 5; index++) await account(`c${index}`, minute);

    const pass = refresher({ concurrency: 2, ratePerSecond: 1000 }).runOnce();
    await allArrived.promise;
    expect(inFlight).toBe(2);
    release.resolve();
    const summary = await pass;
    expect(summary.refreshed).toBe(5);
    expect(maxInFlight).toBe(2);
  });

  it("paces refresh starts by the per-platform rate limit", async () => {
    serveTokens(upstream);
    for (let index = 0; index < 4; index++) await account(`r${index}`, minute);
    await refresher({ ratePerSecond: 2, now: () => now }).runOnce();
    // A burst of 2, then one token every 500 ms (the clock stands still, so the waits add up).
    expect(delays).toEqual([500, 1_000]);
    expect(upstream.requestsTo(tokenPath)).toHaveLength(4);
  });

  it("stop() ends the loop during a backoff without cooling the account down", async () => {
    upstream.on("POST", tokenPath, { status: 503, json: {} });
    const id = await account("stopping", minute);
    const inBackoff = deferred();
    const loop = refresher({
      sleep: (ms, signal) => {
        delays.push(ms);
        inBackoff.resolve();
        return new Promise((_resolve, reject) => {
          if (signal?.aborted) reject(signal.reason as Error);
          signal?.addEventListener("abort", () => reject(signal.reason as Error));
        });
      },
    });
    loop.start();
    await inBackoff.promise;
    await loop.stop();
    expect(upstream.requestsTo(tokenPath)).toHaveLength(1);
    expect((await database.accounts.getById(id))?.tempUnschedulableUntil).toBeNull();
  });
});
