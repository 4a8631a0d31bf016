import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { claudeReply, startTestGateway, type Seeded, type TestGateway } from "../harness";
import { startRecordingProxy, type Exchange, type RecordingProxy } from "./recording-proxy";
import { runClient, type ClientRun } from "./run-client";

const hour = 3_600_000;
const SESSION = "6d0c3e1a-2b4f-4a8e-9c7d-1e2f3a4b5c6d";
/** What the Claude fixture's stream says, as Claude Code prints it. */
const FIXTURE_TEXT = "Grüße aus Zürich — 你好 👋🏽, ça va?";

/**
 * Everything Claude Code would send anywhere but the gateway turned off: telemetry, error reports, the
 * auto-updater and the other non-essential calls (with these a `-p` run resolves no host name at all).
 */
const quiet = {
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_TELEMETRY: "1",
  DISABLE_AUTOUPDATER: "1",
  DISABLE_ERROR_REPORTING: "1",
};

interface MessagesBody {
  model: string;
  stream?: boolean;
  messages: Array<{ role: string; content: unknown }>;
}

/**
 * The real Claude Code (2.1.197, the native binary of the pinned npm package) through a gateway on the
 * embedded default, against the fake upstream. A recording proxy between Claude Code and the gateway shows
 * what Claude Code sent and which status it got; the fake shows what reached the upstream. Each account has
 * its own base URL on the fake, so the fake tells the tests apart.
 */
describe("Claude Code 2.1.197 through the gateway (embedded)", () => {
  let harness: TestGateway;
  let proxy: RecordingProxy;
  let apiKey: Seeded;
  let oauth: Seeded;
  let tools: Seeded;
  let burst: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway();
    proxy = await startRecordingProxy(harness.url);
    const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
    apiKey = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-cc-key" }, baseUrl: base("cc-key") }],
    });
    oauth = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "oauth",
          credentials: {
            accessToken: "cc-oauth-access",
            refreshToken: "cc-oauth-refresh",
            expiresAt: Date.now() + hour,
          },
          baseUrl: base("cc-oauth"),
        },
      ],
    });
    tools = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-cc-tools" }, baseUrl: base("cc-tools") }],
    });
    // The gateway's default account concurrency: /context's burst is wider than that.
    burst = await harness.seed({
      platform: "claude",
      accounts: [
        {
          type: "apikey",
          concurrency: 3,
          credentials: { apiKey: "sk-ant-cc-burst" },
          baseUrl: base("cc-burst"),
        },
      ],
    });
    harness.upstream
      .on("POST", "/cc-key/v1/messages", claudeReply)
      .on("POST", "/cc-oauth/v1/messages", claudeReply)
      .on("POST", "/cc-tools/v1/messages", toolTurn)
      // Every count_tokens answer waits until more than the account's 3 slots' worth are in flight at once
      // (or until the gateway refused one, so a regression fails on its 429 instead of hanging).
      .on("POST", "/cc-burst/v1/messages/count_tokens", async () => {
        await Promise.race([
          harness.upstream.waitForRequests(4, "/cc-burst/v1/messages/count_tokens"),
          proxy.waitFor(
            (exchange) => exchange.url.startsWith("/v1/messages/count_tokens") && exchange.status !== 200,
          ),
        ]);
        return { json: { input_tokens: 12 } };
      });
  });
  afterAll(async () => {
    await proxy?.close();
    await harness?.close();
  });

  /** Runs `claude` against the proxy in front of the gateway; returns its run and the exchanges it made. */
  const claude = async (args: string[], credential: Record<string, string>) => {
    const before = proxy.exchanges.length;
    const run = await runClient("claude", args, {
      env: { ANTHROPIC_BASE_URL: proxy.url, ...credential, ...quiet },
      killAfterMs: 20_000,
    });
    return { run, exchanges: proxy.exchanges.slice(before) };
  };

  /** Nothing Claude Code sent was refused or failed (an endpoint it needs and the gateway lacks shows here). */
  const expectAllAnswered = (run: ClientRun, exchanges: Exchange[]) => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    expect(
      exchanges
        .filter((exchange) => exchange.status >= 400)
        .map((exchange) => `${exchange.method} ${exchange.url} ${exchange.status}`),
    ).toEqual([]);
  };

  const messagesOf = (exchanges: Exchange[]) =>
    exchanges.filter((exchange) => exchange.method === "POST" && exchange.url.startsWith("/v1/messages?"));

  it("claude -p with ANTHROPIC_API_KEY prints the upstream's answer; ?beta=true, the session header and the body reach an API-key account", async () => {
    const { run, exchanges } = await claude(
      ["-p", "Say hi", "--session-id", SESSION, "--model", "claude-sonnet-4-5"],
      { ANTHROPIC_API_KEY: apiKey.key },
    );
    expectAllAnswered(run, exchanges);
    expect(run.stdout.trim()).toBe(FIXTURE_TEXT);

    const sent = messagesOf(exchanges);
    const received = harness.upstream.requestsTo("/cc-key/v1/messages");
    expect(sent).toHaveLength(1);
    expect(received).toHaveLength(1);
    const upstream = received[0]!;
    expect(upstream.url).toBe("/cc-key/v1/messages?beta=true");
    expect(upstream.headers["x-claude-code-session-id"]).toBe(SESSION);
    expect(upstream.headers["x-api-key"]).toBe("sk-ant-cc-key");
    // Claude Code's own betas go up as it sent them.
    expect(upstream.headers["anthropic-beta"]).toBe(sent[0]!.headers["anthropic-beta"]);
    const body = upstream.json<MessagesBody>();
    expect(body.model).toBe("claude-sonnet-4-5");
    expect(body.stream).toBe(true);
    expect(JSON.stringify(body.messages)).toContain("Say hi");
    // An API-key account gets the body exactly as Claude Code sent it.
    expect(upstream.body).toBe(sent[0]!.body);
  });

  it("claude -p with ANTHROPIC_AUTH_TOKEN is served by an OAuth account (its bearer token and the OAuth beta beside Claude Code's)", async () => {
    const { run, exchanges } = await claude(["-p", "Say hi", "--session-id", SESSION], {
      ANTHROPIC_AUTH_TOKEN: oauth.key,
    });
    expectAllAnswered(run, exchanges);
    expect(run.stdout.trim()).toBe(FIXTURE_TEXT);

    const sent = messagesOf(exchanges);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.authorization).toBe(`Bearer ${oauth.key}`);
    const upstream = harness.upstream.requestsTo("/cc-oauth/v1/messages").at(-1)!;
    expect(upstream.url).toBe("/cc-oauth/v1/messages?beta=true");
    expect(upstream.headers.authorization).toBe("Bearer cc-oauth-access");
    expect(upstream.headers["x-api-key"]).toBeUndefined();
    expect(upstream.headers["x-claude-code-session-id"]).toBe(SESSION);
    const betas = String(upstream.headers["anthropic-beta"]).split(",");
    expect(betas).toContain("oauth-2025-04-20");
    for (const beta of String(sent[0]!.headers["anthropic-beta"]).split(",")) expect(betas).toContain(beta);
    const sentBody = JSON.parse(sent[0]!.body) as MessagesBody;
    const body = upstream.json<MessagesBody>();
    expect(body.model).toBe(sentBody.model);
    expect(body.messages).toEqual(sentBody.messages);
  });

  it("a streamed turn with a Bash tool call: Claude Code runs the tool, sends its result, prints the final answer", async () => {
    const { run, exchanges } = await claude(
      ["-p", "Print a greeting with echo", "--allowedTools", "Bash(echo:*)"],
      { ANTHROPIC_API_KEY: tools.key },
    );
    expectAllAnswered(run, exchanges);
    expect(run.stdout.trim()).toBe("The tool said hi-from-tool.");

    const sent = messagesOf(exchanges);
    expect(sent).toHaveLength(2);
    for (const exchange of sent)
      expect(exchange.responseHeaders["content-type"]).toContain("text/event-stream");
    const [first, second] = harness.upstream
      .requestsTo("/cc-tools/v1/messages")
      .map((request) => request.json<MessagesBody>());
    expect(first!.stream).toBe(true);
    expect(second!.stream).toBe(true);
    // The tool_use streamed back came through whole, and the tool's real output went up with it.
    expect(second!.messages.at(-2)).toEqual({
      role: "assistant",
      content: [{ type: "tool_use", id: "toolu_cc_1", name: "Bash", input: ECHO_INPUT }],
    });
    expect(second!.messages.at(-1)).toMatchObject({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "toolu_cc_1", content: "hi-from-tool", is_error: false }],
    });
    expect(harness.upstream.requestsTo("/cc-tools/v1/messages").at(-1)!.body).toBe(sent[1]!.body);
  });

  it("claude -p /context: the parallel count_tokens burst all answer 200 with ?beta=true on an account with concurrency 3", async () => {
    const { run, exchanges } = await claude(["-p", "/context"], { ANTHROPIC_API_KEY: burst.key });
    expectAllAnswered(run, exchanges);
    expect(run.stdout).toContain("## Context Usage");

    const counts = exchanges.filter((exchange) => exchange.url.startsWith("/v1/messages/count_tokens"));
    // More than the account's 3 slots: the fake held every answer until 4 were in flight at once.
    expect(counts.length).toBeGreaterThan(3);
    expect(counts.map((exchange) => `${exchange.url} ${exchange.status}`)).toEqual(
      counts.map(() => "/v1/messages/count_tokens?beta=true 200"),
    );
    const received = harness.upstream.requestsTo("/cc-burst/v1/messages/count_tokens");
    expect(received.map((request) => request.url)).toEqual(
      counts.map(() => "/cc-burst/v1/messages/count_tokens?beta=true"),
    );
    // /context only counts: no generation went upstream.
    expect(harness.upstream.requestsTo("/cc-burst/v1/messages")).toEqual([]);
  });
});

const ECHO_INPUT = { command: "echo hi-from-tool", description: "Print a greeting" };

/** One SSE event as the Messages API writes it. */
function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** A streamed message: `blocks` are [content_block_start's block, its deltas]. */
function streamedMessage(
  id: string,
  model: string,
  stopReason: string,
  blocks: Array<[Record<string, unknown>, Array<Record<string, unknown>>]>,
): string[] {
  return [
    event("message_start", {
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 120, output_tokens: 1 },
      },
    }),
    ...blocks.flatMap(([block, deltas], index) => [
      event("content_block_start", { index, content_block: block }),
      ...deltas.map((delta) => event("content_block_delta", { index, delta })),
      event("content_block_stop", { index }),
    ]),
    event("message_delta", {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: 24 },
    }),
    event("message_stop", {}),
  ];
}

/**
 * The tool turn: the first request gets a streamed Bash tool_use (its input split over two deltas, as the API
 * streams it); the request that carries the tool_result gets the final text, quoting the tool's output.
 */
function toolTurn(request: RecordedRequest) {
  const body = request.json<MessagesBody>();
  const last = body.messages.at(-1);
  const result = Array.isArray(last?.content)
    ? (last.content as Array<{ type?: string; content?: unknown }>).find(
        (block) => block.type === "tool_result",
      )
    : undefined;
  if (!result) {
    const input = JSON.stringify(ECHO_INPUT);
    return {
      sse: streamedMessage("msg_cc_tool_1", body.model, "tool_use", [
        [
          { type: "tool_use", id: "toolu_cc_1", name: "Bash", input: {} },
          [
            { type: "input_json_delta", partial_json: input.slice(0, 20) },
            { type: "input_json_delta", partial_json: input.slice(20) },
          ],
        ],
      ]),
    };
  }
  return {
    sse: streamedMessage("msg_cc_tool_2", body.model, "end_turn", [
      [
        { type: "text", text: "" },
        [{ type: "text_delta", text: `The tool said ${String(result.content).trim()}.` }],
      ],
    ]),
  };
}
