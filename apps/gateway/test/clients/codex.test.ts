import { mkdirSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { codexReply, openaiResponsesReply, startTestGateway, TokenEndpoint, type Seeded, type TestGateway } from "../harness";
import { runClient, scratchDir, type ClientRun } from "./run-client";

const hour = 3_600_000;

/**
 * Codex's telemetry and update checks off. `--strict-config` (on every run below) makes Codex refuse a key
 * it does not know, so these stay real settings of the pinned version.
 */
const quietKeys = "check_for_update_on_startup = false\n";
const quietTables = `[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
`;

/** A request the gateway answered, as its HTTP server saw it (the fake upstream never sees these). */
interface Answered {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  upgrade: string | undefined;
  status: number;
  body: string;
}

/**
 * Codex CLI 0.171.0 (`@openai/codex`, a pinned dev dependency) run for real against a gateway on the embedded
 * default, backed by the fake upstream: with a custom provider (`model_providers.subrelay`) and with the built-in
 * provider and `openai_base_url`, over a ChatGPT (Codex OAuth) account and an OpenAI API-key account, and a turn
 * with one tool call whose output Codex sends back. Each group's account has its own base URL, so the fake tells
 * the tests apart.
 */
describe("Codex CLI through the gateway (embedded)", () => {
  let harness: TestGateway;
  let chatgpt: Seeded;
  let apiKeys: Seeded;
  let tools: Seeded;
  const answered: Answered[] = [];

  beforeAll(async () => {
    harness = await startTestGateway();
    new TokenEndpoint().install(harness.upstream);
    const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
    const oauth = (prefix: string) => ({
      type: "oauth" as const,
      credentials: { accessToken: "codex-access", refreshToken: "codex-refresh", expiresAt: Date.now() + hour, accountId: "chatgpt-1" },
      baseUrl: base(prefix),
    });
    chatgpt = await harness.seed({ platform: "openai", accounts: [oauth("cx-chatgpt")] });
    apiKeys = await harness.seed({ platform: "openai", accounts: [{ type: "apikey", credentials: { apiKey: "sk-openai-codex" }, baseUrl: base("cx-openai") }] });
    tools = await harness.seed({ platform: "openai", accounts: [oauth("cx-tools")] });
    harness.upstream
      .on("POST", "/cx-chatgpt/responses", (request) => ({ ...codexReply(request), headers: { "content-type": "text/event-stream" } }))
      .on("POST", "/cx-openai/v1/responses", openaiResponsesReply)
      .on("POST", "/cx-tools/responses", toolTurnReply);
    // Watches the gateway's own listener: what Codex sent it (bodies included) and what it answered.
    harness.gateway.app.server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      if (request.url?.startsWith("/admin")) return;
      // A listener of its own would put the body stream in flowing mode before the gateway reads it: only watch.
      const chunks: Buffer[] = [];
      const emit = request.emit.bind(request) as (event: string | symbol, ...args: unknown[]) => boolean;
      request.emit = ((event: string | symbol, ...args: unknown[]) => {
        if (event === "data") chunks.push(Buffer.from(args[0] as Buffer));
        return emit(event, ...args);
      }) as typeof request.emit;
      response.on("finish", () =>
        answered.push({
          method: request.method ?? "",
          url: request.url ?? "",
          headers: request.headers,
          upgrade: request.headers.upgrade,
          status: response.statusCode,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
  });
  afterAll(async () => harness?.close());

  it("codex exec with a custom provider (env_key, wire_api responses) answers from a ChatGPT account; the body and session headers reach it unchanged", async () => {
    const run = await codexExec(customProvider(), ["Say hi"], { SUBRELAY_KEY: chatgpt.key });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("I'll run the tests — all green.");

    const session = sessionIdOf(run);
    const [sent] = harness.upstream.requestsTo("/cx-chatgpt/responses");
    expect(sent).toBeDefined();
    expect({
      session: sent!.headers["session-id"],
      thread: sent!.headers["thread-id"],
      requestId: sent!.headers["x-client-request-id"],
      originator: sent!.headers.originator,
      authorization: sent!.headers.authorization,
    }).toEqual({ session, thread: session, requestId: session, originator: "codex_exec", authorization: "Bearer codex-access" });
    // Codex's per-turn headers for the backend it was built for (its window, beta features, turn metadata) reach it as sent.
    const codexHeaders = Object.keys(answeredFor("/v1/responses", sent!).headers).filter((name) => name.startsWith("x-codex-"));
    expect(codexHeaders).toEqual(expect.arrayContaining(["x-codex-window-id", "x-codex-turn-metadata", "x-codex-beta-features"]));
    for (const name of codexHeaders) expect(sent!.headers[name], name).toBe(answeredFor("/v1/responses", sent!).headers[name]);
    // Codex already asks for `stream: true, store: false`, the two fields the Codex backend needs: the body is Codex's.
    const client = bodyCodexSent("/v1/responses", sent!);
    expect(sent!.json()).toEqual({ ...client, stream: true, store: false });
    expect(client).toMatchObject({ stream: true, store: false, prompt_cache_key: session });
    expect(JSON.stringify(client.input)).toContain("Say hi");
  });

  it.each([
    ["CODEX_API_KEY", false],
    ["the key piped to codex login --with-api-key", true],
  ] as const)(
    "codex exec with the built-in provider and openai_base_url (%s) falls back from the WebSocket probe to HTTP and answers from an API-key account",
    async (_how, login) => {
      const home = codexHome(`model = "gpt-5"\nopenai_base_url = "${harness.url}/v1"\n`);
      try {
        if (login) {
          // What the README tells a user to do (`printenv OPENAI_API_KEY | codex login --with-api-key`): Codex 0.171.0 reads no OPENAI_API_KEY by itself.
          const stored = await runClient("codex", ["login", "--with-api-key"], { home: home.path, input: apiKeys.key, killAfterMs: 20_000 });
          expect(stored.code, stored.stderr).toBe(0);
        }
        const before = answered.length;
        const requestsBefore = harness.upstream.requestsTo("/cx-openai/v1/responses").length;
        const run = await codexExec(home, ["Say hi"], login ? {} : { CODEX_API_KEY: apiKeys.key });
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout.trim()).toBe("Voilà : 2 + 2 = 4 ✅");

        const calls = answered.slice(before).map(({ method, url, upgrade, status }) => ({ method, url, upgrade, status }));
        expect(calls).toEqual([
          { method: "GET", url: "/v1/responses", upgrade: "websocket", status: 426 },
          { method: "POST", url: "/v1/responses", upgrade: undefined, status: 200 },
        ]);
        const sent = harness.upstream.requestsTo("/cx-openai/v1/responses").slice(requestsBefore);
        expect(sent).toHaveLength(1);
        expect(sent[0]!.headers.authorization).toBe("Bearer sk-openai-codex");
        expect(sent[0]!.headers["x-client-request-id"]).toBe(sessionIdOf(run));
        // An API-key account gets the client's body as is.
        expect(sent[0]!.json()).toEqual(bodyCodexSent("/v1/responses", sent[0]!));
      } finally {
        home.remove();
      }
    },
  );

  it("a streamed turn with one tool call: Codex runs the command, sends its output back, and prints the final answer", async () => {
    const run = await codexExec(customProvider(), ["--dangerously-bypass-approvals-and-sandbox", "Run echo"], { SUBRELAY_KEY: tools.key });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(finalAnswer);

    const sent = harness.upstream.requestsTo("/cx-tools/responses");
    expect(sent).toHaveLength(2);
    const output = inputItems(sent[1]!).find((item) => item.type === "function_call_output");
    expect(output).toMatchObject({ call_id: toolCallId });
    expect(JSON.stringify(output)).toContain(echoed);
    // The call itself goes back with its output, as Codex keeps it.
    expect(inputItems(sent[1]!).find((item) => item.type === "function_call")).toMatchObject({ call_id: toolCallId, name: "exec_command" });
    const session = sessionIdOf(run);
    for (const request of sent) {
      expect(request.headers["session-id"]).toBe(session);
      expect(request.headers["thread-id"]).toBe(session);
      expect(request.headers.originator).toBe("codex_exec");
    }
  });

  it("runClient's safety net ends a Codex that hangs (the npm wrapper and the native binary under it)", async () => {
    harness.upstream.on("POST", "/cx-hang/v1/responses", { hang: true });
    const home = codexHome(`model = "gpt-5"
model_provider = "hang"

[model_providers.hang]
name = "hang"
base_url = "${harness.upstream.url}/cx-hang/v1"
env_key = "SUBRELAY_KEY"
wire_api = "responses"
`);
    const hung = harness.upstream.waitForRequests(1, "/cx-hang/v1/responses");
    const run = codexExec(home, ["Say hi"], { SUBRELAY_KEY: "unused" }, 1_500);
    await hung;
    expect((await run).signal).toBe("SIGKILL");
  });

  function customProvider() {
    return codexHome(`model = "gpt-5"
model_provider = "subrelay"

[model_providers.subrelay]
name = "subrelay"
base_url = "${harness.url}/v1"
env_key = "SUBRELAY_KEY"
wire_api = "responses"
`);
  }

  /** Runs `codex exec` in `home` (removed afterwards) with the quiet settings and no git repository. */
  async function codexExec(home: { path: string; remove(): void }, args: string[], env: Record<string, string>, killAfterMs = 20_000): Promise<ClientRun> {
    try {
      return await runClient("codex", ["exec", "--strict-config", "--skip-git-repo-check", "--color", "never", ...args], {
        home: home.path,
        env,
        killAfterMs,
      });
    } finally {
      home.remove();
    }
  }

  /** The body Codex posted to the gateway for the request the upstream got as `sent`. */
  function bodyCodexSent(url: string, sent: RecordedRequest): Record<string, unknown> {
    return JSON.parse(answeredFor(url, sent).body) as Record<string, unknown>;
  }

  /** The request Codex posted to the gateway that became `sent` upstream (same `prompt_cache_key`, Codex's session). */
  function answeredFor(url: string, sent: RecordedRequest): Answered {
    const key = sent.json<{ prompt_cache_key?: unknown }>().prompt_cache_key;
    const match = answered.find(
      (call) => call.method === "POST" && call.url === url && (JSON.parse(call.body) as { prompt_cache_key?: unknown }).prompt_cache_key === key,
    );
    if (!match) throw new Error(`no request posted to ${url} matches the upstream's`);
    return match;
  }
});

/** A HOME holding `.codex/config.toml`: `settings` amid the quiet ones (root keys first, tables last). */
function codexHome(settings: string): { path: string; remove(): void } {
  const home = scratchDir("codex-home");
  mkdirSync(join(home.path, ".codex"));
  writeFileSync(join(home.path, ".codex", "config.toml"), `${quietKeys}${settings}\n${quietTables}`);
  return home;
}

/** The session id Codex prints in its header (stderr); it also sends it as `session-id`, `thread-id`, `x-client-request-id`. */
function sessionIdOf(run: ClientRun): string {
  const id = /^session id: (\S+)$/m.exec(run.stderr)?.[1];
  if (!id) throw new Error(`no session id in Codex's output:\n${run.stderr}`);
  return id;
}

function inputItems(request: RecordedRequest): Array<Record<string, unknown>> {
  return request.json<{ input: Array<Record<string, unknown>> }>().input;
}

const toolCallId = "call_subrelay_echo_1";
/** What `echo hi-$((6 * 7))` prints: only a shell that ran the command writes it (the command line itself does not hold it). */
const echoed = "hi-42";
const finalAnswer = `The command printed ${echoed}.`;

/**
 * The Codex backend's side of a tool turn: a streamed `exec_command` call first, then, once the request carries
 * the call's output, a streamed final answer.
 */
function toolTurnReply(request: RecordedRequest) {
  const hasOutput = inputItems(request).some((item) => item.type === "function_call_output" && item.call_id === toolCallId);
  const id = hasOutput ? "resp_tool_final" : "resp_tool_call";
  const item = hasOutput
    ? { id: "msg_tool_final", type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: finalAnswer, annotations: [] }] }
    : { id: "fc_tool_call", type: "function_call", status: "completed", call_id: toolCallId, name: "exec_command", arguments: JSON.stringify({ cmd: "echo hi-$((6 * 7))" }) };
  const response = (status: string, output: unknown[]) => ({ id, object: "response", created_at: 1763731300, status, model: "gpt-5", output });
  const usage = { input_tokens: 100, input_tokens_details: { cached_tokens: 0 }, output_tokens: 10, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 110 };
  const events: Array<[string, Record<string, unknown>]> = [
    ["response.created", { response: response("in_progress", []) }],
    ["response.output_item.added", { output_index: 0, item: hasOutput ? { ...item, status: "in_progress", content: [] } : { ...item, status: "in_progress", arguments: "" } }],
    hasOutput
      ? ["response.output_text.delta", { item_id: item.id, output_index: 0, content_index: 0, delta: finalAnswer }]
      : ["response.function_call_arguments.delta", { item_id: item.id, output_index: 0, delta: (item as { arguments: string }).arguments }],
    ["response.output_item.done", { output_index: 0, item }],
    ["response.completed", { response: { ...response("completed", [item]), usage } }],
  ];
  return {
    headers: { "content-type": "text/event-stream" },
    sse: events.map(([type, data], sequence) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence, ...data })}\n\n`),
  };
}
