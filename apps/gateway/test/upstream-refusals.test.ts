import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  claudeReply,
  deferred,
  geminiReply,
  jsonFixture,
  openaiChatReply,
  startTestGateway,
  type TestGateway,
} from "./harness";

type Platform = "claude" | "openai" | "gemini";

/** How a client of each platform's own dialect asks, and where the gateway sends it upstream. */
const calls: Record<Platform, { path: string; upstreamPath: string; headers(key: string): Record<string, string>; body: unknown }> = {
  claude: {
    path: "/v1/messages",
    upstreamPath: "/v1/messages",
    headers: (key) => ({ "x-api-key": key, "anthropic-version": "2023-06-01" }),
    body: { model: "claude-opus-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] },
  },
  openai: {
    path: "/v1/chat/completions",
    upstreamPath: "/v1/chat/completions",
    headers: (key) => ({ authorization: `Bearer ${key}` }),
    body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
  },
  gemini: {
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    upstreamPath: "/v1beta/models/gemini-2.5-flash:generateContent",
    headers: (key) => ({ "x-goog-api-key": key }),
    body: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
  },
};

const replies = { claude: claudeReply, openai: openaiChatReply, gemini: geminiReply };

/** Per platform: a 403 about the request (the account serves on) and one that names the account (it is marked). */
const refusals: Array<{ platform: Platform; requestBound: string; accountLevel: string }> = [
  { platform: "claude", requestBound: "error-permission-resource.json", accountLevel: "error-403-organization-disabled.json" },
  { platform: "openai", requestBound: "errors/project-model-access.json", accountLevel: "errors/account-deactivated.json" },
  { platform: "gemini", requestBound: "error-403-file-permission.json", accountLevel: "error-403-key-suspended.json" },
];

/**
 * What upstream refusals do to the account and to what the client sees, on the embedded gateway against a
 * fake upstream on 127.0.0.1. Each test seeds its own accounts, each with its own base URL (`/<prefix>`).
 */
describe("upstream refusals (embedded)", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway();
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const accountStatus = async (id: string) => {
    const listed = await harness.admin<{ data: Array<{ id: string; status: string }> }>("GET", "/admin/accounts");
    return listed.body.data.find((account) => account.id === id)?.status;
  };
  /** Resolves once the gateway pushed a snapshot of `accountId` matching `predicate` to the scheduler cache. */
  const snapshotPushed = (accountId: string, predicate: (snapshot: AccountSnapshot) => boolean) => {
    const pushed = deferred<AccountSnapshot>();
    const scheduler = harness.gateway.scheduler;
    const original = scheduler.setAccount.bind(scheduler);
    const spy = vi.spyOn(scheduler, "setAccount").mockImplementation(async (snapshot) => {
      await original(snapshot);
      if (snapshot.id === accountId && predicate(snapshot)) pushed.resolve(snapshot);
    });
    return pushed.promise.finally(() => spy.mockRestore());
  };
  const ask = async (platform: Platform, key: string) => {
    const call = calls[platform];
    const response = await fetch(`${harness.url}${call.path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...call.headers(key) },
      body: JSON.stringify(call.body),
    });
    return { status: response.status, text: await response.text() };
  };

  it.each(refusals)(
    "$platform: a request-bound 403 reaches the client and leaves the account schedulable; an account-level 403 marks it",
    async ({ platform, requestBound, accountLevel }) => {
      const seeded = await harness.seed({
        platform,
        accounts: [
          { type: "apikey", priority: 1, credentials: { apiKey: `key-${platform}-refusing-a` }, baseUrl: base(`${platform}-403-a`) },
          { type: "apikey", priority: 2, credentials: { apiKey: `key-${platform}-spare-b` }, baseUrl: base(`${platform}-403-b`) },
        ],
      });
      const [a] = seeded.accountIds as [string, string];
      const pathA = `/${platform}-403-a${calls[platform].upstreamPath}`;
      const pathB = `/${platform}-403-b${calls[platform].upstreamPath}`;
      const requestBoundBody = jsonFixture(platform, requestBound);
      harness.upstream
        .enqueue("POST", pathA, { status: 403, json: requestBoundBody })
        .on("POST", pathA, { status: 403, json: jsonFixture(platform, accountLevel) })
        .on("POST", pathB, replies[platform]);

      const first = await ask(platform, seeded.key);
      expect(first.status).toBe(403);
      expect(JSON.parse(first.text)).toEqual(requestBoundBody);
      expect(harness.upstream.requestsTo(pathB)).toHaveLength(0);
      expect(await accountStatus(a)).toBe("active");

      // Still schedulable: the next request goes to A first, which now refuses the account itself.
      const marked = snapshotPushed(a, (snapshot) => snapshot.status === "error");
      const second = await ask(platform, seeded.key);
      expect(second.status).toBe(200);
      expect(harness.upstream.requestsTo(pathA)).toHaveLength(2);
      expect(harness.upstream.requestsTo(pathB)).toHaveLength(1);
      await marked;
      expect(await accountStatus(a)).toBe("error");
    },
  );
});
