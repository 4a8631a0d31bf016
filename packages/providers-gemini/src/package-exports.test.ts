import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Checks the build (turbo builds before test) as npm users load it. Inside vitest, Node runs with
// `--conditions @subrelay/source`, so an in-process require of dist/index.cjs would pull the workspace
// dependencies' TypeScript sources; a plain child `node` resolves them to their dist like a consumer does.
const packageDir = join(import.meta.dirname, "..");
const dist = join(packageDir, "dist");

/** Runs `load` (ESM, binding the module to `m`) and a smoke script in a plain node and returns what it printed as JSON. */
function probe(load: string): Record<string, unknown> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const script =
    `${load}\n` +
    "const provider = m.createGeminiProvider();\n" +
    "const refresher = new m.GeminiTokenRefresher();\n" +
    "const credentials = { accessToken: 'a', projectId: 'p' };\n" +
    "const prepared = await provider.prepareCredentials({ accountId: '3', credentials, accessToken: async () => 'a' });\n" +
    "console.log(JSON.stringify({\n" +
    "  createGeminiProvider: typeof m.createGeminiProvider,\n" +
    "  GeminiTokenRefresher: typeof m.GeminiTokenRefresher,\n" +
    "  setupCodeAssistProject: typeof m.setupCodeAssistProject,\n" +
    "  preparedUnchanged: prepared === credentials,\n" +
    "  platform: provider.platform,\n" +
    "  cacheKey: refresher.cacheKey({ id: '3', platform: 'gemini', credentials: { accessToken: 'a' } }),\n" +
    "  url: provider.buildRequest({ account: { id: '1', platform: 'gemini', type: 'apikey', credentials: { apiKey: 'k' } },\n" +
    "    request: { operation: 'stream_generate_content', model: 'models/gemini-2.5-pro', stream: true, body: {}, headers: {} } }).url,\n" +
    "}));";
  const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: packageDir,
    env,
    encoding: "utf8",
  });
  return JSON.parse(output) as Record<string, unknown>;
}

const expected = {
  createGeminiProvider: "function",
  GeminiTokenRefresher: "function",
  setupCodeAssistProject: "function",
  preparedUnchanged: true,
  platform: "gemini",
  cacheKey: "gemini:account:3",
  url: "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
};

describe("built package", () => {
  it("works from require (dist/index.cjs)", () => {
    expect(probe(`import { createRequire } from "node:module"; const m = createRequire(import.meta.url)("./dist/index.cjs");`)).toEqual(
      expected,
    );
  });

  it("works from import (dist/index.js)", () => {
    expect(probe(`const m = await import("./dist/index.js");`)).toEqual(expected);
  });

  it("ships type declarations for both", () => {
    expect(existsSync(join(dist, "index.d.ts"))).toBe(true);
    expect(existsSync(join(dist, "index.d.cts"))).toBe(true);
  });
});
