import { join } from "node:path";
import { describeProviderContract } from "@subrelay/providers-core/testing";
import { describe, it } from "vitest";
import { createOpenAIProvider } from "./openai-provider";

const chat = { model: "gpt-5", messages: [{ role: "user", content: "Hi" }] };

/** What Codex CLI 0.171 sends: its session and thread ids, its own originator and its per-turn `x-codex-*` headers. */
const codex = {
  headers: {
    "session-id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    "thread-id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    originator: "codex_exec",
    "x-codex-window-id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:0",
    "x-codex-beta-features": "remote_compaction_v2",
    "x-codex-turn-metadata": '{"session_id":"0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","turn_id":"0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","request_kind":"turn"}',
  },
};

describeProviderContract("openai", {
  test: { describe, it },
  createProvider: ({ baseUrl }) => createOpenAIProvider({ baseUrl, codexBaseUrl: baseUrl, tokenUrl: `${baseUrl}/oauth/token` }),
  cases: [
    { name: "API key, chat completions", account: { id: "1", platform: "openai", type: "apikey", credentials: { apiKey: "sk-proj-account-key" } }, request: { operation: "chat_completions", model: "gpt-5", stream: true, body: chat } },
    { name: "Codex OAuth, responses", account: { id: "2", platform: "openai", type: "oauth", credentials: { accessToken: "stale", accountId: "acct-chatgpt" } }, accessToken: "codex-account-token", request: { operation: "responses", model: "gpt-5", stream: true, body: { model: "gpt-5", input: "Hi" } }, forwards: codex },
    { name: "Codex OAuth, older Codex session headers", account: { id: "3", platform: "openai", type: "oauth", credentials: { accessToken: "stale", accountId: "acct-chatgpt" } }, accessToken: "codex-account-token", request: { operation: "responses", model: "gpt-5", stream: true, body: { model: "gpt-5", input: "Hi" } }, forwards: { headers: { session_id: "0199a1b2-old", conversation_id: "0199a1b2-old" } } },
  ],
  returnsHeaders: {
    "x-request-id": "req_5f2c0a1b3d",
    "openai-processing-ms": "412",
    "x-ratelimit-remaining-requests": "4999",
    "x-codex-primary-used-percent": "12",
    "x-codex-secondary-reset-after-seconds": "86000",
  },
  errorFixtures: { dir: join(import.meta.dirname, "__fixtures__", "errors"), include: () => true },
});
