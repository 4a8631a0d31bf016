import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backends,
  claudeReply,
  geminiReply,
  openaiChatReply,
  openaiResponsesReply,
  paths,
  startTestGateway,
  type Seeded,
  type TestGateway,
} from "./harness";

/** Each platform's upstream secret, and the upstream paths that platform's API has. */
const secrets = { claude: "sk-ant-mixed-claude", openai: "sk-openai-mixed-openai", gemini: "AIza-mixed-gemini" } as const;
type Platform = keyof typeof secrets;

function platformOfPath(path: string): Platform | undefined {
  if (path.startsWith("/v1/messages")) return "claude";
  if (path === "/v1/chat/completions" || path === "/v1/responses") return "openai";
  if (path.startsWith("/v1beta/")) return "gemini";
  return undefined;
}

/** Every secret of every platform found anywhere in a recorded request (headers, URL, body). */
function secretsIn(request: RecordedRequest): Platform[] {
  const text = `${JSON.stringify(request.headers)} ${request.url} ${request.body}`;
  return (Object.keys(secrets) as Platform[]).filter((platform) => text.includes(secrets[platform]));
}

/**
 * A mixed group of one Claude, one OpenAI and one Gemini API-key account behind one key: every endpoint
 * of every dialect goes to the account of the platform that speaks it, and no credential reaches another.
 */
describe.each(backends)("a mixed group (%s)", (backend) => {
  let harness: TestGateway;
  let mixed: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    harness.upstream
      .on("POST", paths.claudeMessages, claudeReply)
      .on("POST", "/v1/messages/count_tokens", { json: { input_tokens: 42 } })
      .on("POST", paths.openaiChat, openaiChatReply)
      .on("POST", paths.openaiResponses, openaiResponsesReply)
      .on("POST", paths.geminiGenerate, geminiReply)
      .on("POST", paths.geminiStream, geminiReply);
    mixed = await harness.seed({
      platform: "claude",
      mode: "mixed",
      accounts: [
        { platform: "claude", type: "apikey", credentials: { apiKey: secrets.claude } },
        { platform: "openai", type: "apikey", credentials: { apiKey: secrets.openai } },
        { platform: "gemini", type: "apikey", credentials: { apiKey: secrets.gemini } },
      ],
    });
  });
  afterAll(async () => harness?.close());

  it("serves every endpoint of every dialect through the account of the platform that speaks it", async () => {
    const anthropic = new Anthropic({ apiKey: mixed.key, baseURL: harness.url, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "claude-opus-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    expect(message.type).toBe("message");
    const streamed = await anthropic.messages
      .stream({ model: "claude-opus-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] })
      .finalMessage();
    expect(streamed.type).toBe("message");
    const counted = await anthropic.messages.countTokens({ model: "claude-opus-4-5", messages: [{ role: "user", content: "hi" }] });
    expect(counted.input_tokens).toBe(42);
    const anthropicModels: string[] = [];
    for await (const model of anthropic.models.list()) anthropicModels.push(model.id);
    expect(anthropicModels.length).toBeGreaterThan(0);
    expect(anthropicModels.every((id) => id.startsWith("claude"))).toBe(true);

    const openai = new OpenAI({ apiKey: mixed.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    expect(chat.object).toBe("chat.completion");
    let chunks = 0;
    for await (const chunk of await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: true })) {
      expect(chunk.object).toBe("chat.completion.chunk");
      chunks += 1;
    }
    expect(chunks).toBeGreaterThan(0);
    const response = await openai.responses.create({ model: "gpt-4.1", input: "Hello" });
    expect(response.object).toBe("response");
    const openaiModels: string[] = [];
    for await (const model of openai.models.list()) openaiModels.push(model.id);
    expect(openaiModels.length).toBeGreaterThan(0);
    expect(openaiModels.some((id) => id.startsWith("claude") || id.startsWith("gemini"))).toBe(false);

    const google = new GoogleGenAI({ apiKey: mixed.key, httpOptions: { baseUrl: harness.url } });
    const generated = await google.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    expect(generated.text?.length).toBeGreaterThan(0);
    let text = "";
    for await (const chunk of await google.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) text += chunk.text ?? "";
    expect(text.length).toBeGreaterThan(0);
    const geminiModels: string[] = [];
    for await (const model of await google.models.list()) geminiModels.push(model.name ?? "");
    expect(geminiModels.length).toBeGreaterThan(0);
    expect(geminiModels.every((name) => name.startsWith("models/gemini"))).toBe(true);

    // Every upstream request went to a path of one platform and carried that platform's secret only.
    const recorded = harness.upstream.requests;
    const byPlatform = { claude: 0, openai: 0, gemini: 0 };
    for (const request of recorded) {
      const platform = platformOfPath(request.path);
      expect(platform, `unexpected upstream path ${request.path}`).toBeDefined();
      expect(secretsIn(request), `${request.method} ${request.path}`).toEqual([platform]);
      byPlatform[platform!] += 1;
    }
    expect(byPlatform).toEqual({ claude: 3, openai: 3, gemini: 2 });
    expect(harness.upstream.requestsTo(paths.claudeMessages)[0]!.headers["x-api-key"]).toBe(secrets.claude);
    expect(harness.upstream.requestsTo(paths.openaiChat)[0]!.headers.authorization).toBe(`Bearer ${secrets.openai}`);
    expect(harness.upstream.requestsTo(paths.geminiGenerate)[0]!.headers["x-goog-api-key"]).toBe(secrets.gemini);

    // No account was refused (a credential at the wrong vendor would have been, and marked `error`).
    const accounts = await harness.admin<{ data: Array<{ id: string; status: string }> }>("GET", "/admin/accounts");
    const ours = accounts.body.data.filter((account) => mixed.accountIds.includes(account.id));
    expect(ours.map((account) => account.status)).toEqual(["active", "active", "active"]);
    for (const id of mixed.accountIds) expect((await harness.usageOf(id))?.errors ?? 0).toBe(0);
  });
});
