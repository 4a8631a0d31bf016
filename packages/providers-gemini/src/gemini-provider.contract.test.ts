import { join } from "node:path";
import { describeProviderContract } from "@subrelay/providers-core/testing";
import { describe, it } from "vitest";
import { createGeminiProvider } from "./gemini-provider";

const body = { contents: [{ role: "user", parts: [{ text: "Hi" }] }] };
const oauthAccount = { id: "2", platform: "gemini", type: "oauth" as const, credentials: { accessToken: "stale", projectId: "spry-tide-q4k9m" } };

describeProviderContract("gemini", {
  test: { describe, it },
  createProvider: ({ baseUrl }) => createGeminiProvider({ baseUrl, codeAssistBaseUrl: baseUrl, tokenUrl: `${baseUrl}/token` }),
  cases: [
    { name: "API key, streamGenerateContent", account: { id: "1", platform: "gemini", type: "apikey", credentials: { apiKey: "AIza-account-key" } }, request: { operation: "stream_generate_content", model: "gemini-2.5-pro", stream: true, body } },
    { name: "Code Assist OAuth, generateContent", account: oauthAccount, accessToken: "ya29-account-token", request: { operation: "generate_content", model: "gemini-2.5-pro", stream: false, body } },
  ],
  returnsHeaders: { "x-request-id": "6b1f0c", "server-timing": "gfet4t7; dur=412" },
  misconfigured: [
    { account: { ...oauthAccount, credentials: { accessToken: "stale" } }, accessToken: "ya29-account-token", request: { operation: "generate_content", model: "gemini-2.5-pro", stream: false, body, headers: {} } },
  ],
  errorFixtures: { dir: join(import.meta.dirname, "__fixtures__") },
});
