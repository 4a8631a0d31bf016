import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
const names = ["TokenManager", "MemoryTokenStore", "RedisTokenStore", "TokenRefreshError", "TokenStoreError"];

/**
 * Loads the build in a fresh Node process, as a consumer would: the vitest worker runs with the
 * `@subrelay/source` condition, under which `@subrelay/singleflight` would resolve to TypeScript source.
 */
function exportedNames(script: string): string[] {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], { env, encoding: "utf8" });
  return JSON.parse(output) as string[];
}

describe("built package (dist)", () => {
  it("exposes the public API to require()", () => {
    const exported = exportedNames(
      `import { createRequire } from "node:module";
       const exports = createRequire(${JSON.stringify(import.meta.url)})("../dist/index.cjs");
       console.log(JSON.stringify(Object.keys(exports).filter((name) => typeof exports[name] === "function")));`,
    );
    expect(exported).toEqual(expect.arrayContaining(names));
  });

  it("exposes the public API to import()", () => {
    const exported = exportedNames(
      `const exports = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
       console.log(JSON.stringify(Object.keys(exports).filter((name) => typeof exports[name] === "function")));`,
    );
    expect(exported).toEqual(expect.arrayContaining(names));
  });

  it("ships type declarations for both module systems", () => {
    expect(existsSync(dist("index.d.ts"))).toBe(true);
    expect(existsSync(dist("index.d.cts"))).toBe(true);
  });
});
