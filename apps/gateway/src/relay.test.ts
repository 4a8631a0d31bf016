import {
  ProviderError,
  createProviderRegistry,
  emptyUsage,
  type AccountType,
  type Dialect,
  type Operation,
  type Provider,
  type UpstreamAccount,
  type UpstreamRequest,
  type Verdict,
} from "@subrelay/providers-core";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import type { TokenRefresher } from "@subrelay/token-cache";
import { describe, expect, it } from "vitest";
import type { AccountStateVerdict } from "./account-state-recorder";
import type { ApiKeyGrant } from "./api-key-authenticator";
import { Cancellation } from "./cancellation";
import type { Delivery, DeliverOptions, ResponseSink } from "./client-response";
import { MemoryConcurrencySlots } from "./concurrency-slots";
import { dialectNamed } from "./dialects";
import { GatewayError } from "./gateway-error";
import { MAX_ACCOUNTS, Relay, type RelayCall, type RelayPorts } from "./relay";
import { MemoryStickySessions, sessionKeyOf, type StickySessionKey } from "./sticky-sessions";
import type { AnswerHeaders, UpstreamAnswer, UpstreamBody } from "./upstream-client";
import type { UsageRow } from "./usage-recorder";

const NOW = 1_800_000_000_000;

/** An upstream answer, or a failure to get one. */
type Scripted = { status: number; body?: string; headers?: AnswerHeaders } | Error;

function bodyOf(text: string): UpstreamBody {
  const bytes = Buffer.from(text);
  return {
    async *[Symbol.asyncIterator]() {
      yield bytes;
    },
    text: () => Promise.resolve(text),
    destroy: () => undefined,
  };
}

/**
 * A provider of `platform` that serves `operations`, sends each account's key in `x-key`, and judges a
 * status by `verdicts` (2xx: ok; unlisted: server).
 */
function fakeProvider(
  platform: string,
  dialect: Dialect,
  operations: readonly Operation[],
  verdicts: Record<number, Verdict> = {},
): Provider & { built: string[] } {
  const built: string[] = [];
  return {
    built,
    platform,
    dialect,
    refresher: {} as TokenRefresher,
    supports: (operation: Operation, _type: AccountType) => operations.includes(operation),
    buildRequest: ({ account, accessToken }): UpstreamRequest => {
      const key = (account.credentials as { apiKey?: string }).apiKey ?? accessToken;
      if (key === undefined) throw new ProviderError(`account ${account.id} has no key`, { code: "misconfigured" });
      if (key === "unshapeable") throw new ProviderError("This request cannot be shaped.", { code: "invalid_request" });
      built.push(account.id);
      return { url: `http://${platform}.test/${account.id}`, method: "POST", headers: { "x-key": key }, body: "{}" };
    },
    responseShaper: () => null,
    classify: ({ status }) =>
      verdicts[status] ?? (status < 300 ? { kind: "ok" } : { kind: "server", reason: `status ${status}` }),
    classifyNetworkError: () => ({ kind: "server", reason: "network" }),
    usageTracker: () => ({ push: () => undefined, json: () => undefined, result: () => ({ ...emptyUsage(), inputTokens: 3 }) }),
    models: () => [],
  };
}

interface Seat {
  id: string;
  platform?: string;
  type?: AccountType;
  priority?: number;
  /** Answers in order; the last repeats. */
  answers?: Scripted[];
  key?: string | null;
  snapshot?: Partial<AccountSnapshot>;
}

/** A relay over in-memory ports, with everything it does recorded. */
function relayOver(
  seats: Seat[],
  options: {
    providers?: Provider[];
    grant?: Partial<ApiKeyGrant>;
    sticky?: MemoryStickySessions;
    /** Tokens whose 401 `recordRefusal` answers with "the account needs an operator". */
    refusedForGood?: ReadonlySet<string>;
  } = {},
) {
  const providers = createProviderRegistry(
    options.providers ?? [fakeProvider("claude", "anthropic", ["messages"], {
      429: { kind: "rate_limited", until: NOW + 60_000, reason: "limited" },
      529: { kind: "overloaded", until: NOW + 30_000, reason: "overloaded" },
      403: { kind: "forbidden", reason: "banned" },
      401: { kind: "auth", reason: "expired" },
      400: { kind: "client", reason: "bad request" },
    })],
  );
  const snapshots: AccountSnapshot[] = seats.map((seat) => ({
    id: seat.id,
    platform: seat.platform ?? "claude",
    type: seat.type ?? "apikey",
    priority: seat.priority ?? 0,
    concurrency: 1,
    status: "active",
    schedulable: true,
    ...seat.snapshot,
  }));
  const sent: Array<{ accountId: string; request: UpstreamRequest }> = [];
  const states: Array<{ accountId: string; verdict: AccountStateVerdict }> = [];
  const usage: UsageRow[] = [];
  const failovers: Array<{ platform: string; reason: string }> = [];
  const invalidated: string[] = [];
  /** The access token of every 401 reported, and the accounts whose token an answer accepted. */
  const refusals: (string | undefined)[] = [];
  const accepted: string[] = [];
  /** The access token each invalidation named (the one that got the 401). */
  const failedTokens: (string | undefined)[] = [];
  const tokenVersion = new Map<string, number>();
  const calls = new Map<string, number>();
  const sticky = options.sticky ?? new MemoryStickySessions({ now: () => NOW });
  const leaseIds: string[] = [];
  const slots = new MemoryConcurrencySlots();

  const ports: RelayPorts = {
    providers,
    candidates: { get: () => Promise.resolve(snapshots) },
    accounts: {
      get: (id) => {
        const seat = seats.find((one) => one.id === id);
        if (!seat) return Promise.resolve(null);
        const credentials = seat.type === "oauth" ? { refreshToken: "r" } : seat.key === null ? {} : { apiKey: seat.key ?? `key-${id}` };
        const account: UpstreamAccount = { id, platform: seat.platform ?? "claude", type: seat.type ?? "apikey", credentials } as UpstreamAccount;
        return Promise.resolve(account);
      },
    },
    tokens: {
      get: (account) => Promise.resolve(`token-${account.id}-${tokenVersion.get(account.id) ?? 0}`),
      recordRefusal: (_account, failedToken) => {
        refusals.push(failedToken);
        return failedToken !== undefined && (options.refusedForGood?.has(failedToken) ?? false);
      },
      accepted: (account) => void accepted.push(account.id),
      invalidate: (account, failedToken) => {
        invalidated.push(account.id);
        failedTokens.push(failedToken);
        tokenVersion.set(account.id, (tokenVersion.get(account.id) ?? 0) + 1);
        return Promise.resolve();
      },
    },
    slots: {
      acquire: (candidates, leaseId) => {
        leaseIds.push(leaseId);
        return slots.acquire(candidates, leaseId);
      },
    },
    sticky,
    upstream: {
      send: (request) => {
        const accountId = request.url.split("/").at(-1)!;
        sent.push({ accountId, request });
        const seat = seats.find((one) => one.id === accountId)!;
        const n = calls.get(accountId) ?? 0;
        calls.set(accountId, n + 1);
        const answers = seat.answers ?? [{ status: 200 }];
        const scripted = answers[Math.min(n, answers.length - 1)]!;
        if (scripted instanceof Error) return Promise.reject(scripted);
        const answer: UpstreamAnswer = {
          status: scripted.status,
          headers: { "content-type": "application/json", ...scripted.headers },
          body: bodyOf(scripted.body ?? `{"from":"${accountId}"}`),
        };
        return Promise.resolve(answer);
      },
    },
    states: { record: (accountId, verdict) => void states.push({ accountId, verdict }) },
    lastUsed: { touch: () => undefined },
    usage: { record: (row) => void usage.push(row) },
    events: { failedOver: (platform, reason) => void failovers.push({ platform, reason }) },
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    now: () => NOW,
  };

  const responses: Array<{ status: number; headers: AnswerHeaders; body: string }> = [];
  const errors: GatewayError[] = [];
  const sink: ResponseSink = {
    get started() {
      return responses.length > 0 || errors.length > 0;
    },
    send: (status, headers, body) => void responses.push({ status, headers, body }),
    sendError: (error) => void errors.push(error),
    deliver: async (answer: UpstreamAnswer, deliverOptions: DeliverOptions): Promise<Delivery> => {
      responses.push({ status: answer.status, headers: answer.headers, body: await answer.body.text() });
      deliverOptions.tracker.json({});
      return { status: answer.status, ttfbMs: 1, streamed: false };
    },
  };

  const relay = new Relay(ports);
  const grant: ApiKeyGrant = { apiKeyId: "7", groupId: 1, platform: "claude", mode: "single", ...options.grant };
  const call = (overrides: Partial<RelayCall> & { operation?: Operation } = {}): Promise<unknown> => {
    const operation = overrides.operation ?? "messages";
    const dialect = overrides.dialect ?? dialectNamed("anthropic");
    return relay.handle({
      requestId: "req-1",
      route: "/v1/messages",
      dialect,
      grant,
      request: { operation, model: "m", stream: false, body: {}, headers: {} },
      sessionId: undefined,
      sink,
      clientGone: new Cancellation(),
      startedAt: NOW,
      ...overrides,
    });
  };
  return { call, sent, states, usage, failovers, invalidated, failedTokens, refusals, accepted, responses, errors, sticky, providers, leaseIds };
}

describe("Relay failover loop", () => {
  it("delivers the first healthy account's answer and accounts for it", async () => {
    const relay = relayOver([{ id: "a" }]);
    await relay.call();
    expect(relay.responses).toEqual([expect.objectContaining({ status: 200, body: '{"from":"a"}' })]);
    expect(relay.sent.map((one) => one.request.headers["x-key"])).toEqual(["key-a"]);
    expect(relay.usage).toEqual([expect.objectContaining({ accountId: "a", platform: "claude", status: 200, inputTokens: 3 })]);
    expect(relay.failovers).toEqual([]);
  });

  it.each([
    { status: 429, reason: "rate_limited", recorded: { kind: "rate_limited", until: NOW + 60_000 } },
    { status: 529, reason: "overloaded", recorded: { kind: "overloaded", until: NOW + 30_000 } },
    { status: 403, reason: "forbidden", recorded: { kind: "forbidden" } },
    { status: 401, reason: "forbidden", recorded: { kind: "forbidden", reason: "upstream rejected the API key" } },
    { status: 500, reason: "server", recorded: undefined },
  ])("fails over on $status ($reason) and records the state it means", async ({ status, reason, recorded }) => {
    const relay = relayOver([{ id: "a", priority: 0, answers: [{ status }] }, { id: "b", priority: 1 }]);
    await relay.call();
    expect(relay.sent.map((one) => one.accountId)).toEqual(["a", "b"]);
    expect(relay.responses).toEqual([expect.objectContaining({ status: 200, body: '{"from":"b"}' })]);
    expect(relay.failovers).toEqual([{ platform: "claude", reason }]);
    expect(relay.states).toEqual(recorded ? [{ accountId: "a", verdict: expect.objectContaining(recorded) }] : []);
  });

  it("takes each slot of one request under its own lease id, so undoing one attempt's lease cannot end another's", async () => {
    const relay = relayOver([
      { id: "a", priority: 0, type: "oauth", answers: [{ status: 401 }, { status: 429 }] },
      { id: "b", priority: 1 },
    ]);
    await relay.call();
    expect(relay.sent.map((one) => one.accountId)).toEqual(["a", "a", "b"]);
    expect(relay.leaseIds).toHaveLength(3);
    expect(new Set(relay.leaseIds).size).toBe(3);
    expect(relay.leaseIds.every((id) => id.startsWith("req-1"))).toBe(true);
  });

  it("fails over on a network error with no upstream text", async () => {
    const relay = relayOver([{ id: "a", priority: 0, answers: [new Error("ECONNRESET secret-from-the-wire")] }, { id: "b", priority: 1 }]);
    await relay.call();
    expect(relay.sent.map((one) => one.accountId)).toEqual(["a", "b"]);
    expect(relay.failovers).toEqual([{ platform: "claude", reason: "server" }]);
    expect(relay.responses[0]!.body).toBe('{"from":"b"}');
  });

  it("relays a client error unchanged and does not fail over", async () => {
    const relay = relayOver([{ id: "a", priority: 0, answers: [{ status: 400, body: '{"type":"error"}' }] }, { id: "b", priority: 1 }]);
    await relay.call();
    expect(relay.sent.map((one) => one.accountId)).toEqual(["a"]);
    expect(relay.responses).toEqual([expect.objectContaining({ status: 400, body: '{"type":"error"}' })]);
    expect(relay.usage).toEqual([expect.objectContaining({ accountId: "a", status: 400 })]);
  });

  it("answers account-level refusals with the gateway's own error, and masks the account's key in a client error", async () => {
    const echoed = (status: number) => ({ status, body: '{"type":"error","error":{"message":"refused secret-key-of-a"}}' });
    for (const [status, expected] of [
      [429, { code: "rate_limited", status: 429, retryAfterSeconds: 60 }],
      [529, { code: "overloaded", status: 529, retryAfterSeconds: 30 }],
      [403, { code: "unavailable", status: 503, reason: "no_account_available" }],
      [401, { code: "unavailable", status: 503, reason: "no_account_available" }],
    ] as const) {
      const relay = relayOver([{ id: "a", key: "secret-key-of-a", answers: [echoed(status)] }]);
      await relay.call();
      expect(relay.responses).toEqual([]);
      expect(relay.errors).toEqual([expect.objectContaining(expected)]);
      expect(relay.errors[0]!.message).not.toContain("secret-key-of-a");
    }

    const client = relayOver([{ id: "a", key: "secret-key-of-a", answers: [echoed(400)] }]);
    await client.call();
    expect(client.responses).toEqual([expect.objectContaining({ status: 400, body: '{"type":"error","error":{"message":"refused [redacted]"}}' })]);
  });

  it("retries an OAuth account once with a fresh token after a 401, then fails over", async () => {
    const once = relayOver([{ id: "a", type: "oauth", priority: 0, answers: [{ status: 401 }, { status: 200 }] }, { id: "b", priority: 1 }]);
    await once.call();
    expect(once.sent.map((one) => [one.accountId, one.request.headers["x-key"]])).toEqual([
      ["a", "token-a-0"],
      ["a", "token-a-1"],
    ]);
    expect(once.invalidated).toEqual(["a"]);
    // The invalidation names the token that got the 401, so a late 401 cannot drop a newer token.
    expect(once.failedTokens).toEqual(["token-a-0"]);
    expect(once.responses[0]!.body).toBe('{"from":"a"}');

    const twice = relayOver([{ id: "a", type: "oauth", priority: 0, answers: [{ status: 401 }] }, { id: "b", priority: 1 }]);
    await twice.call();
    expect(twice.sent.map((one) => one.accountId)).toEqual(["a", "a", "b"]);
    expect(twice.invalidated).toEqual(["a"]);
    expect(twice.failovers).toEqual([{ platform: "claude", reason: "auth" }]);
  });

  it("reports every 401 on an OAuth token, and marks the account without another retry when the refusals say so", async () => {
    const marked = relayOver(
      [{ id: "a", type: "oauth", priority: 0, answers: [{ status: 401 }] }, { id: "b", priority: 1 }],
      { refusedForGood: new Set(["token-a-0"]) },
    );
    await marked.call();
    expect(marked.refusals).toEqual(["token-a-0"]);
    expect(marked.invalidated).toEqual([]);
    expect(marked.sent.map((one) => one.accountId)).toEqual(["a", "b"]);
    expect(marked.states).toEqual([{ accountId: "a", verdict: { kind: "forbidden", reason: expect.stringContaining("refused") } }]);
    expect(marked.failovers).toEqual([{ platform: "claude", reason: "forbidden" }]);

    const retried = relayOver([{ id: "a", type: "oauth", priority: 0, answers: [{ status: 401 }, { status: 200 }] }]);
    await retried.call();
    expect(retried.refusals).toEqual(["token-a-0"]);
    expect(retried.accepted).toEqual(["a"]);
    expect(retried.states).toEqual([]);
  });

  it(`tries at most ${MAX_ACCOUNTS} accounts and relays the last refusal`, async () => {
    const seats = Array.from({ length: 6 }, (_, i) => ({ id: `a${i}`, priority: i, answers: [{ status: 500, body: `{"n":${i}}` }] }));
    const relay = relayOver(seats);
    await relay.call();
    expect(relay.sent.map((one) => one.accountId)).toEqual(["a0", "a1", "a2", "a3"]);
    expect(relay.failovers).toHaveLength(MAX_ACCOUNTS - 1);
    expect(relay.responses).toEqual([expect.objectContaining({ status: 500, body: '{"n":3}' })]);
    expect(relay.usage).toEqual([expect.objectContaining({ accountId: null, status: 500 })]);
  });

  it("drops a session's binding when its account refuses, and binds the session to the account that served", async () => {
    const sticky = new MemoryStickySessions({ now: () => NOW });
    const key = sessionKeyOf("1", "claude:anthropic", "conversation-1");
    await sticky.set(key, "b");
    // b is the worse priority: only the binding makes it first.
    const relay = relayOver([{ id: "a", priority: 0 }, { id: "b", priority: 5, answers: [{ status: 429 }] }], { sticky });
    await relay.call({ sessionId: "conversation-1" });
    expect(relay.sent.map((one) => one.accountId)).toEqual(["b", "a"]);
    expect(await sticky.get(key)).toBe("a");

    // Every account refuses: the binding goes, so the session's next request is not pinned to a refusing account.
    const refused = relayOver([{ id: "a", priority: 0, answers: [{ status: 500 }] }, { id: "b", priority: 5, answers: [{ status: 429 }] }], {
      sticky: await boundTo(key, "b"),
    });
    await refused.call({ sessionId: "conversation-1" });
    expect(refused.sent.map((one) => one.accountId)).toEqual(["b", "a"]);
    expect(await refused.sticky.get(key)).toBeNull();

    const kept = relayOver([{ id: "a", priority: 0 }, { id: "b", priority: 5 }], { sticky: await boundTo(key, "b") });
    await kept.call({ sessionId: "conversation-1" });
    expect(kept.sent.map((one) => one.accountId)).toEqual(["b"]);
  });

  it("answers 429 with Retry-After from the earliest comeback when every account is cooling down", async () => {
    const relay = relayOver([
      { id: "a", snapshot: { rateLimitedUntil: NOW + 12_000 } },
      { id: "b", snapshot: { overloadedUntil: NOW + 4_500 } },
      { id: "c", snapshot: { tempUnschedulableUntil: NOW + 30_000, rateLimitedUntil: NOW + 1_000 } },
    ]);
    await relay.call();
    expect(relay.sent).toEqual([]);
    expect(relay.errors).toEqual([expect.objectContaining({ code: "rate_limited", status: 429, retryAfterSeconds: 5 })]);

    const broken = relayOver([{ id: "a", snapshot: { rateLimitedUntil: NOW + 12_000 } }, { id: "b", snapshot: { status: "error" } }]);
    await broken.call();
    expect(broken.errors).toEqual([expect.objectContaining({ code: "unavailable", retryAfterSeconds: undefined })]);
  });

  it("sends a mixed group's request only to accounts whose platform serves it", async () => {
    const claude = fakeProvider("claude", "anthropic", ["messages"]);
    const openai = fakeProvider("openai", "openai", ["chat_completions"]);
    const relay = relayOver(
      [
        { id: "o1", platform: "openai", priority: 0 },
        { id: "c1", platform: "claude", priority: 1, answers: [{ status: 500 }] },
        { id: "o2", platform: "openai", priority: 2 },
        { id: "c2", platform: "claude", priority: 3 },
      ],
      { providers: [claude, openai], grant: { platform: "openai", mode: "mixed" } },
    );
    await relay.call({ operation: "messages" });
    expect(relay.sent.map((one) => one.accountId)).toEqual(["c1", "c2"]);
    expect(openai.built).toEqual([]);
    await relay.call({ operation: "chat_completions", dialect: dialectNamed("openai") });
    expect(relay.sent.map((one) => one.accountId).slice(2)).toEqual(["o1"]);
    expect(relay.sent.every((one) => one.request.url.includes(`${one.accountId.startsWith("c") ? "claude" : "openai"}.test`))).toBe(true);
  });

  it("refuses an operation the group's platform never serves with a 403, and one no account can serve with a 400", async () => {
    const single = relayOver([{ id: "a" }], { grant: { platform: "claude", mode: "single" } });
    await single.call({ operation: "chat_completions", dialect: dialectNamed("openai") });
    expect(single.errors).toEqual([expect.objectContaining({ code: "permission", status: 403 })]);

    const mixed = relayOver([{ id: "a" }], { grant: { platform: "claude", mode: "mixed" } });
    await mixed.call({ operation: "chat_completions", dialect: dialectNamed("openai") });
    expect(mixed.errors).toEqual([expect.objectContaining({ code: "invalid_request", status: 400 })]);
    expect(single.sent.length + mixed.sent.length).toBe(0);
  });

  it("fails over from a misconfigured account, marks it, and never names it to the client", async () => {
    const relay = relayOver([{ id: "acct-secret-id", key: null, priority: 0 }, { id: "b", priority: 1 }]);
    await relay.call();
    expect(relay.sent.map((one) => one.accountId)).toEqual(["b"]);
    expect(relay.states).toEqual([
      { accountId: "acct-secret-id", verdict: expect.objectContaining({ kind: "forbidden", reason: expect.stringContaining("misconfigured") }) },
    ]);
    expect(relay.failovers).toEqual([{ platform: "claude", reason: "misconfigured" }]);

    const alone = relayOver([{ id: "acct-secret-id", key: null }]);
    await alone.call();
    expect(alone.errors).toHaveLength(1);
    expect(alone.errors[0]!.message).not.toContain("acct-secret-id");
    expect(alone.errors[0]!.status).toBe(503);
  });

  it("answers a request the provider cannot shape with a 400 and no failover", async () => {
    const relay = relayOver([{ id: "a", key: "unshapeable", priority: 0 }, { id: "b", priority: 1 }]);
    await relay.call();
    expect(relay.sent).toEqual([]);
    expect(relay.errors).toEqual([expect.objectContaining({ code: "invalid_request", message: "This request cannot be shaped." })]);
  });

  it("gives a client of another dialect the gateway's own error for an upstream refusal, not the upstream's body", async () => {
    // A Claude provider that (say) translated chat completions: its error bodies are Anthropic-shaped.
    const claude = fakeProvider("claude", "anthropic", ["chat_completions"], { 400: { kind: "client", reason: "bad" } });
    const relay = relayOver([{ id: "a", answers: [{ status: 400, body: '{"type":"error","error":{"type":"invalid_request_error"}}' }] }], {
      providers: [claude],
    });
    await relay.call({ operation: "chat_completions", dialect: dialectNamed("openai") });
    expect(relay.responses).toEqual([]);
    expect(relay.errors).toEqual([expect.objectContaining({ code: "invalid_request", status: 400 })]);
    expect(dialectNamed("openai").errorBody(relay.errors[0]!)).toMatchObject({ error: { type: "invalid_request_error" } });
  });
});

async function boundTo(key: StickySessionKey, accountId: string): Promise<MemoryStickySessions> {
  const sticky = new MemoryStickySessions({ now: () => NOW });
  await sticky.set(key, accountId);
  return sticky;
}
