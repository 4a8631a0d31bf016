import type { RecordedRequest } from "@subrelay/providers-core/testing";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backends, claudeReply, deferred, jsonFixture, startTestGateway, TokenEndpoint, type TestGateway, schedulerSnapshotPushed } from "./harness";

const MODEL = "claude-opus-4-5";
const hour = 3_600_000;
const HERD = 20;

/**
 * Upstream 401s on an OAuth account, on both backends: a herd of requests that meets a 401 on one
 * token spends one refresh, and an account whose refreshed tokens are refused too is marked, not refreshed
 * on every request. The fake upstream and its token endpoint are real servers on 127.0.0.1.
 */
describe.each(backends)("refresh after an upstream 401 (%s)", (backend) => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const ask = (key: string) =>
    fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
  const unauthorized = { status: 401, json: jsonFixture("claude", "error-authentication.json") } as const;
  const bearer = (request: RecordedRequest) => String(request.headers.authorization ?? "");
  const snapshotPushed = (accountId: string, predicate: (snapshot: AccountSnapshot) => boolean) =>
    schedulerSnapshotPushed(harness.gateway, accountId, predicate);

  it("coalesces the refreshes of concurrent requests that met a 401 on the same token into one", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: "herd-old", refreshToken: "herd-refresh", expiresAt: Date.now() + hour },
          baseUrl: base("herd"),
          concurrency: 100,
        },
      ],
    });
    const tokens = new TokenEndpoint();
    // Every request reaches the upstream with the old token before the first 401, and the first refresh
    // stays open until every request has been refused, so each asks for a refresh while it is in flight.
    const allRefused = deferred();
    tokens.gate = allRefused.promise;
    harness.upstream.on("POST", "/claude/oauth/token", tokens.reply);
    let refused = 0;
    harness.upstream.on("POST", "/herd/v1/messages", async (request) => {
      if (bearer(request) !== "Bearer herd-old") return claudeReply(request);
      await harness.upstream.waitForRequests(HERD, "/herd/v1/messages");
      refused += 1;
      if (refused === HERD) allRefused.resolve();
      return unauthorized;
    });

    const answers = await Promise.all(Array.from({ length: HERD }, () => ask(seeded.key)));

    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: HERD }, () => 200));
    expect(tokens.calls("herd-refresh")).toBe(1);
    const sent = harness.upstream.requestsTo("/herd/v1/messages").map(bearer);
    expect(sent.filter((token) => token === "Bearer herd-old")).toHaveLength(HERD);
    expect(sent.filter((token) => token === "Bearer fresh-herd-refresh-1")).toHaveLength(HERD);
  });

  it("marks the account after its freshly refreshed tokens are refused twice in a row, with a bounded number of refreshes", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: "locked-old", refreshToken: "locked-refresh", expiresAt: Date.now() + hour },
          baseUrl: base("locked"),
          concurrency: 100,
        },
      ],
    });
    const [accountId] = seeded.accountIds as [string];
    const tokens = new TokenEndpoint();
    const allRefused = deferred();
    tokens.gate = allRefused.promise;
    harness.upstream.on("POST", "/claude/oauth/token", tokens.reply);
    let refused = 0;
    harness.upstream.on("POST", "/locked/v1/messages", async () => {
      await harness.upstream.waitForRequests(HERD, "/locked/v1/messages");
      refused += 1;
      if (refused === HERD) allRefused.resolve();
      return unauthorized;
    });
    const marked = snapshotPushed(accountId, (snapshot) => snapshot.status === "error");

    const herd = await Promise.all(Array.from({ length: HERD }, () => ask(seeded.key)));
    expect(herd.every((answer) => answer.status >= 400 && answer.status < 600)).toBe(true);
    // Requests after the herd keep meeting 401s; the account is marked before they can refresh on and on.
    for (let index = 0; index < 5; index++) expect((await ask(seeded.key)).status).toBeGreaterThanOrEqual(400);
    // One refresh after the herd's 401 on the old token, one after the 401 on the refreshed one; then no more.
    expect(tokens.calls("locked-refresh")).toBe(2);

    const stateOf = async () => {
      const listed = await harness.admin<{ data: Array<{ id: string; status: string }> }>("GET", "/admin/accounts");
      return listed.body.data.find((account) => account.id === accountId)?.status;
    };
    await vi.waitFor(async () => expect(await stateOf()).toBe("error"), { timeout: 2_000 });
    await marked;
    expect(tokens.calls("locked-refresh")).toBeLessThanOrEqual(2);
    // Once marked, the account is not tried: no further upstream call and no further refresh.
    const callsWhenMarked = harness.upstream.requestsTo("/locked/v1/messages").length;
    const answer = await ask(seeded.key);
    expect(answer.status).toBe(503);
    expect(harness.upstream.requestsTo("/locked/v1/messages")).toHaveLength(callsWhenMarked);
    expect(tokens.calls("locked-refresh")).toBeLessThanOrEqual(2);
  });
});
