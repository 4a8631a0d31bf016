import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// Checks the BUILT package (turbo runs `build` before `test`) as npm users get it. A child node process,
// because vitest's workers resolve workspace packages to TypeScript source (the @subrelay/source condition).
const packageDirectory = join(import.meta.dirname, "..");
const dist = join(packageDirectory, "dist");

/** Export names (with their typeof) of a dist file, loaded by plain node with `require` or `import`. */
function exportsOf(file: string, loader: "require" | "import"): Record<string, string> {
  const load = loader === "require" ? `Promise.resolve(require(${JSON.stringify(file)}))` : `import(${JSON.stringify(file)})`;
  const script = `${load}.then((m) => console.log(JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v])))))`;
  const output = execFileSync(process.execPath, ["-e", script], {
    cwd: packageDirectory,
    env: { ...process.env, NODE_OPTIONS: "" },
    encoding: "utf8",
  });
  return JSON.parse(output) as Record<string, string>;
}

const mainExports = [
  "ProviderError",
  "createSseParser",
  "formatSseEvent",
  "createSseUsageTracker",
  "parseSseJson",
  "requestToken",
  "credentialsFromTokenResponse",
  "forwardableHeaders",
  "mergeCommaList",
  "parseRetryAfter",
  "isBlockedHeader",
  "headerValue",
  "emptyUsage",
];

describe("built package", () => {
  it("exposes the main exports from CommonJS and ESM", () => {
    for (const loader of ["require", "import"] as const) {
      const names = exportsOf(loader === "require" ? "./dist/index.cjs" : "./dist/index.js", loader);
      for (const name of mainExports) expect(names[name], `${loader} ${name}`).toBe("function");
      expect(names).not.toHaveProperty("FakeUpstream");
    }
  });

  it("exposes the testing kit from its own entry, kept out of the main bundle", () => {
    for (const loader of ["require", "import"] as const) {
      const names = exportsOf(loader === "require" ? "./dist/testing.cjs" : "./dist/testing.js", loader);
      expect(names.FakeUpstream).toBe("function");
      expect(names.readFixture).toBe("function");
      expect(names.sseEvents).toBe("function");
    }
    for (const file of ["index.js", "index.cjs"]) {
      expect(readFileSync(join(dist, file), "utf8"), file).not.toMatch(/["'](?:node:)?http["']/);
    }
  });

  it("ships type declarations for both formats", () => {
    for (const file of ["index.d.ts", "index.d.cts", "testing.d.ts", "testing.d.cts"]) {
      expect(existsSync(join(dist, file)), file).toBe(true);
    }
  });
});
