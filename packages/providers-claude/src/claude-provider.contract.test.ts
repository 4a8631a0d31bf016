import { join } from "node:path";
import { describeProviderContract } from "@subrelay/providers-core/testing";
import { describe, it } from "vitest";
import { createClaudeProvider } from "./claude-provider";

const body = { model: "claude-sonnet-4-5", max_tokens: 16, messages: [{ role: "user", content: "Hi" }] };

/** What Claude Code sends: its session header and `?beta=true`. */
const claudeCode = {
  headers: { "x-claude-code-session-id": "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f" },
  query: { beta: "true" },
};

describeProviderContract("claude", {
  test: { describe, it },
  createProvider: ({ baseUrl }) => createClaudeProvider({ baseUrl, tokenUrl: `${baseUrl}/v1/oauth/token` }),
  cases: [
    { name: "API key, messages", account: { id: "1", platform: "claude", type: "apikey", credentials: { apiKey: "sk-ant-account-key" } }, request: { operation: "messages", model: "claude-sonnet-4-5", stream: true, body }, forwards: claudeCode },
    { name: "OAuth, count_tokens", account: { id: "2", platform: "claude", type: "oauth", credentials: { accessToken: "stale" } }, accessToken: "sk-ant-oat-account-token", request: { operation: "count_tokens", model: "claude-sonnet-4-5", stream: false, body }, forwards: claudeCode },
  ],
  returnsHeaders: {
    "request-id": "req_011CV1example",
    "anthropic-ratelimit-unified-status": "allowed",
    "anthropic-ratelimit-unified-5h-utilization": "0.12",
    "anthropic-ratelimit-unified-reset": "1750003600",
  },
  errorFixtures: { dir: join(import.meta.dirname, "__fixtures__") },
});
