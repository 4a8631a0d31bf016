import type { Operation } from "@subrelay/providers-core";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config";
import { createProviders } from "./create-providers";

describe("createProviders", () => {
  it("keys the three adapters by platform", () => {
    const registry = createProviders(loadConfig({}));
    expect(registry.all().map((provider) => provider.platform).sort()).toEqual(["claude", "gemini", "openai"]);
    for (const platform of ["claude", "openai", "gemini"] as const) {
      expect(registry.get(platform)?.platform).toBe(platform);
    }
  });

  it("points each adapter at its configured base URL", () => {
    const config = loadConfig({
      SUBRELAY_CLAUDE_BASE_URL: "http://127.0.0.1:1001",
      SUBRELAY_OPENAI_BASE_URL: "http://127.0.0.1:1002",
      SUBRELAY_GEMINI_BASE_URL: "http://127.0.0.1:1003",
    });
    const registry = createProviders(config);
    const request = (platform: "claude" | "openai" | "gemini", operation: Operation) =>
      registry.get(platform)!.buildRequest({
        account: { id: "acc", platform, type: "apikey", credentials: { apiKey: "k" } },
        request: { operation, model: "m", stream: false, body: {}, headers: {} },
      });
    expect(request("claude", "messages").url).toMatch(/^http:\/\/127\.0\.0\.1:1001\//);
    expect(request("openai", "chat_completions").url).toMatch(/^http:\/\/127\.0\.0\.1:1002\//);
    expect(request("gemini", "generate_content").url).toMatch(/^http:\/\/127\.0\.0\.1:1003\//);
  });
});
