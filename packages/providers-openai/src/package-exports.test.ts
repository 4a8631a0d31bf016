import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Runs after `turbo run build` (the test task depends on it) and checks what npm users get. Vitest runs
// with `--conditions @subrelay/source`, under which a require() of dist/index.cjs would load the workspace
// dependencies' TypeScript sources; a plain child `node` resolves them as a consumer's would, to their dist.
const packageDir = join(import.meta.dirname, "..");
const dist = join(packageDir, "dist");

function exportsOf(script: string): Record<string, string> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: packageDir,
    env,
    encoding: "utf8",
  });
  return JSON.parse(output) as Record<string, string>;
}

const describeExports = "Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v]))";

describe("published package", () => {
  it("exposes the public API from the CommonJS build", () => {
    const types = exportsOf(
      `import { createRequire } from "node:module"; const m = createRequire(import.meta.url)("./dist/index.cjs"); ` +
        `console.log(JSON.stringify(${describeExports}));`,
    );
    expect(types).toMatchObject({ createOpenAIProvider: "function", OpenAITokenRefresher: "function" });
  });

  it("exposes the public API from the ESM build", () => {
    const types = exportsOf(
      `const m = await import("./dist/index.js"); console.log(JSON.stringify(${describeExports}));`,
    );
    expect(types).toMatchObject({ createOpenAIProvider: "function", OpenAITokenRefresher: "function" });
  });

  it("ships type declarations for both builds", () => {
    expect(existsSync(join(dist, "index.d.ts"))).toBe(true);
    expect(existsSync(join(dist, "index.d.cts"))).toBe(true);
  });
});
