import type { UsageRow } from "@subrelay/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { embeddedWorker } from "../src/embedded-worker";
import { claudeReply, deferred, jsonFixture, startTestGateway, type TestGateway } from "./harness";

const MODEL = "claude-sonnet-4-5";

/**
 * What an operator sees and relies on, on the embedded default as `pnpm start` runs it (the refresh worker's
 * loops inside the gateway): health, readiness, metrics, and sticky sessions.
 */
describe("operations on the embedded gateway", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ overrides: { onStart: embeddedWorker } });
  });
  afterAll(async () => harness?.close());

  const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
  const ask = (key: string, headers: Record<string, string> = {}) =>
    fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
      body: JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });

  it("answers /healthz and /readyz (no Redis configured: reported as null, not as a failure)", async () => {
    const health = await fetch(`${harness.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${harness.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { database: true, redis: null } });
  });

  it("exposes request, upstream and account metrics, and the embedded worker's own", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-metrics" }, baseUrl: base("metrics") }],
    });
    harness.upstream.on("POST", "/metrics/v1/messages", claudeReply);
    expect((await ask(seeded.key)).status).toBe(200);

    const text = await (await fetch(`${harness.url}/metrics`)).text();
    expect(text).toMatch(/^subrelay_requests_total\{route="\/v1\/messages",status="200",platform="claude"\} [1-9]/m);
    expect(text).toMatch(/^subrelay_upstream_latency_seconds_count\{platform="claude",outcome="200"\} [1-9]/m);
    expect(text).toMatch(/^subrelay_accounts\{platform="claude",state="active"\} [1-9]/m);
    // The refresh worker's loops run inside this process, and their metrics are served here too.
    expect(text).toMatch(/^# TYPE subrelay_worker_outbox_lag_seconds gauge$/m);
    expect(text).toMatch(/^# TYPE subrelay_worker_refreshes_total counter$/m);
    expect(text).not.toContain("sk-ant-metrics");
  });

  it("accounts for a request that failed on every account, with its status", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-dropped" }, baseUrl: base("dropped") }],
    });
    harness.upstream.on("POST", "/dropped/v1/messages", { drop: true });
    const response = await ask(seeded.key);
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "api_error" } });

    await harness.gateway.usage.flush();
    const byKey = await harness.admin<{ data: Array<{ key: string; requests: number; errors: number }> }>(
      "GET",
      "/admin/usage?groupBy=key",
    );
    expect(byKey.body.data.find((row) => row.key === String(seeded.keyId))).toMatchObject({ requests: 1, errors: 1 });
  });

  it("keeps reading a stream whose client left, so the usage at its end is still counted", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-drain" }, baseUrl: base("drain") }],
    });
    const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    harness.upstream.on("POST", "/drain/v1/messages", {
      headers: { "content-type": "text/event-stream" },
      chunkDelayMs: 100,
      sse: [
        event("message_start", {
          type: "message_start",
          message: { id: "msg_drain", type: "message", role: "assistant", model: MODEL, content: [], usage: { input_tokens: 11, output_tokens: 1 } },
        }),
        event("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
        event("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } }),
        event("content_block_stop", { type: "content_block_stop", index: 0 }),
        event("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 42 } }),
        event("message_stop", { type: "message_stop" }),
      ],
    });
    const recorded = deferred<UsageRow>();
    const usage = harness.gateway.usage;
    const record = usage.record.bind(usage);
    const spy = vi.spyOn(usage, "record").mockImplementation((row) => {
      record(row);
      if (row.accountId === seeded.accountIds[0]) recorded.resolve(row);
    });
    try {
      const client = new AbortController();
      const response = await fetch(`${harness.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": seeded.key, "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] }),
        signal: client.signal,
      });
      const first: { value?: Uint8Array } = await response.body!.getReader().read();
      expect(new TextDecoder().decode(first.value)).toContain("message_start");
      client.abort();

      // Output tokens arrive only in the final message_delta, after the client left.
      expect(await recorded.promise).toMatchObject({ inputTokens: 11, outputTokens: 42, stream: true });
    } finally {
      spy.mockRestore();
    }
  });

  it("keeps a session on its account while it is usable, and moves it when that account is rate limited", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { name: "x", type: "apikey", priority: 10, credentials: { apiKey: "sk-ant-sticky-x" }, baseUrl: base("sticky-x") },
        { name: "y", type: "apikey", priority: 20, credentials: { apiKey: "sk-ant-sticky-y" }, baseUrl: base("sticky-y") },
      ],
    });
    const [x] = seeded.accountIds as [string, string];
    let xLimited = false;
    harness.upstream
      .on("POST", "/sticky-x/v1/messages", (request) =>
        xLimited
          ? { status: 429, headers: { "retry-after": "60" }, json: jsonFixture("claude", "error-rate-limit.json") }
          : claudeReply(request),
      )
      .on("POST", "/sticky-y/v1/messages", claudeReply);
    const served = () => ({
      x: harness.upstream.requestsTo("/sticky-x/v1/messages").length,
      y: harness.upstream.requestsTo("/sticky-y/v1/messages").length,
    });
    const session = { "x-session-id": "conversation-42" };

    // Bound to X, the better account at the time.
    expect((await ask(seeded.key, session)).status).toBe(200);
    expect(served()).toEqual({ x: 1, y: 0 });

    // X becomes the worse choice: sessionless traffic moves to Y, the session stays on X.
    expect((await harness.admin("PATCH", `/admin/accounts/${x}`, { priority: 30 })).status).toBe(200);
    expect((await ask(seeded.key)).status).toBe(200);
    expect(served()).toEqual({ x: 1, y: 1 });
    expect((await ask(seeded.key, session)).status).toBe(200);
    expect(served()).toEqual({ x: 2, y: 1 });

    // X is rate limited: the session fails over to Y and stays there.
    xLimited = true;
    expect((await ask(seeded.key, session)).status).toBe(200);
    expect(served()).toEqual({ x: 3, y: 2 });
    xLimited = false;
    expect((await ask(seeded.key, session)).status).toBe(200);
    expect(served()).toEqual({ x: 3, y: 3 });
  });
});
