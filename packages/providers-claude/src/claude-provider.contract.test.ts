import { join } from "node:path";
import { describeProviderContract } from "@subrelay/providers-core/testing";
import { describe, it } from "vitest";
import { createClaudeProvider } from "./claude-provider";

const body = { model: "claude-sonnet-4-5", max_tokens: 16, messages: [{ role: "user", content: "Hi" }] };

describeProviderContract("claude", {
  test: { describe, it },
  createProvider: ({ baseUrl }) => createClaudeProvider({ baseUrl, tokenUrl: `${baseUrl}/v1/oauth/token` }),
  cases: [
    { name: "API key, messages", account: { id: "1", platform: "claude", type: "apikey", credentials: { apiKey: "sk-ant-account-key" } }, request: { operation: "messages", model: "claude-sonnet-4-5", stream: true, body } },
    { name: "OAuth, count_tokens", account: { id: "2", platform: "claude", type: "oauth", credentials: { accessToken: "stale" } }, accessToken: "sk-ant-oat-account-token", request: { operation: "count_tokens", model: "claude-sonnet-4-5", stream: false, body } },
  ],
  errorFixtures: { dir: join(import.meta.dirname, "__fixtures__") },
});
