import { describe, expect, it } from "vitest";
import type { Operation, Provider } from "./provider";
import { createProviderRegistry } from "./provider-registry";

function fakeProvider(platform: string, operations: readonly Operation[]): Provider {
  return {
    platform,
    supports: (operation) => operations.includes(operation),
  } as Partial<Provider> as Provider;
}

describe("createProviderRegistry", () => {
  const claude = fakeProvider("claude", ["messages", "count_tokens"]);
  const openai = fakeProvider("openai", ["chat_completions", "responses"]);
  const registry = createProviderRegistry([claude, openai]);

  it("finds providers by platform, in registration order", () => {
    expect(registry.get("claude")).toBe(claude);
    expect(registry.get("gemini")).toBeUndefined();
    expect(registry.all()).toEqual([claude, openai]);
  });

  it("answers supports() by the account's platform, false for an unserved one", () => {
    expect(registry.supports("claude", "messages", "apikey")).toBe(true);
    expect(registry.supports("openai", "messages", "apikey")).toBe(false);
    expect(registry.supports("gemini", "generate_content", "apikey")).toBe(false);
  });

  it("refuses two providers of one platform", () => {
    expect(() => createProviderRegistry([claude, fakeProvider("claude", [])])).toThrow(/Two providers/);
  });
});
