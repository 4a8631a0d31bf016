import { describe, expect, it } from "vitest";
import { modelFamily, scopeCovers } from "./rate-limit-scope";

describe("modelFamily", () => {
  it.each([
    ["claude-opus-4-5", "opus"],
    ["claude-opus-4-1-20250805", "opus"],
    ["claude-sonnet-4-5-20250929", "sonnet"],
    ["claude-haiku-4-5", "haiku"],
    ["claude-3-opus-20240229", "opus"],
    ["claude-3-5-sonnet-latest", "sonnet"],
    ["claude-3-5-haiku-20241022", "haiku"],
    ["claude-3-7-sonnet-20250219", "sonnet"],
    ["anthropic/claude-opus-4", "opus"],
    ["us.anthropic.claude-sonnet-4-20250514-v1:0", "sonnet"],
    ["Claude-Opus-4", "opus"],
  ])("%s is %s", (model, family) => {
    expect(modelFamily(model)).toBe(family);
  });

  it.each(["gpt-5-codex", "gemini-2.5-pro", "claude-instant-1.2", "", "magnum-opus-7b"])("%s has none", (model) => {
    expect(modelFamily(model)).toBeUndefined();
  });
});

describe("scopeCovers", () => {
  it("an account-wide limit covers every request, a retrieval naming no model included", () => {
    expect(scopeCovers("account", "claude-sonnet-4-5")).toBe(true);
    expect(scopeCovers("account", "")).toBe(true);
  });

  it("a family limit covers that family's models only", () => {
    expect(scopeCovers("family:opus", "claude-opus-4-5")).toBe(true);
    expect(scopeCovers("family:opus", "claude-3-opus-20240229")).toBe(true);
    expect(scopeCovers("family:opus", "claude-sonnet-4-5")).toBe(false);
    expect(scopeCovers("family:sonnet", "claude-sonnet-4-5")).toBe(true);
    expect(scopeCovers("family:opus", "")).toBe(false);
  });

  it("a model limit covers that model, with or without the models/ prefix", () => {
    expect(scopeCovers("model:gemini-2.5-pro", "gemini-2.5-pro")).toBe(true);
    expect(scopeCovers("model:gemini-2.5-pro", "models/gemini-2.5-pro")).toBe(true);
    expect(scopeCovers("model:gemini-2.5-pro", "gemini-2.5-flash")).toBe(false);
    expect(scopeCovers("model:gemini-2.5-pro", "")).toBe(false);
  });

  it("an unknown scope counts as account-wide", () => {
    expect(scopeCovers("org:whatever", "claude-sonnet-4-5")).toBe(true);
  });
});
