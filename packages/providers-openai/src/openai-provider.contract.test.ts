import { join } from "node:path";
import { describeProviderContract } from "@subrelay/providers-core/testing";
import { describe, it } from "vitest";
import { createOpenAIProvider } from "./openai-provider";

const chat = { model: "gpt-5", messages: [{ role: "user", content: "Hi" }] };

describeProviderContract("openai", {
  test: { describe, it },
  createProvider: ({ baseUrl }) => createOpenAIProvider({ baseUrl, codexBaseUrl: baseUrl, tokenUrl: `${baseUrl}/oauth/token` }),
  cases: [
    { name: "API key, chat completions", account: { id: "1", platform: "openai", type: "apikey", credentials: { apiKey: "sk-proj-account-key" } }, request: { operation: "chat_completions", model: "gpt-5", stream: true, body: chat } },
    { name: "Codex OAuth, responses", account: { id: "2", platform: "openai", type: "oauth", credentials: { accessToken: "stale", accountId: "acct-chatgpt" } }, accessToken: "codex-account-token", request: { operation: "responses", model: "gpt-5", stream: true, body: { model: "gpt-5", input: "Hi" } } },
  ],
  errorFixtures: { dir: join(import.meta.dirname, "__fixtures__", "errors"), include: () => true },
});
