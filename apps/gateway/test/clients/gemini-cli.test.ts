import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { codeAssistReply, paths, startTestGateway, type Seeded, type TestGateway } from "../harness";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy";
import { runClient, scratchDir, type ClientRun } from "./run-client";

const hour = 3_600_000;
/** Gemini CLI starts in 2-10 s here; on 2 shared cores under load a run may take much longer. */
const runLimitMs = 180_000;
const testTimeoutMs = runLimitMs + 30_000;

/** A 1×1 PNG. */
const png = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
const notes = "hi from notes\n";

/** The settings a user puts in ~/.gemini/settings.json: the JSON block of the README's Gemini CLI section. */
function readmeSettings(): Record<string, unknown> {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("## Use it with Gemini CLI"));
  const block = /```json\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error("the README's Gemini CLI section has no settings.json block");
  return JSON.parse(block[1]!) as Record<string, unknown>;
}

interface Part {
  text?: string;
  inlineData?: { mimeType: string; data: string };
  functionCall?: { id?: string; name: string; args: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
}
interface GenerateBody {
  contents: Array<{ role: string; parts: Part[] }>;
  systemInstruction?: unknown;
  tools?: unknown;
  generationConfig?: unknown;
}

/** What the user typed: the text parts, without the session context Gemini CLI puts before them. */
function promptOf(body: GenerateBody): string {
  return body.contents
    .filter((content) => content.role === "user")
    .flatMap((content) => content.parts)
    .map((part) => part.text ?? "")
    .filter((text) => !text.startsWith("<session_context>"))
    .join("");
}

const candidate = (parts: Part[]) => ({
  candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
  usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 5, totalTokenCount: 17 },
  modelVersion: "gemini-2.5-flash",
});
const sse = (chunk: unknown) => `data: ${JSON.stringify(chunk)}\n\n`;

/**
 * The fake Gemini API's script: a read_file call when asked to read notes.txt and the final text once its
 * result came back, a description of an attached image, a greeting otherwise.
 */
function geminiScript(request: RecordedRequest) {
  if (request.path.endsWith(":countTokens")) return { json: { totalTokens: 271 } };
  const body = request.json<GenerateBody>();
  const prompt = promptOf(body);
  const last = body.contents.at(-1)!;
  if (last.parts.some((part) => part.functionResponse)) return { sse: [sse(candidate([{ text: "The notes say hi." }]))] };
  if (prompt.includes("Read notes.txt")) {
    return { sse: [sse(candidate([{ functionCall: { name: "read_file", args: { file_path: "notes.txt" } } }]))] };
  }
  if (last.parts.some((part) => part.inlineData)) return { sse: [sse(candidate([{ text: "A single pixel." }]))] };
  return { sse: [sse(candidate([{ text: "Hello" }])), sse(candidate([{ text: " from the fake upstream." }]))] };
}

/**
 * The real Gemini CLI (0.61.0, `gemini -p`) pointed at the gateway with a subrelay key as its Gemini API key:
 * what it prints and what the upstream receives (the client's bodies unchanged, the account's key instead of
 * the client's, never a `key` query).
 */
describe("Gemini CLI through the gateway", () => {
  let harness: TestGateway;
  let proxy: RecordingProxy;
  let apiKeys: Seeded;
  let codeAssist: Seeded;
  const home = scratchDir("gemini-home");
  const cwd = scratchDir("gemini-cwd");

  beforeAll(async () => {
    harness = await startTestGateway();
    harness.upstream
      .on("POST", /^\/v1beta\/models\/[^/]+:(streamGenerateContent|generateContent|countTokens)$/, geminiScript)
      .on("POST", paths.codeAssistStream, codeAssistReply)
      .on("POST", paths.codeAssistGenerate, codeAssistReply);
    apiKeys = await harness.seed({ platform: "gemini", accounts: [{ type: "apikey", credentials: { apiKey: "AIza-upstream-gemini" } }] });
    codeAssist = await harness.seed({
      platform: "gemini",
      accounts: [
        {
          type: "oauth",
          credentials: { accessToken: "code-assist-access", refreshToken: "code-assist-refresh", expiresAt: Date.now() + hour, projectId: "project-42" },
        },
      ],
    });
    proxy = await startRecordingProxy(harness.url);
    mkdirSync(join(home.path, ".gemini"));
    const settings = readmeSettings();
    expect(settings).toMatchObject({ security: { auth: { selectedType: "gemini-api-key" } }, model: { name: "gemini-2.5-flash" } });
    writeFileSync(join(home.path, ".gemini", "settings.json"), JSON.stringify(settings, null, 2));
    writeFileSync(join(cwd.path, "notes.txt"), notes);
    writeFileSync(join(cwd.path, "image.png"), png);
  });
  afterAll(async () => {
    await proxy?.close();
    await harness?.close();
    home.remove();
    cwd.remove();
  });

  /** Runs `gemini -p <prompt>` with `key` and returns its run plus what it sent and what reached the upstream. */
  const gemini = async (prompt: string, key: string) => {
    const sentBefore = proxy.exchanges.length;
    const upstreamBefore = harness.upstream.requests.length;
    // --skip-trust: the throwaway working directory is trusted for this run (headless runs refuse an untrusted one).
    const run = await runClient("gemini", ["--skip-trust", "--prompt", prompt], {
      home: home.path,
      cwd: cwd.path,
      env: { GEMINI_API_KEY: key, GOOGLE_GEMINI_BASE_URL: proxy.url },
      killAfterMs: runLimitMs,
    });
    return { run, sent: proxy.exchanges.slice(sentBefore), received: harness.upstream.requests.slice(upstreamBefore) };
  };

  const expectSuccess = (run: ClientRun) => expect(run, `gemini failed:\n${run.stderr}`).toMatchObject({ code: 0, signal: null });

  /** Every request reached the upstream with the account's key, none with the client's key or a `key` query. */
  const expectAccountKeyOnly = (received: RecordedRequest[], clientKey: string) => {
    expect(received.length).toBeGreaterThan(0);
    for (const request of received) {
      expect(request.headers["x-goog-api-key"]).toBe("AIza-upstream-gemini");
      expect(JSON.stringify(request.headers)).not.toContain(clientKey);
      expect(request.url).not.toContain(clientKey);
      expect(request.query.has("key")).toBe(false);
    }
  };

  it("prints the upstream's streamed text for `gemini -p`; the request reaches the upstream unchanged", async () => {
    const { run, sent, received } = await gemini("Say hello", apiKeys.key);
    expectSuccess(run);
    expect(run.stdout.trim()).toBe("Hello from the fake upstream.");

    expect(sent.map((exchange) => `${exchange.method} ${exchange.url} ${exchange.status}`)).toEqual([
      "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse 200",
    ]);
    expect(sent[0]!.headers["x-goog-api-key"]).toBe(apiKeys.key);
    expect(received.map((request) => request.url)).toEqual(["/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"]);
    expect(received[0]!.json()).toEqual(JSON.parse(sent[0]!.body));
    expect(promptOf(received[0]!.json<GenerateBody>())).toBe("Say hello");
    expect(received[0]!.json()).toMatchObject({ systemInstruction: expect.anything(), tools: expect.anything(), generationConfig: expect.anything() });
    expectAccountKeyOnly(received, apiKeys.key);
  }, testTimeoutMs);

  it("runs the read_file call the upstream asks for and sends its functionResponse in a second streamed request", async () => {
    const { run, sent, received } = await gemini("Read notes.txt and tell me what it says", apiKeys.key);
    expectSuccess(run);
    expect(run.stdout.trim()).toBe("The notes say hi.");

    const streams = received.filter((request) => request.path.endsWith(":streamGenerateContent"));
    expect(streams).toHaveLength(2);
    expect(sent.filter((exchange) => exchange.url.includes(":streamGenerateContent")).map((exchange) => exchange.status)).toEqual([200, 200]);
    const second = streams[1]!.json<GenerateBody>();
    expect(second).toEqual(JSON.parse(sent.filter((exchange) => exchange.url.includes(":streamGenerateContent"))[1]!.body));
    const [call, result] = second.contents.slice(-2);
    expect(call).toMatchObject({ role: "model", parts: [{ functionCall: { name: "read_file", args: { file_path: "notes.txt" } } }] });
    expect(result).toEqual({
      role: "user",
      parts: [{ functionResponse: { id: call!.parts[0]!.functionCall!.id, name: "read_file", response: { output: notes } } }],
    });
    expectAccountKeyOnly(received, apiKeys.key);
  }, testTimeoutMs);

  it("sends an @image.png as an inlineData part with its bytes unchanged; its countTokens is answered by the gateway", async () => {
    const { run, sent, received } = await gemini("Describe @image.png", apiKeys.key);
    expectSuccess(run);
    expect(run.stdout.trim()).toBe("A single pixel.");

    const image = { inlineData: { mimeType: "image/png", data: png.toString("base64") } };
    const streams = received.filter((request) => request.path.endsWith(":streamGenerateContent"));
    expect(streams).toHaveLength(1);
    expect(streams[0]!.json<GenerateBody>().contents.at(-1)?.parts).toContainEqual(image);
    expect(streams[0]!.json()).toEqual(JSON.parse(sent.find((exchange) => exchange.url.includes(":streamGenerateContent"))!.body));

    // With media in the prompt Gemini CLI asks the API to count tokens instead of estimating them.
    const counted = sent.filter((exchange) => exchange.url.endsWith(":countTokens"));
    expect(counted.map((exchange) => `${exchange.url} ${exchange.status}`)).toEqual(["/v1beta/models/gemini-2.5-flash:countTokens 200"]);
    const countReceived = received.filter((request) => request.path.endsWith(":countTokens"));
    expect(countReceived).toHaveLength(1);
    expect(countReceived[0]!.json()).toEqual(JSON.parse(counted[0]!.body));
    expect(countReceived[0]!.json<GenerateBody>().contents.at(-1)?.parts).toContainEqual(image);
    expectAccountKeyOnly(received, apiKeys.key);
  }, testTimeoutMs);

  it("answers `gemini -p` from a Code Assist (OAuth) account, the request wrapped for v1internal", async () => {
    const { run, sent, received } = await gemini("Say hello", codeAssist.key);
    expectSuccess(run);
    // code-assist-stream.sse, unwrapped by the gateway.
    expect(run.stdout.trim()).toBe("Thinking about ünïcode… The answer is 42.");

    expect(sent.map((exchange) => `${exchange.method} ${exchange.url} ${exchange.status}`)).toEqual([
      "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse 200",
    ]);
    expect(received.map((request) => request.url)).toEqual([`${paths.codeAssistStream}?alt=sse`]);
    expect(received[0]!.json()).toEqual({ model: "gemini-2.5-flash", project: "project-42", request: JSON.parse(sent[0]!.body) });
    expect(received[0]!.headers.authorization).toBe("Bearer code-assist-access");
    expect(JSON.stringify(received[0]!.headers)).not.toContain(codeAssist.key);
  }, testTimeoutMs);
});
